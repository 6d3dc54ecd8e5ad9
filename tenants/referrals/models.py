"""Referrers (people who refer, not members), referral links, and the referrals themselves.

A referrer is a user invited with role ``referrer``: a row here, never in
``members``, so they appear in no member list, billing count or directory.
A referral link is a token the practice keeps (only its hash is stored) that
anyone holding it may refer through, until a coordinator revokes it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from timebank.platform.db import TenantScoped, UTCDateTime, db, tenant_fk, utcnow_column

# Why someone is referred: a fixed list, so that nothing personal is typed into it.
REASONS = (
    "loneliness",
    "low_mood",
    "long_term_condition",
    "carer_support",
    "bereavement",
    "physical_activity",
    "practical_help",
    "other",
)
STATUSES = ("referred", "contacted", "joined", "first_exchange", "active", "declined", "lost")
REFERRER_STATUSES = ("active", "removed")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


class Referrer(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "referrers"

    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(10), default="active")
    invited_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    created_at: Mapped[datetime] = utcnow_column()

    __table_args__ = (
        UniqueConstraint("scheme_id", "user_id"),
        CheckConstraint(_in("status", REFERRER_STATUSES), name="status"),
    )


class ReferralLink(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "referral_links"

    label: Mapped[str] = mapped_column(String(120))
    # Unique across schemes: the link is looked up by it before its scheme is known.
    token_hash: Mapped[str] = mapped_column(
        String(64), unique=True, info={"unique_across_schemes": "a random referral link token"}
    )
    created_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    created_at: Mapped[datetime] = utcnow_column()
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Referral(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "referrals"

    name: Mapped[str] = mapped_column(String(200))
    contact: Mapped[str] = mapped_column(String(254))
    reason: Mapped[str] = mapped_column(String(30))
    consent: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(20), default="referred")
    # Who referred: a referrer, a link, or (both null) a coordinator (``created_by``).
    referrer_id: Mapped[int | None] = mapped_column(BigInteger)
    link_id: Mapped[int | None] = mapped_column(BigInteger)
    created_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    created_at: Mapped[datetime] = utcnow_column()
    contacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    joined_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_exchange_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    active_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The coordinator's note of the last change (why declined or lost); never audited.
    note: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (
        tenant_fk(["referrer_id"], "referrers"),
        tenant_fk(["link_id"], "referral_links"),
        CheckConstraint("consent", name="consent_given"),
        CheckConstraint(_in("reason", REASONS), name="reason"),
        CheckConstraint(_in("status", STATUSES), name="status"),
        Index("ix_referrals_referrer", "scheme_id", "referrer_id"),
    )
