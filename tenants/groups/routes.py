"""Groups API: classes, houses and other groups, their members, awards and league table."""

from __future__ import annotations

from typing import Any

from timebank.platform.api.blueprint import Blueprint
from timebank.platform.api.errors import Forbidden
from timebank.platform.api.idempotency import idempotent
from timebank.platform.api.pagination import keyset_page, page
from timebank.platform.api.schemas import PageQuery
from timebank.tenants.access import scheme_access
from timebank.tenants.groups import services
from timebank.tenants.groups.models import Group
from timebank.tenants.groups.schemas import (
    GroupAwardIn,
    GroupAwardOut,
    GroupIn,
    GroupMembersIn,
    GroupOut,
    GroupPage,
    LeagueOut,
)

blp = Blueprint(
    "groups",
    __name__,
    url_prefix="/api/v1/schemes/<slug>",
    description="Groups (classes, houses)",
    credentials="scheme",
)


@blp.route("/groups")
@blp.arguments(PageQuery, location="query")
@blp.response(200, GroupPage)
def groups(args: dict[str, Any], slug: str) -> dict[str, Any]:
    access = scheme_access(slug, coordinator=True)
    services.ensure_enabled(access.scheme)
    rows, cursor = keyset_page(
        services.groups_query(),
        keys=[Group.id],
        limit=args["limit"],
        cursor=args["cursor"],
        descending=False,
        key_of=lambda group: [group.id],
    )
    return page(rows, cursor)


@blp.route("/groups", methods=["POST"])
@blp.arguments(GroupIn)
@blp.response(201, GroupOut)
def create_group(body: dict[str, Any], slug: str) -> dict[str, Any]:
    access = scheme_access(slug, write=True, coordinator=True)
    group = services.create_group(
        access.scheme, name=body["name"], kind=body["kind"], actor_user_id=access.user.id
    )
    return services.describe(group)


@blp.route("/groups/<int:group_id>")
@blp.response(200, GroupOut)
def group(slug: str, group_id: int) -> dict[str, Any]:
    access = scheme_access(slug, coordinator=True)
    group = services.get_group(group_id)  # 404 before anything else, as for any object
    services.ensure_enabled(access.scheme)
    return services.describe(group)


@blp.route("/groups/<int:group_id>/members", methods=["PUT"])
@blp.arguments(GroupMembersIn)
@blp.response(200, GroupOut)
def set_members(body: dict[str, Any], slug: str, group_id: int) -> dict[str, Any]:
    access = scheme_access(slug, write=True, coordinator=True)
    group = services.set_members(
        access.scheme, group_id, body["member_ids"], actor_user_id=access.user.id
    )
    return services.describe(group)


@blp.route("/groups/<int:group_id>/awards", methods=["POST"])
@idempotent
@blp.arguments(GroupAwardIn)
@blp.response(201, GroupAwardOut)
def award(body: dict[str, Any], slug: str, group_id: int) -> dict[str, Any]:
    access = scheme_access(slug, write=True, coordinator=True)
    result = services.award_group(
        access.scheme,
        group_id,
        activity_id=body["activity_id"],
        minutes=body["minutes"],
        note=body["note"],
        actor_user_id=access.user.id,
    )
    return {
        "id": result.award.id,
        "activity_id": result.award.activity_id,
        "minutes": result.award.minutes,
        "credited_minutes": result.award.credited_minutes,
        "transactions": result.transactions,
    }


@blp.route("/groups/league")
@blp.response(200, LeagueOut)
def league(slug: str) -> dict[str, Any]:
    """The league table: coordinators always; members when the policy shows it."""
    access = scheme_access(slug)
    services.ensure_enabled(access.scheme)
    if not access.is_coordinator and not services.league_shown(access.scheme):
        raise Forbidden(
            "This scheme does not show a league table of its groups (groups.league_table).",
            code="league_table_off",
        )
    return {"items": services.league()}
