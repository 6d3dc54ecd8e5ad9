"""Schemes API: self-service sign-up and reading a scheme."""

from __future__ import annotations

from typing import Any

from timebank.platform.api.blueprint import Blueprint
from timebank.platform.api.pagination import page
from timebank.platform.identity.auth import require_operator, require_user
from timebank.platform.schemes import sandboxes, services
from timebank.platform.schemes.models import Scheme
from timebank.platform.schemes.schemas import (
    GoLiveOut,
    MySchemePage,
    MySchemesQuery,
    SchemeCreate,
    SchemeOut,
)
from timebank.tenants.access import scheme_access
from timebank.tenants.memberships.services import scheme_page_of

blp = Blueprint(
    "schemes",
    __name__,
    url_prefix="/api/v1/schemes",
    description="Schemes (tenants)",
    credentials="scheme",
)


@blp.route("", methods=["GET"])
@blp.arguments(MySchemesQuery, location="query")
@blp.response(200, MySchemePage)
def my_schemes(args: dict[str, Any]) -> dict[str, Any]:
    """The caller's schemes; ``?all=true`` lists every scheme (operators only)."""
    user = require_operator() if args["every_scheme"] else require_user()
    items, cursor = scheme_page_of(
        user, every_scheme=args["every_scheme"], limit=args["limit"], cursor=args["cursor"]
    )
    return page(items, cursor)


@blp.route("", methods=["POST"])
@blp.arguments(SchemeCreate)
@blp.response(201, SchemeOut)
def create_scheme(body: dict[str, Any]) -> Scheme:
    user = require_user()
    scheme = services.create_scheme(
        name=body["name"],
        slug=body["slug"],
        template=body["template"],
        timezone=body["timezone"],
        creator=user,
        sandbox=body["sandbox"],
    )
    if scheme.sandbox:
        sandboxes.fill(scheme, user)
    return scheme


@blp.route("/<slug>/go-live", methods=["POST"])
@blp.response(200, GoLiveOut)
def go_live(slug: str) -> Scheme:
    """Turn a sandbox into a live scheme (generated people and history removed)."""
    access = scheme_access(slug, write=True, coordinator=True)
    return sandboxes.go_live(access.scheme, actor=access.user)


@blp.route("/<slug>/sandbox/reset", methods=["POST"])
@blp.response(200, SchemeOut)
def reset_sandbox(slug: str) -> Scheme:
    """Fresh generated people and history in a sandbox; its rules kept."""
    access = scheme_access(slug, write=True, coordinator=True)
    return sandboxes.reset(access.scheme, actor=access.user)


@blp.route("/<slug>")
@blp.response(200, SchemeOut)
def get_scheme(slug: str) -> Scheme:
    return scheme_access(slug).scheme
