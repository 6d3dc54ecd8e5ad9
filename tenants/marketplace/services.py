"""Listings: posting, editing and the listing life cycle; who sees which listing.

A listing is an offer of help or a request for it, in one of the scheme's
categories. It is ``published`` at once, or ``pending`` until a coordinator
approves it when the policy's ``listings.approval`` is ``coordinator``. Its
author pauses, closes, reopens and renews it; a coordinator may hide it with a
reason (audited, the author is mailed and still sees it, with the reason). It
is shown until the end of its ``expires_on`` (the scheme's time zone); the
nightly job (``jobs.py``) marks it ``expired``, and mails the author a few
days before. Categories are in ``categories.py``, finding listings in
``finding.py``, responses and exchanges in ``responses.py``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from timebank.platform import audit
from timebank.platform.api.errors import (
    FieldError,
    Forbidden,
    NotFound,
    RuleViolation,
)
from timebank.platform.db import atomic, db, utcnow
from timebank.platform.schemes.models import Scheme
from timebank.tenants.access import Access
from timebank.tenants.ledger.services import member_names
from timebank.tenants.marketplace import notices
from timebank.tenants.marketplace.categories import resolve_category
from timebank.tenants.marketplace.models import (
    Listing,
    ListingResponse,
)
from timebank.tenants.policy.schemas import LISTINGS_DEFAULTS
from timebank.tenants.policy.services import current_policy

EDITABLE = (
    "kind",
    "title",
    "category_id",
    "description",
    "minutes",
    "where",
    "area",
    "availability",
)


# --- policy, dates and names ----------------------------------------------------------


def listings_policy(scheme: Scheme) -> dict[str, Any]:
    policy: dict[str, Any] = current_policy(scheme).get("listings") or LISTINGS_DEFAULTS
    return policy


def scheme_today(scheme: Scheme) -> date:
    return datetime.now(UTC).astimezone(ZoneInfo(scheme.timezone)).date()


def name_mode(access: Access) -> str:
    """How this caller sees other members' names: ``full``, ``first_names`` or ``hidden``."""
    if access.is_coordinator:
        return "full"
    mode: str = current_policy(access.scheme)["privacy"]["member_directory"]
    return mode


def shown_name(name: str | None, mode: str) -> str | None:
    if name is None or mode == "hidden":
        return None
    if mode == "first_names":
        parts = name.split()
        return parts[0] if parts else name
    return name


# The marketplace names members as the ledger does.
names_of = member_names


def person(access: Access, member_id: int, names: dict[int, str], *, party: bool = False) -> dict:
    """``{member_id, name}`` as the caller may see it (their own name always; the other
    party of a response they are in at least by first name)."""
    mode = name_mode(access)
    if member_id == access.member.id:
        mode = "full"
    elif party and mode == "hidden":
        mode = "first_names"
    return {"member_id": member_id, "name": shown_name(names.get(member_id), mode)}


# --- loading a listing ----------------------------------------------------------------


def is_live(listing: Listing, today: date) -> bool:
    """Published and not past its last day: shown to everyone, open to responses."""
    return listing.status == "published" and (
        listing.expires_on is None or listing.expires_on >= today
    )


def get_listing(access: Access, listing_id: int, *, for_update: bool = False) -> Listing:
    """A listing the caller may see, else 404 (also for another scheme's).

    Live listings are seen by every member; the others by their author,
    coordinators and members with a response to them.
    """
    statement = select(Listing).where(Listing.id == listing_id)
    if for_update:
        statement = statement.with_for_update()
    listing = db.session.execute(statement).scalar_one_or_none()
    if listing is None:
        raise NotFound("No such listing in this scheme.")
    if (
        is_live(listing, scheme_today(access.scheme))
        or access.is_coordinator
        or listing.author_member_id == access.member.id
    ):
        return listing
    responded = db.session.execute(
        select(ListingResponse.id).where(
            ListingResponse.listing_id == listing.id,
            ListingResponse.responder_member_id == access.member.id,
        )
    ).first()
    if responded is None:
        raise NotFound("No such listing in this scheme.")
    return listing


def own_listing(access: Access, listing_id: int) -> Listing:
    """A listing its author may change: 404 if unseen, 403 ``not_author`` for anyone else."""
    listing = get_listing(access, listing_id, for_update=True)
    if listing.author_member_id != access.member.id:
        raise Forbidden("Only the member who posted this listing may change it.", code="not_author")
    if listing.status == "hidden":
        raise RuleViolation(
            "A coordinator has hidden this listing, so it cannot be changed; "
            "ask a coordinator about it.",
            code="listing_hidden",
        )
    return listing


# --- posting and changing ------------------------------------------------------------


def _expiry(scheme: Scheme, policy: dict[str, Any], body: dict[str, Any]) -> date | None:
    today = scheme_today(scheme)
    if "expires_on" not in body:
        return today + timedelta(days=policy["default_expiry_days"])
    expires_on: date | None = body["expires_on"]
    if expires_on is None:
        if not policy["allow_no_expiry"]:
            raise FieldError(
                "expires_on", "Listings in this scheme need an expiry date: choose a day."
            )
        return None
    if expires_on <= today:
        raise FieldError("expires_on", "Choose a day in the future.")
    if expires_on > today + timedelta(days=3650):
        raise FieldError("expires_on", "Choose a day within the next ten years.")
    return expires_on


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


@atomic
def create_listing(access: Access, body: dict[str, Any]) -> Listing:
    """Post an offer or a request. Raises 422 on a field, or ``listings_disabled``."""
    scheme = access.scheme
    policy = listings_policy(scheme)
    if not policy["enabled"]:
        raise RuleViolation(
            f"{scheme.name} does not use offers and requests.", code="listings_disabled"
        )
    category = resolve_category("category_id", body["category_id"])
    expires_on = _expiry(scheme, policy, body)
    needs_approval = policy["approval"] == "coordinator" and not access.is_coordinator
    listing = Listing(
        scheme_id=scheme.id,
        kind=body["kind"],
        title=body["title"].strip(),
        description=_clean(body.get("description")),
        category_id=category.id,
        author_member_id=access.member.id,
        minutes=body.get("minutes"),
        place=body.get("where"),
        area=_clean(body.get("area")),
        availability=_clean(body.get("availability")),
        status="pending" if needs_approval else "published",
        expires_on=expires_on,
    )
    db.session.add(listing)
    db.session.flush()
    audit.record(
        scheme.id,
        "listing.created",
        actor_user_id=access.user.id,
        target=f"listing:{listing.id}",
        details={"kind": listing.kind, "status": listing.status, "category_id": category.id},
    )
    return listing


STATUS_CHANGES = {
    # (from, to) an author may make
    ("published", "paused"),
    ("published", "closed"),
    ("paused", "published"),
    ("paused", "closed"),
    ("closed", "published"),
    ("pending", "closed"),
}


@atomic
def update_listing(access: Access, listing_id: int, changes: dict[str, Any]) -> Listing:
    """The author changes fields and/or the status (``published``, ``paused``, ``closed``)."""
    listing = own_listing(access, listing_id)
    scheme = access.scheme
    if "category_id" in changes and changes["category_id"] != listing.category_id:
        resolve_category("category_id", changes["category_id"])
    if "expires_on" in changes:
        listing.expires_on = _expiry(scheme, listings_policy(scheme), changes)
        listing.expiry_notice_for = None
    for key in EDITABLE:
        if key in changes:
            value = changes[key]
            if key == "title":
                value = value.strip()
            elif key != "where":
                value = _clean(value)
            setattr(listing, "place" if key == "where" else key, value)
    wanted = changes.get("status")
    if wanted is not None and wanted != listing.status:
        _change_status(access, listing, wanted)
    listing.updated_at = utcnow()
    db.session.flush()
    audit.record(
        scheme.id,
        "listing.changed",
        actor_user_id=access.user.id,
        target=f"listing:{listing.id}",
        details={"fields": sorted(changes), "status": listing.status},
    )
    return listing


def _change_status(access: Access, listing: Listing, wanted: str) -> None:
    if listing.status == "expired" and wanted == "published":
        raise RuleViolation(
            "This listing has expired: renew it to show it again.", code="listing_expired"
        )
    if listing.status == "pending" and wanted != "closed":
        raise RuleViolation(
            "This listing is waiting for a coordinator's approval.", code="awaiting_approval"
        )
    if (listing.status, wanted) not in STATUS_CHANGES and listing.status != "expired":
        raise FieldError("status", f"A {listing.status} listing cannot become {wanted}.")
    if wanted == "published" and not (
        listing.expires_on is None or listing.expires_on >= scheme_today(access.scheme)
    ):
        raise RuleViolation(
            "This listing has expired: renew it to show it again.", code="listing_expired"
        )
    listing.status = wanted


@atomic
def renew_listing(access: Access, listing_id: int) -> Listing:
    """Show the listing again for ``default_expiry_days`` from today."""
    listing = own_listing(access, listing_id)
    policy = listings_policy(access.scheme)
    listing.expires_on = scheme_today(access.scheme) + timedelta(days=policy["default_expiry_days"])
    listing.expiry_notice_for = None
    if listing.status != "pending":
        listing.status = "published"
    listing.updated_at = utcnow()
    db.session.flush()
    audit.record(
        access.scheme.id,
        "listing.renewed",
        actor_user_id=access.user.id,
        target=f"listing:{listing.id}",
        details={"expires_on": listing.expires_on.isoformat()},
    )
    return listing


@atomic
def hide_listing(access: Access, listing_id: int, *, reason: str) -> Listing:
    """A coordinator hides a listing from everyone but its author; the author is mailed."""
    listing = get_listing(access, listing_id, for_update=True)
    before = listing.status
    listing.status = "hidden"
    listing.hidden_reason = reason.strip()
    listing.hidden_by = access.user.id
    listing.updated_at = utcnow()
    db.session.flush()
    audit.record(
        access.scheme.id,
        "listing.hidden",
        actor_user_id=access.user.id,
        target=f"listing:{listing.id}",
        details={"before": before, "reason": listing.hidden_reason},
    )
    notices.notify(
        notices.member_users([listing.author_member_id]).values(),
        access.scheme,
        subject=f"Your listing in {access.scheme.name} was hidden",
        lines=[
            f"A coordinator has hidden your listing “{listing.title}”, so other members no "
            "longer see it.",
            f"Their reason: {listing.hidden_reason}",
            "If you have questions, please talk to a coordinator.",
        ],
        path=f"/listings/{listing.id}",
        link_text="See your listing",
    )
    return listing


@atomic
def approve_listing(access: Access, listing_id: int) -> Listing:
    listing = get_listing(access, listing_id, for_update=True)
    if listing.status != "pending":
        raise RuleViolation(
            "Only a listing waiting for approval can be approved.", code="not_pending"
        )
    listing.status = "published"
    listing.updated_at = utcnow()
    db.session.flush()
    audit.record(
        access.scheme.id,
        "listing.approved",
        actor_user_id=access.user.id,
        target=f"listing:{listing.id}",
    )
    notices.notify(
        notices.member_users([listing.author_member_id]).values(),
        access.scheme,
        subject=f"Your listing in {access.scheme.name} is now shown",
        lines=[f"A coordinator approved your listing “{listing.title}”: members can see it now."],
        path=f"/listings/{listing.id}",
        link_text="See your listing",
    )
    return listing
