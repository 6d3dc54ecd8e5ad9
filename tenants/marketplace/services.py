"""Listings: categories, posting, editing, the listing life cycle and finding them.

A listing is an offer of help or a request for it, in one of the scheme's
categories. It is ``published`` at once, or ``pending`` until a coordinator
approves it when the policy's ``listings.approval`` is ``coordinator``. Its
author pauses, closes, reopens and renews it; a coordinator may hide it with a
reason (audited, the author is mailed and still sees it, with the reason). It
is shown until the end of its ``expires_on`` (the scheme's time zone); the
nightly job (``jobs.py``) marks it ``expired``, and mails the author a few
days before.

Finding: published, unexpired listings, newest first or nearest to expiry
first, filtered by kind, category, area and words. On PostgreSQL the words go
through full-text search (an expression GIN index over title and
description, each word matched as a prefix); on SQLite through ``LIKE``.
Pages are keyset-paginated and cost a fixed number of queries whatever their
size: the listings, then their authors' names.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, text
from sqlalchemy.exc import IntegrityError

from timebank.platform import audit
from timebank.platform.api.errors import (
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    RuleViolation,
)
from timebank.platform.api.pagination import decode_cursor, encode_cursor
from timebank.platform.db import atomic, db, utcnow
from timebank.platform.identity.models import User
from timebank.platform.schemes.models import Scheme
from timebank.platform.schemes.services import provisioner
from timebank.tenants.marketplace import notices
from timebank.tenants.marketplace.models import (
    LIVE_RESPONSE_STATUSES,
    SEARCH_DOCUMENT,
    Listing,
    ListingCategory,
    ListingDigestCategory,
    ListingResponse,
)
from timebank.tenants.memberships.models import Member
from timebank.tenants.memberships.services import Access
from timebank.tenants.policy.schemas import LISTINGS_DEFAULTS
from timebank.tenants.policy.services import current_policy

_WORD = re.compile(r"\w+", re.UNICODE)
MAX_SEARCH_WORDS = 8
NO_EXPIRY = date(9999, 12, 31)
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


def names_of(member_ids: Sequence[int]) -> dict[int, str]:
    """Members' names in one query."""
    ids = sorted(set(member_ids))
    if not ids:
        return {}
    rows = db.session.execute(
        select(Member.id, User.name).join(User, User.id == Member.user_id).where(Member.id.in_(ids))
    )
    return {member_id: name for member_id, name in rows}


def person(access: Access, member_id: int, names: dict[int, str], *, party: bool = False) -> dict:
    """``{member_id, name}`` as the caller may see it (their own name always; the other
    party of a response they are in at least by first name)."""
    mode = name_mode(access)
    if member_id == access.member.id:
        mode = "full"
    elif party and mode == "hidden":
        mode = "first_names"
    return {"member_id": member_id, "name": shown_name(names.get(member_id), mode)}


# --- categories -----------------------------------------------------------------------


@provisioner(order=45)
def provision_categories(scheme: Scheme, data: dict[str, Any], creator: User) -> None:
    """Seed the template's listing categories."""
    for name in data.get("listing_categories", []):
        db.session.add(ListingCategory(scheme_id=scheme.id, name=name, active=True))


def categories_query(*, active: bool | None = None) -> Any:
    statement = select(ListingCategory)
    if active is not None:
        statement = statement.where(ListingCategory.active.is_(active))
    return statement


def all_categories() -> list[ListingCategory]:
    return list(
        db.session.execute(select(ListingCategory).order_by(ListingCategory.name)).scalars()
    )


def get_category(category_id: int) -> ListingCategory:
    category = db.session.execute(
        select(ListingCategory).where(ListingCategory.id == category_id)
    ).scalar_one_or_none()
    if category is None:
        raise NotFound("No such category in this scheme.")
    return category


def resolve_category(field: str, category_id: int) -> ListingCategory:
    """An active category of this scheme named by a request body, or a 422 on ``field``."""
    category = db.session.execute(
        select(ListingCategory).where(ListingCategory.id == category_id)
    ).scalar_one_or_none()
    if category is None:
        raise FieldError(field, "No category with this id in this scheme.")
    if not category.active:
        raise FieldError(field, f"“{category.name}” is no longer used in this scheme.")
    return category


def _name_taken(name: str, *, other_than: int | None = None) -> None:
    statement = select(ListingCategory.id).where(
        func.lower(ListingCategory.name) == name.strip().lower()
    )
    if other_than is not None:
        statement = statement.where(ListingCategory.id != other_than)
    if db.session.execute(statement).first() is not None:
        raise Conflict(
            f"There is already a category called “{name.strip()}”.", code="category_exists"
        )


@atomic
def create_category(scheme: Scheme, name: str, *, actor_user_id: int) -> ListingCategory:
    _name_taken(name)
    category = ListingCategory(scheme_id=scheme.id, name=name.strip(), active=True)
    db.session.add(category)
    try:
        db.session.flush()
    except IntegrityError as error:
        raise Conflict(
            "There is already a category with this name.", code="category_exists"
        ) from error
    audit.record(
        scheme.id,
        "listing_category.created",
        actor_user_id=actor_user_id,
        target=f"listing_category:{category.id}",
        details={"name": category.name},
    )
    return category


@atomic
def update_category(
    scheme: Scheme, category_id: int, changes: dict[str, Any], *, actor_user_id: int
) -> ListingCategory:
    category = get_category(category_id)
    if "name" in changes:
        _name_taken(changes["name"], other_than=category.id)
        changes = {**changes, "name": changes["name"].strip()}
    before = {key: getattr(category, key) for key in changes}
    for key, value in changes.items():
        setattr(category, key, value)
    db.session.flush()
    audit.record(
        scheme.id,
        "listing_category.changed",
        actor_user_id=actor_user_id,
        target=f"listing_category:{category.id}",
        details={"before": before, "after": changes},
    )
    return category


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


# --- finding --------------------------------------------------------------------------


def search_words(q: str | None) -> list[str]:
    return [word.lower() for word in _WORD.findall(q or "")][:MAX_SEARCH_WORDS]


def _matches(words: list[str]) -> ColumnElement[bool]:
    if db.session.get_bind().dialect.name == "postgresql":
        query = " & ".join(f"{word}:*" for word in words)
        return text(f"{SEARCH_DOCUMENT} @@ to_tsquery('simple', :listing_words)").bindparams(
            listing_words=query
        )  # type: ignore[return-value]
    clauses = []
    for word in words:
        pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        clauses.append(
            or_(
                func.lower(Listing.title).like(pattern, escape="\\"),
                func.lower(func.coalesce(Listing.description, "")).like(pattern, escape="\\"),
            )
        )
    return and_(*clauses)


def search_statement(
    access: Access,
    *,
    kind: str | None = None,
    category_id: int | None = None,
    q: str | None = None,
    area: str | None = None,
    mine: bool = False,
    status: str | None = None,
) -> Any:
    """The listings a search shows this caller (ordering and paging are added later)."""
    statement = select(Listing)
    if mine:
        statement = statement.where(Listing.author_member_id == access.member.id)
        if status is not None:
            statement = statement.where(Listing.status == status)
    elif status is not None:
        if not access.is_coordinator:
            raise Forbidden(
                "Only coordinators may list listings by status.", code="coordinator_only"
            )
        statement = statement.where(Listing.status == status)
    else:
        today = scheme_today(access.scheme)
        statement = statement.where(
            Listing.status == "published",
            or_(Listing.expires_on.is_(None), Listing.expires_on >= today),
        )
    if kind is not None:
        statement = statement.where(Listing.kind == kind)
    if category_id is not None:
        statement = statement.where(Listing.category_id == category_id)
    if area and area.strip():
        pattern = "%" + area.strip().lower().replace("\\", "\\\\").replace("%", "\\%") + "%"
        statement = statement.where(func.lower(Listing.area).like(pattern, escape="\\"))
    words = search_words(q)
    if words:
        statement = statement.where(_matches(words))
    return statement


def search_page(
    statement: Any, *, sort: str, limit: int, cursor: str | None
) -> tuple[list[Listing], str | None]:
    """One keyset page: ``newest`` (id descending) or ``expiring`` (last day, no expiry
    last, then id: the order of the ``(scheme_id, status, expires_on, id)`` index)."""
    if sort == "expiring":
        if cursor:
            day, last_id = decode_cursor(cursor, 2)
            try:
                after = date.fromordinal(day)
            except (ValueError, OverflowError) as error:
                raise FieldError("cursor", "Not a valid cursor.") from error
            if after == NO_EXPIRY:  # already among the listings with no expiry
                statement = statement.where(Listing.expires_on.is_(None), Listing.id > last_id)
            else:
                statement = statement.where(
                    or_(
                        Listing.expires_on > after,
                        and_(Listing.expires_on == after, Listing.id > last_id),
                        Listing.expires_on.is_(None),
                    )
                )
        statement = statement.order_by(Listing.expires_on.asc().nulls_last(), Listing.id)
    else:
        if cursor:
            (last_id,) = decode_cursor(cursor, 1)
            statement = statement.where(Listing.id < last_id)
        statement = statement.order_by(Listing.id.desc())
    rows = list(db.session.execute(statement.limit(limit + 1)).scalars())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        values = (
            [(last.expires_on or NO_EXPIRY).toordinal(), last.id]
            if sort == "expiring"
            else [last.id]
        )
        next_cursor = encode_cursor(values)
    return rows, next_cursor


def live_response_counts(listing_ids: Sequence[int]) -> dict[int, int]:
    if not listing_ids:
        return {}
    rows = db.session.execute(
        select(ListingResponse.listing_id, func.count())
        .where(
            ListingResponse.listing_id.in_(listing_ids),
            ListingResponse.status.in_(LIVE_RESPONSE_STATUSES),
        )
        .group_by(ListingResponse.listing_id)
    ).all()
    return {listing_id: int(count) for listing_id, count in rows}


def describe_listings(access: Access, listings: Sequence[Listing]) -> list[dict[str, Any]]:
    """Serialisable listings with their authors' names as the caller may see them
    (one query for the names, one for response counts of the caller's own or a
    coordinator's view)."""
    names = names_of([listing.author_member_id for listing in listings])
    counted = [
        listing.id
        for listing in listings
        if access.is_coordinator or listing.author_member_id == access.member.id
    ]
    counts = live_response_counts(counted)
    described = []
    for listing in listings:
        privileged = access.is_coordinator or listing.author_member_id == access.member.id
        described.append(
            {
                "id": listing.id,
                "kind": listing.kind,
                "title": listing.title,
                "description": listing.description,
                "category_id": listing.category_id,
                "minutes": listing.minutes,
                "where": listing.place,
                "area": listing.area,
                "availability": listing.availability,
                "status": listing.status,
                "expires_on": listing.expires_on,
                "author": person(access, listing.author_member_id, names),
                "created_at": listing.created_at,
                "updated_at": listing.updated_at,
                "hidden_reason": listing.hidden_reason if privileged else None,
                **({"responses": counts.get(listing.id, 0)} if privileged else {}),
            }
        )
    return described


# --- coordinator tools ----------------------------------------------------------------


def unanswered_requests_statement(access: Access, *, days: int) -> Any:
    """Live requests posted at least ``days`` days ago that nobody has responded to."""
    cutoff = utcnow() - timedelta(days=days)
    today = scheme_today(access.scheme)
    answered = select(ListingResponse.id).where(
        ListingResponse.scheme_id == Listing.scheme_id,
        ListingResponse.listing_id == Listing.id,
    )
    return select(Listing).where(
        Listing.kind == "request",
        Listing.status == "published",
        or_(Listing.expires_on.is_(None), Listing.expires_on >= today),
        Listing.created_at <= cutoff,
        ~answered.exists(),
    )


CSV_HEADER = [
    "id",
    "kind",
    "title",
    "category",
    "status",
    "author_member_id",
    "author_name",
    "area",
    "where",
    "minutes",
    "created_at",
    "expires_on",
    "responses",
    "completed_exchanges",
    "completed_minutes",
    "hidden_reason",
]


def export_rows(*, batch: int = 500) -> Iterator[list[Any]]:
    """Every listing of the scheme with its response figures, oldest first (coordinators)."""
    categories = {category.id: category.name for category in all_categories()}
    last = 0
    while True:
        listings = list(
            db.session.execute(
                select(Listing).where(Listing.id > last).order_by(Listing.id).limit(batch)
            ).scalars()
        )
        if not listings:
            return
        ids = [listing.id for listing in listings]
        names = names_of([listing.author_member_id for listing in listings])
        figures = {
            listing_id: (int(total), int(completed or 0), int(minutes or 0))
            for listing_id, total, completed, minutes in db.session.execute(
                select(
                    ListingResponse.listing_id,
                    func.count(),
                    func.count().filter(ListingResponse.status == "completed"),
                    func.sum(ListingResponse.minutes).filter(ListingResponse.status == "completed"),
                )
                .where(ListingResponse.listing_id.in_(ids))
                .group_by(ListingResponse.listing_id)
            ).all()
        }
        for listing in listings:
            total, completed, minutes = figures.get(listing.id, (0, 0, 0))
            yield [
                listing.id,
                listing.kind,
                listing.title,
                categories.get(listing.category_id, ""),
                listing.status,
                listing.author_member_id,
                names.get(listing.author_member_id, ""),
                listing.area or "",
                listing.place or "",
                listing.minutes if listing.minutes is not None else "",
                listing.created_at.isoformat(),
                listing.expires_on.isoformat() if listing.expires_on else "",
                total,
                completed,
                minutes,
                listing.hidden_reason or "",
            ]
        last = listings[-1].id


# --- the weekly digest: a member's categories -------------------------------------------


def digest_categories(member_id: int) -> list[int]:
    return list(
        db.session.execute(
            select(ListingDigestCategory.category_id)
            .where(ListingDigestCategory.member_id == member_id)
            .order_by(ListingDigestCategory.category_id)
        ).scalars()
    )


@atomic
def set_digest_categories(access: Access, category_ids: list[int]) -> list[int]:
    """Replace the caller's digest categories (``[]``: no digest)."""
    wanted = sorted(set(category_ids))
    known = set(
        db.session.execute(
            select(ListingCategory.id).where(ListingCategory.id.in_(wanted))
        ).scalars()
    )
    for index, category_id in enumerate(category_ids):
        if category_id not in known:
            raise FieldError(f"category_ids.{index}", "No category with this id in this scheme.")
    db.session.execute(
        delete(ListingDigestCategory).where(ListingDigestCategory.member_id == access.member.id)
    )
    for category_id in wanted:
        db.session.add(
            ListingDigestCategory(
                scheme_id=access.scheme.id, member_id=access.member.id, category_id=category_id
            )
        )
    db.session.flush()
    return wanted
