"""Pages: sign-in and the home page listing every scheme the person belongs to."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from timebank.platform.api.errors import Unauthorized
from timebank.platform.identity import services as identity
from timebank.platform.ratelimit import limit_sign_in

bp = Blueprint("web", __name__)


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("web.home")


@bp.route("/")
def home() -> Any:
    if not current_user.is_authenticated:
        return render_template("welcome.html")
    from timebank.tenants.memberships.services import memberships_of

    return render_template("home.html", memberships=memberships_of(current_user))


@bp.route("/login", methods=["GET", "POST"])
@limit_sign_in
def login() -> Any:
    form = {"email": request.form.get("email", "")}
    if request.method == "POST":
        try:
            user = identity.authenticate(
                request.form.get("email", ""), request.form.get("password", "")
            )
        except Unauthorized as error:
            response = render_template("login.html", form=form, error=error.detail), 401
            return response
        login_user(user)
        flash(f"Welcome back, {user.name}.")
        return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", form=form, error=None)


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Any:
    logout_user()
    flash("You have logged out.")
    return redirect(url_for("web.login"))
