"""Identity API: sign-up, tokens, passwords, the caller's own profile and memberships."""

from __future__ import annotations

from typing import Any

from flask import request

from timebank.platform.api.blueprint import Blueprint
from timebank.platform.identity import password_reset, services
from timebank.platform.identity.auth import require_user
from timebank.platform.identity.schemas import (
    MeOut,
    PasswordChange,
    PasswordForgot,
    PasswordReset,
    TokenCreate,
    TokenOut,
    UserCreate,
    UserOut,
)
from timebank.platform.ratelimit import limit_password_check, limit_sign_in
from timebank.tenants.memberships.services import memberships_of
from timebank.tenants.partners.services import partners_of

blp = Blueprint(
    "identity",
    __name__,
    url_prefix="/api/v1",
    description="Users and tokens",
    public=("create_user", "create_token", "forgot_password", "reset_password"),
)


@blp.route("/users", methods=["POST"])
@blp.arguments(UserCreate)
@blp.response(201, UserOut)
def create_user(body: dict[str, Any]) -> Any:
    return services.register_user(email=body["email"], password=body["password"], name=body["name"])


@blp.route("/tokens", methods=["POST"])
@limit_sign_in
@blp.arguments(TokenCreate)
@blp.response(201, TokenOut)
def create_token(body: dict[str, Any]) -> dict[str, Any]:
    user = services.authenticate(body["email"], body["password"])
    token, expires_at = services.issue_token(user)
    return {"token": token, "expires_at": expires_at}


@blp.route("/tokens/current", methods=["DELETE"])
@blp.response(204)
def revoke_current_token() -> None:
    require_user()
    header = request.headers.get("Authorization", "")
    _, _, token = header.partition(" ")
    services.revoke_token(token.strip())


@blp.route("/tokens", methods=["DELETE"])
@blp.response(204)
def revoke_all_tokens() -> None:
    """Revoke every API token of the caller, the one of this request included."""
    user = require_user()
    services.revoke_all_tokens(user.id)


@blp.route("/password/forgot", methods=["POST"])
@blp.arguments(PasswordForgot)
@blp.response(202)
def forgot_password(body: dict[str, Any]) -> None:
    """Mail a reset link; the same answer whether or not the address has an account."""
    password_reset.request_password_reset(body["email"])


@blp.route("/password/reset", methods=["POST"])
@blp.arguments(PasswordReset)
@blp.response(204)
def reset_password(body: dict[str, Any]) -> None:
    """Set a new password with a mailed link; every token and web session of the user ends."""
    password_reset.reset_password(body["token"], body["password"])


@blp.route("/password/change", methods=["POST"])
@limit_password_check
@blp.arguments(PasswordChange)
@blp.response(204)
def change_password(body: dict[str, Any]) -> None:
    """Change the caller's password; every token and web session of the user ends."""
    user = require_user()
    services.change_password(
        user, current_password=body["current_password"], password=body["password"]
    )


@blp.route("/me")
@blp.response(200, MeOut)
def me() -> dict[str, Any]:

    user = require_user()
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "is_operator": user.is_operator,
        "memberships": memberships_of(user),
        "partners": partners_of(user),
    }
