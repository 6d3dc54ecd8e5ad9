"""Referrals API: referrers and coordinators refer; coordinators work the queue.

On the ``user`` credential rule, not ``scheme``: a referrer is no member, so each view
resolves the caller with :func:`referral_access` (a coordinator, or a referrer who sees
only their own referrals). Referral links post to a public route of their own.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import request

from timebank.platform.api.blueprint import Blueprint
from timebank.platform.api.pagination import keyset_page, page
from timebank.tenants.referrals import services
from timebank.tenants.referrals.access import ReferralAccess, referral_access
from timebank.tenants.referrals.models import Referral
from timebank.tenants.referrals.schemas import (
    CreatedOut,
    FunnelOut,
    FunnelQuery,
    LinkIn,
    LinkList,
    LinkOut,
    ReferralIn,
    ReferralOut,
    ReferralPage,
    ReferralPatch,
    ReferralQuery,
    ReferrerList,
)

blp = Blueprint(
    "referrals",
    __name__,
    url_prefix="/api/v1/schemes/<slug>",
    description="Referrals (surgeries)",
    credentials="user",
)
links_blp = Blueprint(
    "referral_links",
    __name__,
    url_prefix="/api/v1/referral-links",
    description="Referring through a practice's referral link",
    public=("refer",),
)


# What a referrer may call; every other route of this blueprint is a coordinator's.
REFERRER_ENDPOINTS = frozenset(
    {"referrals.create_referral", "referrals.referrals", "referrals.referral"}
)


@blp.before_request
def _gate() -> None:
    """Before the body is parsed (as the scheme gate does): 404 to strangers and to a
    referrer on a coordinator's route, 403 to a member who is not a coordinator."""
    slug = (request.view_args or {}).get("slug")
    if slug is not None and request.endpoint is not None:
        referral_access(slug, coordinator=request.endpoint not in REFERRER_ENDPOINTS)


def _own(access: ReferralAccess) -> int | None:
    """Whose referrals: everyone's for a coordinator, else the referrer's own."""
    if access.is_coordinator:
        return None
    assert access.referrer is not None
    return access.referrer.id


@blp.route("/referrals", methods=["POST"])
@blp.arguments(ReferralIn)
@blp.response(201, CreatedOut)
def create_referral(body: dict[str, Any], slug: str) -> dict[str, Any]:
    access = referral_access(slug, write=True)
    referral = services.create_referral(
        access.scheme,
        **body,
        referrer_id=None if access.is_coordinator else _own(access),
        actor_user_id=access.user.id,
    )
    return {"id": referral.id, "status": referral.status}


@blp.route("/referrals")
@blp.arguments(ReferralQuery, location="query")
@blp.response(200, ReferralPage)
def referrals(args: dict[str, Any], slug: str) -> dict[str, Any]:
    """A referrer's own referrals, or all of them for a coordinator; newest first."""
    access = referral_access(slug)
    rows, cursor = keyset_page(
        services.referrals_query(referrer_id=_own(access), status=args["status"]),
        keys=[Referral.id],
        limit=args["limit"],
        cursor=args["cursor"],
        key_of=lambda referral: [referral.id],
    )
    items = [services.describe(r, for_coordinator=access.is_coordinator) for r in rows]
    return page(items, cursor)


@blp.route("/referrals/<int:referral_id>")
@blp.response(200, ReferralOut)
def referral(slug: str, referral_id: int) -> dict[str, Any]:
    access = referral_access(slug)
    found = services.get_referral(referral_id, referrer_id=_own(access))
    return services.describe(found, for_coordinator=access.is_coordinator)


@blp.route("/referrals/<int:referral_id>", methods=["PATCH"])
@blp.arguments(ReferralPatch)
@blp.response(200, ReferralOut)
def change_status(body: dict[str, Any], slug: str, referral_id: int) -> dict[str, Any]:
    access = referral_access(slug, write=True, coordinator=True)
    changed = services.change_status(
        access.scheme,
        referral_id,
        status=body["status"],
        note=body["note"],
        actor_user_id=access.user.id,
    )
    return services.describe(changed, for_coordinator=True)


@blp.route("/referrals/funnel")
@blp.arguments(FunnelQuery, location="query")
@blp.response(200, FunnelOut)
def funnel(args: dict[str, Any], slug: str) -> dict[str, Any]:
    access = referral_access(slug, coordinator=True)
    today = datetime.now(UTC).astimezone(ZoneInfo(access.scheme.timezone)).date()
    end = args["to"] or today
    start = args["from_"] or min(end, today) - timedelta(days=83)
    result = services.funnel(access.scheme, start, end)
    return {"from_": result.start, "to": result.end, **result.counts}


@blp.route("/referral-links")
@blp.response(200, LinkList)
def links(slug: str) -> dict[str, Any]:
    referral_access(slug, coordinator=True)
    return {"items": services.links()}


@blp.route("/referral-links", methods=["POST"])
@blp.arguments(LinkIn)
@blp.response(201, LinkOut)
def create_link(body: dict[str, Any], slug: str) -> dict[str, Any]:
    access = referral_access(slug, write=True, coordinator=True)
    token, link = services.create_link(
        access.scheme, label=body["label"], actor_user_id=access.user.id
    )
    return {
        "id": link.id,
        "label": link.label,
        "created_at": link.created_at,
        "revoked_at": None,
        "token": token,
        "url": services.link_url(token),
    }


@blp.route("/referral-links/<int:link_id>", methods=["DELETE"])
@blp.response(204)
def revoke_link(slug: str, link_id: int) -> None:
    access = referral_access(slug, write=True, coordinator=True)
    services.revoke_link(access.scheme, link_id, actor_user_id=access.user.id)


@blp.route("/referrers")
@blp.response(200, ReferrerList)
def referrers(slug: str) -> dict[str, Any]:
    referral_access(slug, coordinator=True)
    return {"items": services.referrers()}


@blp.route("/referrers/<int:referrer_id>", methods=["DELETE"])
@blp.response(204)
def remove_referrer(slug: str, referrer_id: int) -> None:
    access = referral_access(slug, write=True, coordinator=True)
    services.remove_referrer(access.scheme, referrer_id, actor_user_id=access.user.id)


@links_blp.route("/<token>/referrals", methods=["POST"])
@links_blp.arguments(ReferralIn)
@links_blp.response(201, CreatedOut)
def refer(body: dict[str, Any], token: str) -> dict[str, Any]:
    """Anyone holding a practice's referral link refers through it (no sign-in)."""
    link, scheme = services.link_for_token(token)
    referral = services.create_referral(scheme, **body, link_id=link.id)
    return {"id": referral.id, "status": referral.status}
