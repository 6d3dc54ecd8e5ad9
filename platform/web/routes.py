"""Pages: sign-in, the home page listing every scheme the person belongs to, and the rest.

The pages are server-rendered Jinja and call the same services as the API.
This blueprint holds the home page and signing in and out; registering it
registers the page blueprints of :mod:`timebank.platform.web.pages` too:
``account`` (sign-up, password reset, invitations), ``member`` (``/s/<slug>/…``),
``manage`` (a coordinator's ``/s/<slug>/manage/…``), ``organisation``
(starting a scheme) and ``operator`` (the operator console).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask.blueprints import BlueprintSetupState
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf.csrf import CSRFError

from timebank.platform.api.errors import Unauthorized
from timebank.platform.identity import services as identity
from timebank.platform.ratelimit import limit_sign_in
from timebank.platform.web.errors import render_error_page
from timebank.platform.web.forms import Form, show_duration

bp = Blueprint("web", __name__)


@bp.record_once
def _register_pages(state: BlueprintSetupState) -> None:
    from timebank.platform.web.pages import (
        account,
        listings,
        manage,
        member,
        operator,
        organisation,
    )

    for module in (account, member, listings, manage, organisation, operator):
        module.register(state.app)


@bp.app_context_processor
def _page_context() -> dict[str, Any]:
    return {"my_schemes": my_schemes, "access": g.get("scheme_access")}


@bp.app_template_filter("duration")
def _duration(minutes: int | None) -> str:
    return show_duration(minutes)


@bp.app_errorhandler(CSRFError)
def _csrf_error(error: CSRFError) -> Any:
    return render_error_page(
        400,
        "This form was open too long or came from somewhere else, so it was not sent. "
        "Go back, reload the page and try again.",
    )


def my_schemes() -> list[dict[str, Any]]:
    """Every scheme of the signed-in person, with balances (once per request)."""
    if "my_schemes" not in g:
        from timebank.tenants.memberships.services import memberships_of

        g.my_schemes = memberships_of(current_user) if current_user.is_authenticated else []
    return g.my_schemes  # type: ignore[no-any-return]


def safe_next(target: str | None, default: str | None = None) -> str:
    """A local path to go on to after a form (never another site)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default or url_for("web.home")


@bp.route("/")
def home() -> Any:
    if not current_user.is_authenticated:
        return render_template("welcome.html")
    return render_template("home.html", memberships=my_schemes())


@bp.route("/login", methods=["GET", "POST"])
@limit_sign_in
def login() -> Any:
    form = Form.from_request() if request.method == "POST" else Form()
    form.values.pop("password", None)
    if request.method == "POST":
        try:
            user = identity.authenticate(
                request.form.get("email", ""), request.form.get("password", "")
            )
        except Unauthorized as error:
            form.message = error.detail
            return render_template("login.html", form=form, next=request.args.get("next")), 401
        login_user(user)
        flash(f"Welcome back, {user.name}.")
        return redirect(safe_next(request.args.get("next")))
    return render_template("login.html", form=form, next=request.args.get("next"))


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Any:
    logout_user()
    flash("You have logged out.")
    return redirect(url_for("web.login"))
