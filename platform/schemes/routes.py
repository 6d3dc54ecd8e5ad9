"""Schemes API: self-service sign-up and reading a scheme."""

from __future__ import annotations

from typing import Any

from timebank.platform.api.blueprint import Blueprint
from timebank.platform.identity.auth import require_user
from timebank.platform.schemes import services
from timebank.platform.schemes.models import Scheme
from timebank.platform.schemes.schemas import SchemeCreate, SchemeOut
from timebank.tenants.access import scheme_access

blp = Blueprint(
    "schemes",
    __name__,
    url_prefix="/api/v1/schemes",
    description="Schemes (tenants)",
    credentials="scheme",
)


@blp.route("", methods=["POST"])
@blp.arguments(SchemeCreate)
@blp.response(201, SchemeOut)
def create_scheme(body: dict[str, Any]) -> Scheme:
    user = require_user()
    return services.create_scheme(
        name=body["name"],
        slug=body["slug"],
        template=body["template"],
        timezone=body["timezone"],
        creator=user,
    )


@blp.route("/<slug>")
@blp.response(200, SchemeOut)
def get_scheme(slug: str) -> Scheme:
    return scheme_access(slug).scheme
