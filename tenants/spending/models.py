"""Rewards (what credits buy), redemptions, and notices of credits about to lapse."""

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
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from timebank.platform.db import TenantScoped, UTCDateTime, db, tenant_fk, utcnow_column

PERIODS = ("week", "month", "year")
# ``issued``: a partner's reward, paid to the partner, waiting to be honoured at its counter.
REDEMPTION_STATUSES = ("pending", "issued", "fulfilled", "cancelled")
APPROVALS = ("approved", "pending", "refused")


class Reward(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "rewards"

    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(String(500))
    price: Mapped[int] = mapped_column(Integer)
    # None: unlimited.
    stock: Mapped[int | None] = mapped_column(Integer)
    limit_quantity: Mapped[int | None] = mapped_column(Integer)
    limit_period: Mapped[str | None] = mapped_column(String(10))
    # Comma-separated roles that may redeem it; None: everyone.
    eligible_roles: Mapped[str | None] = mapped_column(String(60))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Marked by a coordinator as something to save up for (the computer after 50 hours):
    # when any reward is, members choose their goal among these.
    is_goal: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = utcnow_column()
    # A partner's offer (None: the scheme's own reward), and its partner-only terms.
    partner_id: Mapped[int | None] = mapped_column(BigInteger)
    # How many may be redeemed per calendar month, by everyone together; None: no limit.
    monthly_allowance: Mapped[int | None] = mapped_column(Integer)
    # Members younger than this may not redeem it (when their membership records an age).
    min_age: Mapped[int | None] = mapped_column(Integer)
    available_from: Mapped[date | None] = mapped_column(Date)
    available_until: Mapped[date | None] = mapped_column(Date)
    # A partner's new offer waits for a coordinator when the policy asks for it.
    approval: Mapped[str] = mapped_column(String(10), default="approved", server_default="approved")

    __table_args__ = (
        tenant_fk(["partner_id"], "partners"),
        CheckConstraint("approval IN ('approved', 'pending', 'refused')", name="approval"),
        CheckConstraint(
            "monthly_allowance IS NULL OR monthly_allowance > 0", name="allowance_positive"
        ),
        CheckConstraint("min_age IS NULL OR min_age BETWEEN 0 AND 120", name="min_age_range"),
        CheckConstraint("price > 0", name="price_positive"),
        CheckConstraint("stock IS NULL OR stock >= 0", name="stock_not_negative"),
        CheckConstraint("(limit_quantity IS NULL) = (limit_period IS NULL)", name="limit_complete"),
        CheckConstraint("limit_quantity IS NULL OR limit_quantity > 0", name="limit_positive"),
    )


class Redemption(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "redemptions"

    member_id: Mapped[int] = mapped_column(BigInteger)
    reward_id: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    transaction_id: Mapped[int] = mapped_column(BigInteger)
    refund_transaction_id: Mapped[int | None] = mapped_column(BigInteger)
    decided_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = utcnow_column()
    # A partner's reward: whose counter honours the code, and until when.
    partner_id: Mapped[int | None] = mapped_column(BigInteger)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        tenant_fk(["member_id"], "members"),
        tenant_fk(["reward_id"], "rewards"),
        tenant_fk(["partner_id"], "partners"),
        tenant_fk(["transaction_id"], "transactions"),
        tenant_fk(["refund_transaction_id"], "transactions"),
        UniqueConstraint("scheme_id", "code"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("status IN ('pending', 'issued', 'fulfilled', 'cancelled')", name="status"),
        Index("ix_redemptions_partner", "scheme_id", "partner_id", "decided_at"),
        CheckConstraint(
            "(status = 'cancelled') = (refund_transaction_id IS NOT NULL)", name="refund_link"
        ),
        Index("ix_redemptions_member_reward", "scheme_id", "member_id", "reward_id", "created_at"),
    )


class ExpiryNotice(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    """A member was told that ``minutes`` lapse on ``lapses_on`` (sent once)."""

    __tablename__ = "expiry_notices"

    member_id: Mapped[int] = mapped_column(BigInteger)
    lapses_on: Mapped[date] = mapped_column(Date)
    minutes: Mapped[int] = mapped_column(Integer)
    sent_at: Mapped[datetime] = utcnow_column()

    __table_args__ = (
        tenant_fk(["member_id"], "members"),
        UniqueConstraint("scheme_id", "member_id", "lapses_on"),
    )


class RewardGoal(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    """The one reward a member is saving up for (shown as progress on their overview)."""

    __tablename__ = "reward_goals"

    member_id: Mapped[int] = mapped_column(BigInteger)
    reward_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = utcnow_column()

    __table_args__ = (
        tenant_fk(["member_id"], "members"),
        tenant_fk(["reward_id"], "rewards"),
        UniqueConstraint("scheme_id", "member_id"),
    )
