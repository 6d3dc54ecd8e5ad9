"""Youth court tables: sittings, their roles and rota, and ordered hours.

A sitting's roles carry the minutes each earns; an assignment puts one member
in one role of one sitting (``present`` is null until attendance is recorded;
``transaction_id`` is the ``earn`` that credited it). An order's hours are
kept here and only here: they never become ledger rows. ``extra_minutes`` of
an hours row (beyond what the order still needed) may be credited as ordinary
hours when the policy says so (``transaction_id``).
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
)
from sqlalchemy.orm import Mapped, mapped_column

from timebank.platform.db import TenantScoped, UTCDateTime, db, tenant_fk, utcnow_column

SITTING_STATUSES = ("scheduled", "credited", "cancelled")
ORDER_STATUSES = ("open", "completed")


class Sitting(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "sittings"

    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    place: Mapped[str | None] = mapped_column(String(200))
    # Done with children: an adult on the rota needs a valid safeguarding check.
    with_children: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    status: Mapped[str] = mapped_column(String(20), default="scheduled")
    attendance_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    credited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    credited_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    created_at: Mapped[datetime] = utcnow_column()

    __table_args__ = (
        CheckConstraint("status IN ('scheduled', 'credited', 'cancelled')", name="status"),
        CheckConstraint("(status = 'credited') = (credited_at IS NOT NULL)", name="credited_link"),
        Index("ix_sittings_starts_at", "scheme_id", "starts_at"),
    )


class SittingRole(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "sitting_roles"

    sitting_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(60))
    minutes: Mapped[int] = mapped_column(Integer)
    places: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        tenant_fk(["sitting_id"], "sittings"),
        CheckConstraint("minutes > 0", name="minutes_positive"),
        CheckConstraint("places > 0", name="places_positive"),
        UniqueConstraint("scheme_id", "sitting_id", "name"),
    )


class SittingAssignment(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "sitting_assignments"

    sitting_id: Mapped[int] = mapped_column(BigInteger)
    role_id: Mapped[int] = mapped_column(BigInteger)
    member_id: Mapped[int] = mapped_column(BigInteger)
    signed_up: Mapped[bool] = mapped_column(Boolean, default=False)
    present: Mapped[bool | None] = mapped_column(Boolean)
    transaction_id: Mapped[int | None] = mapped_column(BigInteger)
    created_by: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    created_at: Mapped[datetime] = utcnow_column()

    __table_args__ = (
        tenant_fk(["sitting_id"], "sittings"),
        tenant_fk(["role_id"], "sitting_roles"),
        tenant_fk(["member_id"], "members"),
        tenant_fk(["transaction_id"], "transactions"),
        UniqueConstraint("scheme_id", "sitting_id", "member_id"),
        Index("ix_sitting_assignments_member", "scheme_id", "member_id"),
    )


class Order(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    """Hours a court or panel ordered a young person to give; never credits."""

    __tablename__ = "orders"

    member_id: Mapped[int] = mapped_column(BigInteger)
    minutes_ordered: Mapped[int] = mapped_column(Integer)
    minutes_done: Mapped[int] = mapped_column(Integer, default=0)
    due_on: Mapped[date] = mapped_column(Date)
    referrer: Mapped[str | None] = mapped_column(String(200))
    reference: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default="open")
    completed_on: Mapped[date | None] = mapped_column(Date)
    created_by: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    created_at: Mapped[datetime] = utcnow_column()

    __table_args__ = (
        tenant_fk(["member_id"], "members"),
        CheckConstraint("minutes_ordered > 0", name="minutes_ordered_positive"),
        CheckConstraint("minutes_done >= 0", name="minutes_done_not_negative"),
        CheckConstraint("status IN ('open', 'completed')", name="status"),
        CheckConstraint(
            "(status = 'completed') = (completed_on IS NOT NULL)", name="completed_link"
        ),
        Index("ix_orders_member", "scheme_id", "member_id"),
    )


class OrderHours(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "order_hours"

    order_id: Mapped[int] = mapped_column(BigInteger)
    minutes: Mapped[int] = mapped_column(Integer)
    # Of ``minutes``: what counted toward the order, and what went beyond it.
    extra_minutes: Mapped[int] = mapped_column(Integer, default=0)
    performed_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(String(500))
    # The ordinary ``earn`` for the extra minutes, when the policy credits them.
    transaction_id: Mapped[int | None] = mapped_column(BigInteger)
    verified_by: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    created_at: Mapped[datetime] = utcnow_column()

    __table_args__ = (
        tenant_fk(["order_id"], "orders"),
        tenant_fk(["transaction_id"], "transactions"),
        CheckConstraint("minutes > 0", name="minutes_positive"),
        CheckConstraint("extra_minutes >= 0 AND extra_minutes <= minutes", name="extra_range"),
        Index("ix_order_hours_order", "scheme_id", "order_id"),
    )
