"""Identity API: sign-up, tokens, the caller's own profile and memberships."""

from __future__ import annotations

from typing import Any

from flask import request

from timebank.platform.api.blueprint import Blueprint
from timebank.platform.identity import services
from timebank.platform.identity.auth import require_user
from timebank.platform.identity.schemas import MeOut, TokenCreate, TokenOut, UserCreate, UserOut
from timebank.platform.ratelimit import limit_sign_in

blp = Blueprint(
    "identity",
    __name__,
    url_prefix="/api/v1",
    description="Users and tokens",
    public=("create_user", "create_token"),
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


@blp.route("/me")
@blp.response(200, MeOut)
def me() -> dict[str, Any]:
    from timebank.tenants.memberships.services import memberships_of

    user = require_user()
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "is_operator": user.is_operator,
        "memberships": memberships_of(user),
    }
