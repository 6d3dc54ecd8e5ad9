"""Billing tables (platform tables: one billing row per scheme, and the Stripe event log).

Billing never touches a ledger: nothing here refers to accounts or postings.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from timebank.platform.db import UTCDateTime, db, utcnow_column

DUNNING_STATES = ("ok", "grace", "suspended")


class SchemeBilling(db.Model):  # type: ignore[name-defined,misc]
    """A scheme's Stripe customer, subscription and dunning state."""

    __tablename__ = "scheme_billing"

    # A platform table (no row-level security: webhooks find rows by customer):
    # ``scheme_id`` is listed last so the migration tooling, which treats a table
    # that *starts* with ``scheme_id`` as a tenant table, leaves it alone.
    scheme_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("schemes.id"),
        primary_key=True,
        sort_order=10,
    )
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    stripe_subscription_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    # The plan the subscription is for (the scheme's plan changes once it is paid for).
    subscription_plan: Mapped[str | None] = mapped_column(String(20))
    # Stripe's subscription status: incomplete, active, past_due, canceled, ...
    subscription_status: Mapped[str | None] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(20), default="ok", server_default="ok")
    grace_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_payment_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_payment_error: Mapped[str | None] = mapped_column(String(500))
    quantity: Mapped[int | None] = mapped_column(Integer)
    synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    plan_set_by_operator: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    updated_at: Mapped[datetime] = utcnow_column()

    __table_args__ = (
        CheckConstraint("status IN ('ok', 'grace', 'suspended')", name="status"),
        # Read by tests/test_schema_guards.py, which requires row-level security otherwise.
        {"info": {"without_row_level_security": "platform table: webhooks find it by customer"}},
    )


class StripeEvent(db.Model):  # type: ignore[name-defined,misc]
    """Every webhook event received, once by its Stripe id; processed by a job."""

    __tablename__ = "stripe_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255), unique=True)
    type: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    scheme_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("schemes.id"))
    outcome: Mapped[str | None] = mapped_column(String(200))
    received_at: Mapped[datetime] = utcnow_column()
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        {"info": {"without_row_level_security": "platform table: the event names its scheme"}},
    )
