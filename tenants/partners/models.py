"""Partners of a scheme, their staff, counter charges, settlements and statements.

Partner staff are not members of the scheme: they have their own rows here
(``partner_staff``), never a ``members`` row, so they appear in no member list
or billing count. A partner's offers are rewards with ``partner_id``
(:mod:`timebank.tenants.spending.models`); its credits sit in its own ledger
account (kind ``partner``, :mod:`timebank.tenants.ledger.models`).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from timebank.platform.db import TenantScoped, UTCDateTime, db, tenant_fk, utcnow_column

PARTNER_STATUSES = ("active", "paused", "ended")
CHARGE_STATUSES = ("awaiting_confirmation", "confirmed", "declined", "expired")


class Partner(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "partners"

    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(String(500))
    area: Mapped[str | None] = mapped_column(String(120))
    address: Mapped[str | None] = mapped_column(String(300))
    opening_hours: Mapped[str | None] = mapped_column(String(300))
    # Comma-separated, lower case ("food,health").
    categories: Mapped[str | None] = mapped_column(String(300))
    logo_url: Mapped[str | None] = mapped_column(String(500))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(10), default="active")
    created_at: Mapped[datetime] = utcnow_column()

    __table_args__ = (
        CheckConstraint("status IN ('active', 'paused', 'ended')", name="status"),
        CheckConstraint("(latitude IS NULL) = (longitude IS NULL)", name="position_complete"),
        CheckConstraint(
            "latitude IS NULL OR (latitude BETWEEN -90 AND 90 AND longitude BETWEEN -180 AND 180)",
            name="position_range",
        ),
    )


class PartnerStaff(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    """A user who works at a partner's counter (one user: many partners, many schemes)."""

    __tablename__ = "partner_staff"

    partner_id: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"), index=True)
    invitation_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = utcnow_column()

    __table_args__ = (
        tenant_fk(["partner_id"], "partners"),
        UniqueConstraint("scheme_id", "partner_id", "user_id"),
    )


class PartnerCard(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    """A member's card for partners' counters: the code of their membership QR and an
    optional counter PIN (only its hash) to approve a charge without a phone."""

    __tablename__ = "partner_cards"

    member_id: Mapped[int] = mapped_column(BigInteger)
    code: Mapped[str] = mapped_column(String(20))
    pin_hash: Mapped[str | None] = mapped_column(String(200))
    failed_pins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = utcnow_column()

    __table_args__ = (
        tenant_fk(["member_id"], "members"),
        UniqueConstraint("scheme_id", "member_id"),
        UniqueConstraint("scheme_id", "code"),
    )


class PartnerCharge(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    """Staff charging an offer to a member's card, waiting for the member to confirm."""

    __tablename__ = "partner_charges"

    partner_id: Mapped[int] = mapped_column(BigInteger)
    reward_id: Mapped[int] = mapped_column(BigInteger)
    member_id: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(30), default="awaiting_confirmation")
    created_by: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    redemption_id: Mapped[int | None] = mapped_column(BigInteger)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = utcnow_column()

    __table_args__ = (
        tenant_fk(["partner_id"], "partners"),
        tenant_fk(["reward_id"], "rewards"),
        tenant_fk(["member_id"], "members"),
        tenant_fk(["redemption_id"], "redemptions"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(
            "status IN ('awaiting_confirmation', 'confirmed', 'declined', 'expired')",
            name="status",
        ),
        CheckConstraint("(status = 'confirmed') = (redemption_id IS NOT NULL)", name="confirmed"),
    )


class PartnerSettlement(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    """Credits taken back from a partner's account into the scheme (with a money value)."""

    __tablename__ = "partner_settlements"

    partner_id: Mapped[int] = mapped_column(BigInteger)
    minutes: Mapped[int] = mapped_column(Integer)
    # Money per hour the funder pays, as a decimal string ("12.50"); None: not recorded.
    money_value: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(String(500))
    transaction_id: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    created_at: Mapped[datetime] = utcnow_column()

    __table_args__ = (
        tenant_fk(["partner_id"], "partners"),
        tenant_fk(["transaction_id"], "transactions"),
        CheckConstraint("minutes > 0", name="minutes_positive"),
    )


class PartnerStatement(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    """A partner's figures for one month, written by the monthly statement job (once)."""

    __tablename__ = "partner_statements"

    partner_id: Mapped[int] = mapped_column(BigInteger)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    honoured: Mapped[int] = mapped_column(Integer)
    total_minutes: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = utcnow_column()

    __table_args__ = (
        tenant_fk(["partner_id"], "partners"),
        UniqueConstraint("scheme_id", "partner_id", "period_start"),
    )
