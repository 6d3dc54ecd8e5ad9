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
REDEMPTION_STATUSES = ("pending", "fulfilled", "cancelled")


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

    __table_args__ = (
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

    __table_args__ = (
        tenant_fk(["member_id"], "members"),
        tenant_fk(["reward_id"], "rewards"),
        tenant_fk(["transaction_id"], "transactions"),
        tenant_fk(["refund_transaction_id"], "transactions"),
        UniqueConstraint("scheme_id", "code"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("status IN ('pending', 'fulfilled', 'cancelled')", name="status"),
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
