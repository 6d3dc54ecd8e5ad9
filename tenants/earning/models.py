"""Activities (what earns credits, at what rate) and claims (logged hours)."""

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
)
from sqlalchemy.orm import Mapped, mapped_column

from timebank.platform.db import TenantScoped, UTCDateTime, db, tenant_fk, utcnow_column

APPROVALS = ("auto", "coordinator", "policy")
CLAIM_STATUSES = ("pending", "approved", "rejected")


class Activity(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "activities"

    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(String(500))
    category: Mapped[str | None] = mapped_column(String(60))
    # Credits per hour as an exact decimal string ("1", "1.5", "0.25"): never a float.
    rate: Mapped[str] = mapped_column(String(20), default="1")
    approval: Mapped[str] = mapped_column(String(20), default="policy")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    requires_note: Mapped[bool] = mapped_column(Boolean, default=False)
    # Done with children: an adult needs a valid safeguarding check to be credited for it.
    with_children: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # With the policy's ``minors.approved_activities_only``: the only activities minors earn by.
    minors_allowed: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    created_at: Mapped[datetime] = utcnow_column()

    __table_args__ = (
        CheckConstraint("approval IN ('auto', 'coordinator', 'policy')", name="approval"),
    )


class Claim(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "claims"

    member_id: Mapped[int] = mapped_column(BigInteger)
    activity_id: Mapped[int] = mapped_column(BigInteger)
    minutes: Mapped[int] = mapped_column(Integer)
    # round_half_up(minutes × rate), fixed when the claim is made.
    credited_minutes: Mapped[int] = mapped_column(Integer)
    performed_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    transaction_id: Mapped[int | None] = mapped_column(BigInteger)
    entered_by: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    decided_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = utcnow_column()

    __table_args__ = (
        tenant_fk(["member_id"], "members"),
        tenant_fk(["activity_id"], "activities"),
        tenant_fk(["transaction_id"], "transactions"),
        CheckConstraint("minutes > 0", name="minutes_positive"),
        CheckConstraint("credited_minutes >= 0", name="credited_not_negative"),
        CheckConstraint("status IN ('pending', 'approved', 'rejected')", name="status"),
        CheckConstraint(
            "(status = 'approved') = (transaction_id IS NOT NULL)", name="credited_link"
        ),
        Index("ix_claims_status", "scheme_id", "status", "id"),
        Index("ix_claims_member_day", "scheme_id", "member_id", "performed_on"),
        # Reports find a period's claims from its transactions (tenants/reports/summaries.py).
        Index("ix_claims_transaction", "scheme_id", "transaction_id"),
    )


class Award(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    """A coordinator's bulk award: one activity credited to many members at once."""

    __tablename__ = "awards"

    activity_id: Mapped[int] = mapped_column(BigInteger)
    minutes: Mapped[int] = mapped_column(Integer)
    credited_minutes: Mapped[int] = mapped_column(Integer)
    member_count: Mapped[int] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(String(500))
    created_by: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    created_at: Mapped[datetime] = utcnow_column()

    __table_args__ = (
        tenant_fk(["activity_id"], "activities"),
        CheckConstraint("minutes > 0", name="minutes_positive"),
    )
