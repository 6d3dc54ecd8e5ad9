"""Earning API: activities, claims and their approval, bulk awards."""

from __future__ import annotations

from typing import Any

from timebank.platform.api.blueprint import Blueprint
from timebank.platform.api.idempotency import idempotent
from timebank.platform.api.pagination import keyset_page, page
from timebank.tenants.access import readable_member, scheme_access
from timebank.tenants.earning import awards, caps, services
from timebank.tenants.earning.models import Activity, Claim
from timebank.tenants.earning.schemas import (
    ActivityIn,
    ActivityOut,
    ActivityPage,
    ActivityPatch,
    ActivityQuery,
    AwardIn,
    AwardOut,
    ClaimCreatedOut,
    ClaimIn,
    ClaimOut,
    ClaimPage,
    ClaimQuery,
    RejectIn,
)

blp = Blueprint(
    "earning",
    __name__,
    url_prefix="/api/v1/schemes/<slug>",
    description="Earning credits",
    credentials="scheme",
)


# --- activities -------------------------------------------------------------


@blp.route("/activities")
@blp.arguments(ActivityQuery, location="query")
@blp.response(200, ActivityPage)
def activities(args: dict[str, Any], slug: str) -> dict[str, Any]:
    scheme_access(slug)
    rows, cursor = keyset_page(
        services.activities_query(active=args["active"]),
        keys=[Activity.id],
        limit=args["limit"],
        cursor=args["cursor"],
        descending=False,
        key_of=lambda activity: [activity.id],
    )
    return page(rows, cursor)


@blp.route("/activities", methods=["POST"])
@blp.arguments(ActivityIn)
@blp.response(201, ActivityOut)
def create_activity(body: dict[str, Any], slug: str) -> Activity:
    access = scheme_access(slug, write=True, coordinator=True)
    return services.create_activity(access.scheme, body, actor_user_id=access.user.id)


@blp.route("/activities/<int:activity_id>")
@blp.response(200, ActivityOut)
def activity(slug: str, activity_id: int) -> Activity:
    scheme_access(slug)
    return services.get_activity(activity_id)


@blp.route("/activities/<int:activity_id>", methods=["PATCH"])
@blp.arguments(ActivityPatch)
@blp.response(200, ActivityOut)
def update_activity(body: dict[str, Any], slug: str, activity_id: int) -> Activity:
    access = scheme_access(slug, write=True, coordinator=True)
    return services.update_activity(access.scheme, activity_id, body, actor_user_id=access.user.id)


# --- claims -----------------------------------------------------------------


@blp.route("/claims", methods=["POST"])
@idempotent
@blp.arguments(ClaimIn)
@blp.response(201, ClaimCreatedOut)
def submit_claim(body: dict[str, Any], slug: str) -> Claim:
    access = scheme_access(slug, write=True)
    claim = services.submit_claim(
        access.scheme,
        access.member,
        activity_id=body["activity_id"],
        minutes=body["minutes"],
        performed_on=body["performed_on"],
        note=body["note"],
        member_id=body["member_id"],
        is_coordinator=access.is_coordinator,
        actor_user_id=access.user.id,
    )
    own = claim.member_id == access.member.id
    # Not stored: read by ClaimCreatedOut.warning for this response only.
    setattr(claim, "cap_warning", caps.claim_warning(access.scheme, claim, own=own))  # noqa: B010
    return claim


@blp.route("/claims")
@blp.arguments(ClaimQuery, location="query")
@blp.response(200, ClaimPage)
def claims(args: dict[str, Any], slug: str) -> dict[str, Any]:
    """Members see their own claims; coordinators see all (``?status=pending``: oldest first)."""
    access = scheme_access(slug)
    member_id = readable_member(access, args["member_id"], what="claims", all_for_coordinators=True)
    rows, cursor = keyset_page(
        services.claims_query(member_id=member_id, status=args["status"]),
        keys=[Claim.id],
        limit=args["limit"],
        cursor=args["cursor"],
        descending=args["status"] != "pending",
        key_of=lambda claim: [claim.id],
    )
    return page(rows, cursor)


@blp.route("/claims/<int:claim_id>/approve", methods=["POST"])
@idempotent
@blp.response(200, ClaimOut)
def approve_claim(slug: str, claim_id: int) -> Claim:
    access = scheme_access(slug, write=True)
    return services.approve_claim(
        access.scheme,
        claim_id,
        access.member,
        is_coordinator=access.is_coordinator,
        actor_user_id=access.user.id,
    )


@blp.route("/claims/<int:claim_id>/reject", methods=["POST"])
@blp.arguments(RejectIn)
@blp.response(200, ClaimOut)
def reject_claim(body: dict[str, Any], slug: str, claim_id: int) -> Claim:
    access = scheme_access(slug, write=True)
    return services.reject_claim(
        access.scheme,
        claim_id,
        access.member,
        reason=body["reason"],
        is_coordinator=access.is_coordinator,
        actor_user_id=access.user.id,
    )


# --- awards -----------------------------------------------------------------


@blp.route("/awards", methods=["POST"])
@idempotent
@blp.arguments(AwardIn)
@blp.response(201, AwardOut)
def award(body: dict[str, Any], slug: str) -> dict[str, Any]:
    access = scheme_access(slug, write=True, coordinator=True)
    result = awards.award(
        access.scheme,
        activity_id=body["activity_id"],
        minutes=body["minutes"],
        member_ids=body["member_ids"],
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
