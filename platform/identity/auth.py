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
        header = req.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return user_for_token(token.strip())

    @login_manager.unauthorized_handler
    def _unauthorized():  # type: ignore[no-untyped-def]
        if request.path.startswith("/api/"):
            raise Unauthorized("Sign in, or send an API token as 'Authorization: Bearer …'.")
        return redirect(url_for("web.login", next=request.full_path))


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
