"""Who is calling: the web session (flask-login) or an API bearer token."""

from __future__ import annotations

from flask import Flask, Request, redirect, request, url_for
from flask_login import LoginManager, current_user

from timebank.platform.api.errors import Forbidden, Unauthorized
from timebank.platform.identity.models import User
from timebank.platform.identity.services import load_user_from_session, user_for_token

login_manager = LoginManager()


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.session_protection = app.config.get("SESSION_PROTECTION", "strong")
    login_manager.login_view = "web.login"
    login_manager.login_message = "Please log in to continue."

    @login_manager.user_loader
    def _load_user(session_id: str) -> User | None:
        return load_user_from_session(session_id)

    @login_manager.request_loader
    def _load_from_header(req: Request) -> User | None:
        token = bearer_token(req)
        return None if token is None else user_for_token(token)

    @login_manager.unauthorized_handler
    def _unauthorized():  # type: ignore[no-untyped-def]
        if request.path.startswith("/api/"):
            raise Unauthorized("Sign in, or send an API token as 'Authorization: Bearer …'.")
        return redirect(url_for("web.login", next=request.full_path))


def bearer_token(req: Request) -> str | None:
    """The API token of ``Authorization: Bearer …``, if the request sends one."""
    header = req.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def user_pending() -> bool:
    """No user loaded yet for this request, and none to come from the web session:
    a bearer token may be checked together with other look-ups (see
    ``tenants.access.scheme_access``) and the user handed over with
    ``adopt_user``."""
    from flask import g, session

    # An empty session only: flask-login reads any other (a signed-in user, or one
    # its session protection refuses) before it looks at the request.
    return "_login_user" not in g and not session


def adopt_user(user: User) -> None:
    """Make ``user`` (found by its bearer token) the request's ``current_user``,
    as flask-login's request loader would."""
    from flask import current_app
    from flask_login import user_loaded_from_request

    login_manager._update_request_context_with_user(user)
    user_loaded_from_request.send(current_app._get_current_object(), user=user)  # type: ignore[attr-defined]


def require_user() -> User:
    """The signed-in user; raises 401 when there is none."""
    if not current_user.is_authenticated:
        raise Unauthorized("Sign in, or send an API token as 'Authorization: Bearer …'.")
    return current_user._get_current_object()  # type: ignore[no-any-return]


def require_operator() -> User:
    user = require_user()
    if not user.is_operator:
        raise Forbidden("Only platform operators may do this.", code="operator_only")
    return user
