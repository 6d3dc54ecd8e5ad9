"""Offers and requests between members (API.md "Offers and requests").

A member posts a *listing* (an offer of help, or a request for it) in one of the
scheme's *categories*. Another member *responds*; the two exchange *messages*
on the response, agree who helps whom for about how long, and when the help has
happened the person helped confirms it: one ``transfer`` transaction from the
helped member to the helper, written by the posting service. The response keeps
the link (``transaction_id``), and its unique ``idempotency_key`` on the ledger
(``listing-response:<id>``) means one response can move credits at most once.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from timebank.platform.db import TenantScoped, UTCDateTime, db, tenant_fk, utcnow_column

KINDS = ("offer", "request")
WHERES = ("in_person", "phone", "online")
LISTING_STATUSES = ("pending", "published", "paused", "closed", "expired", "hidden")
RESPONSE_STATUSES = ("open", "agreed", "completed", "declined", "withdrawn", "disputed", "closed")
# A response in one of these still binds its two parties (one per member and listing).
LIVE_RESPONSE_STATUSES = ("open", "agreed", "disputed")

# Full-text search over title and description (PostgreSQL; an expression GIN
# index, created by migration 0006 on PostgreSQL only). Queries must use the
# same expression for the index to serve them.
# Written as PostgreSQL prints it back, so the schema comparison sees no change.
SEARCH_DOCUMENT = (
    "to_tsvector('simple'::regconfig, (title::text || ' '::text) "
    "|| COALESCE(description, ''::character varying)::text)"
)

TITLE_MAX = 120
TEXT_MAX = 500
AREA_MAX = 80
AVAILABILITY_MAX = 200
MESSAGE_MAX = 2000
CATEGORY_NAME_MAX = 60


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class ListingCategory(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "listing_categories"

    name: Mapped[str] = mapped_column(String(CATEGORY_NAME_MAX))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = utcnow_column()

    __table_args__ = (UniqueConstraint("scheme_id", "name"),)


class Listing(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "listings"

    kind: Mapped[str] = mapped_column(String(10))
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    description: Mapped[str | None] = mapped_column(String(TEXT_MAX))
    category_id: Mapped[int] = mapped_column(BigInteger)
    author_member_id: Mapped[int] = mapped_column(BigInteger)
    # Estimated duration in minutes (None: not said).
    minutes: Mapped[int | None] = mapped_column(Integer)
    # ``where`` in the API (a reserved word in SQL): in_person, phone or online.
    place: Mapped[str | None] = mapped_column(String(10))
    area: Mapped[str | None] = mapped_column(String(AREA_MAX))
    availability: Mapped[str | None] = mapped_column(String(AVAILABILITY_MAX))
    status: Mapped[str] = mapped_column(String(10), default="published")
    # The last day it is shown (scheme's time zone); None: no expiry.
    expires_on: Mapped[date | None] = mapped_column(Date)
    # The expires_on a "renew with one click" mail was sent for (one mail per expiry date).
    expiry_notice_for: Mapped[date | None] = mapped_column(Date)
    hidden_reason: Mapped[str | None] = mapped_column(String(TEXT_MAX))
    hidden_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    created_at: Mapped[datetime] = utcnow_column()
    updated_at: Mapped[datetime] = utcnow_column()

    __table_args__ = (
        tenant_fk(["category_id"], "listing_categories"),
        tenant_fk(["author_member_id"], "members"),
        CheckConstraint(_in("kind", KINDS), name="kind"),
        CheckConstraint(f"place IS NULL OR {_in('place', WHERES)}", name="place"),
        CheckConstraint(_in("status", LISTING_STATUSES), name="status"),
        CheckConstraint("minutes IS NULL OR minutes > 0", name="minutes_positive"),
        CheckConstraint("(status = 'hidden') = (hidden_reason IS NOT NULL)", name="hidden_reason"),
        # Browsing: newest first, and nearest to expiry first, within a status.
        Index("ix_listings_status_id", "scheme_id", "status", "id"),
        Index("ix_listings_status_expiry", "scheme_id", "status", "expires_on", "id"),
        Index("ix_listings_author", "scheme_id", "author_member_id", "id"),
        Index("ix_listings_search", text(SEARCH_DOCUMENT), postgresql_using="gin"),
    )


class ListingResponse(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "listing_responses"

    listing_id: Mapped[int] = mapped_column(BigInteger)
    responder_member_id: Mapped[int] = mapped_column(BigInteger)
    # The author of an offer or the responder to a request helps; the other is helped.
    helper_member_id: Mapped[int] = mapped_column(BigInteger)
    helped_member_id: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(10), default="open")
    # The agreed minutes (then the confirmed or decided ones).
    minutes: Mapped[int | None] = mapped_column(Integer)
    agreed_on: Mapped[date | None] = mapped_column(Date)
    agreed_by_member_id: Mapped[int | None] = mapped_column(BigInteger)
    transaction_id: Mapped[int | None] = mapped_column(BigInteger)
    dispute_reason: Mapped[str | None] = mapped_column(String(TEXT_MAX))
    disputed_by_member_id: Mapped[int | None] = mapped_column(BigInteger)
    decided_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = utcnow_column()
    updated_at: Mapped[datetime] = utcnow_column()

    __table_args__ = (
        tenant_fk(["listing_id"], "listings"),
        tenant_fk(["responder_member_id"], "members"),
        tenant_fk(["helper_member_id"], "members"),
        tenant_fk(["helped_member_id"], "members"),
        tenant_fk(["transaction_id"], "transactions"),
        CheckConstraint(_in("status", RESPONSE_STATUSES), name="status"),
        CheckConstraint("minutes IS NULL OR minutes >= 0", name="minutes_not_negative"),
        CheckConstraint("helper_member_id <> helped_member_id", name="two_parties"),
        CheckConstraint(
            "transaction_id IS NULL OR status = 'completed'", name="transaction_when_completed"
        ),
        # One live response per member and listing.
        Index(
            "uq_listing_responses_live",
            "scheme_id",
            "listing_id",
            "responder_member_id",
            unique=True,
            postgresql_where=text(_in("status", LIVE_RESPONSE_STATUSES)),
            sqlite_where=text(_in("status", LIVE_RESPONSE_STATUSES)),
        ),
        Index("ix_listing_responses_listing", "scheme_id", "listing_id", "id"),
        Index("ix_listing_responses_helper", "scheme_id", "helper_member_id", "status"),
        Index("ix_listing_responses_helped", "scheme_id", "helped_member_id", "status"),
        Index("ix_listing_responses_status", "scheme_id", "status", "id"),
    )


class ListingMessage(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "listing_messages"

    response_id: Mapped[int] = mapped_column(BigInteger)
    author_member_id: Mapped[int] = mapped_column(BigInteger)
    body: Mapped[str] = mapped_column(String(MESSAGE_MAX))
    created_at: Mapped[datetime] = utcnow_column()

    __table_args__ = (
        tenant_fk(["response_id"], "listing_responses"),
        tenant_fk(["author_member_id"], "members"),
        Index("ix_listing_messages_response", "scheme_id", "response_id", "id"),
    )


class ListingDigestCategory(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    """A member's opt-in to the weekly digest of new listings in one category."""

    __tablename__ = "listing_digest_categories"

    member_id: Mapped[int] = mapped_column(BigInteger)
    category_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = utcnow_column()

    __table_args__ = (
        tenant_fk(["member_id"], "members"),
        tenant_fk(["category_id"], "listing_categories"),
        UniqueConstraint("scheme_id", "member_id", "category_id"),
    )
