"""Finding listings, and the coordinator's lists and export.

Published, unexpired listings, newest first or nearest to expiry first,
filtered by kind, category, area and words. On PostgreSQL the words go through
full-text search (an expression GIN index over title and description, each
word matched as a prefix); on SQLite through ``LIKE``. Pages are
keyset-paginated and cost a fixed number of queries whatever their size: the
listings, then their authors' names (and, for an author or a coordinator, the
live responses to them).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, text

from timebank.platform.api.errors import FieldError, Forbidden
from timebank.platform.api.pagination import decode_cursor, encode_cursor
from timebank.platform.db import db, utcnow
from timebank.tenants.access import Access
from timebank.tenants.marketplace.categories import all_categories
from timebank.tenants.marketplace.models import (
    LIVE_RESPONSE_STATUSES,
    SEARCH_DOCUMENT,
    Listing,
    ListingResponse,
)
from timebank.tenants.marketplace.services import names_of, person, scheme_today

_WORD = re.compile(r"\w+", re.UNICODE)
MAX_SEARCH_WORDS = 8
NO_EXPIRY = date(9999, 12, 31)

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
