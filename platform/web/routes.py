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
from urllib.parse import unquote, urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf.csrf import CSRFError

from timebank.platform.api.errors import Unauthorized
from timebank.platform.identity import services as identity
from timebank.platform.ratelimit import limit_sign_in
from timebank.platform.web.errors import render_error_page
from timebank.platform.web.forms import Form, show_duration
from timebank.tenants.memberships.services import memberships_of
from timebank.tenants.referrals.services import schemes_referred_to

bp = Blueprint("web", __name__)


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
        g.my_schemes = memberships_of(current_user) if current_user.is_authenticated else []
    return g.my_schemes  # type: ignore[no-any-return]


def safe_next(target: str | None, default: str | None = None) -> str:
    """A local path to go on to after a form (never another site); else ``default``."""
    if target and is_local_path(target):
        return target
    return default or url_for("web.home")


def is_local_path(target: str) -> bool:
    """Whether ``target`` is a path on this site that every browser reads as one.

    Only printable ASCII without spaces: browsers drop tabs and newlines from
    URLs (``/<TAB>/evil`` becomes ``//evil``), read a backslash as a slash, and
    a CR or LF cannot go into a header. One more round of percent-decoding must
    not make it another site either (``/%2F/evil``, ``/%5Cevil``), whatever a
    proxy on the way does.
    """
    if len(target) > 2000 or not all("!" <= char <= "~" for char in target):
        return False
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return False
    decoded_path = unquote(parts.path)
    return all(
        candidate.startswith("/") and not candidate.startswith("//") and "\\" not in candidate
        for candidate in (target, decoded_path)
    ) and all("!" <= char <= "~" for char in decoded_path)


@bp.route("/favicon.ico")
def favicon() -> Any:
    """Browsers ask for it on every site; the same small icon base.html links to."""
    assert current_app.static_folder is not None
    return send_from_directory(
        current_app.static_folder,
        "favicon.ico",
        mimetype="image/vnd.microsoft.icon",
        max_age=7 * 24 * 3600,
    )


@bp.route("/")
def home() -> Any:
    if not current_user.is_authenticated:
        return render_template("welcome.html")
    memberships = my_schemes()
    referring = schemes_referred_to(current_user.id)
    if not memberships and not referring and current_user.is_operator:
        # An operator who belongs to no scheme has one place to be: the console.
        return redirect(url_for("operator.console"))
    return render_template("home.html", memberships=memberships, referring=referring)


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
    # The cookie is signed, not stored: ending the session server-side (a new
    # session version) is what makes a copy of it worthless.
    identity.end_web_sessions(current_user._get_current_object())
    logout_user()
    flash("You have logged out.")
    return redirect(url_for("web.login"))
