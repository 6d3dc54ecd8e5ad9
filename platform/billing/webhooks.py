"""Stripe webhooks.

Webhook events are stored once by their Stripe id (a unique index: a replay
or a concurrent duplicate inserts nothing) and applied by a job that locks
the stored event and marks it processed, so each is applied exactly once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import stripe
from flask import current_app
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from timebank.platform.api.errors import ApiError
from timebank.platform.billing.customers import (
    as_dict,
    enqueue_safely,
)
from timebank.platform.billing.dunning import end_dunning, mail_coordinators
from timebank.platform.billing.models import SchemeBilling, StripeEvent
from timebank.platform.billing.plans import (
    ACTIVE_SUBSCRIPTION,
    audit_billing,
    plan_for_stripe_id,
    scheme_of,
)
from timebank.platform.db import after_commit, db, run_atomic


class BadSignature(ApiError):
    status = 400
    code = "invalid_signature"


def receive_event(payload: bytes, signature: str | None) -> tuple[StripeEvent | None, bool]:
    """Verify and store a webhook event once; ``(stored, new)``. Bad signature → 400."""
    secret = current_app.config.get("STRIPE_WEBHOOK_SECRET")
    if not secret:
        raise ApiError("Webhooks are not configured.", status=404, code="not_found")
    if not signature:
        raise BadSignature("The Stripe-Signature header is missing.")
    try:
        event = stripe.Webhook.construct_event(payload, signature, secret)
    except stripe.SignatureVerificationError as error:
        raise BadSignature(f"The signature does not match: {error.user_message}") from error
    except ValueError as error:
        raise BadSignature("The payload is not a Stripe event.") from error
    body = as_dict(event)
    event_id, event_type = body.get("id"), body.get("type")
    if not isinstance(event_id, str) or not isinstance(event_type, str):
        raise BadSignature("The payload is not a Stripe event.")

    def store() -> int | None:
        table = StripeEvent.__table__
        dialect = db.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = (
            insert(table)  # type: ignore[operator]
            .values(
                event_id=event_id,
                type=event_type,
                payload=body,
                received_at=datetime.now(UTC),
            )
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(table.c.id)
        )
        stored = db.session.execute(statement).scalar_one_or_none()
        if stored is not None:
            after_commit(
                lambda: enqueue_safely("timebank.platform.billing.jobs.process_event", stored)
            )
        return cast("int | None", stored)

    stored_id = run_atomic(store)
    if stored_id is None:
        existing = db.session.execute(
            select(StripeEvent).where(StripeEvent.event_id == event_id)
        ).scalar_one()
        return existing, False
    return db.session.get(StripeEvent, stored_id), True


def process_event(stored_id: int, now: datetime | None = None) -> str:
    """Apply a stored event once (the row lock and ``processed_at`` guard replays)."""
    now = now or datetime.now(UTC)

    def work() -> str:
        event = db.session.execute(
            select(StripeEvent).where(StripeEvent.id == stored_id).with_for_update()
        ).scalar_one_or_none()
        if event is None:
            return "missing"
        if event.processed_at is not None:
            return "already processed"
        handler = HANDLERS.get(event.type)
        obj = (event.payload.get("data") or {}).get("object") or {}
        outcome = handler(obj, now) if handler else ("ignored", None)
        event.outcome, event.scheme_id = outcome
        event.processed_at = now
        return outcome[0]

    return run_atomic(work)


def pending_event_ids(now: datetime | None = None, older_than: int = 60) -> list[int]:
    """Stored events not processed yet (a job that failed), oldest first."""
    cutoff = (now or datetime.now(UTC)) - timedelta(seconds=older_than)
    ids = list(
        db.session.execute(
            select(StripeEvent.id)
            .where(StripeEvent.processed_at.is_(None), StripeEvent.received_at <= cutoff)
            .order_by(StripeEvent.id)
            .limit(500)
        ).scalars()
    )
    db.session.rollback()
    return ids


def _row_for_customer(customer: Any) -> SchemeBilling | None:
    if isinstance(customer, dict):
        customer = customer.get("id")
    if not customer:
        return None
    return db.session.execute(
        select(SchemeBilling).where(SchemeBilling.stripe_customer_id == customer).with_for_update()
    ).scalar_one_or_none()


Outcome = tuple[str, int | None]


def _on_checkout_completed(obj: dict[str, Any], now: datetime) -> Outcome:
    row = _row_for_customer(obj.get("customer"))
    if row is None:
        return "unknown customer", None
    if obj.get("subscription"):
        row.stripe_subscription_id = str(obj["subscription"])
    return "subscription recorded", row.scheme_id


def _on_subscription_updated(obj: dict[str, Any], now: datetime) -> Outcome:
    row = _row_for_customer(obj.get("customer"))
    if row is None:
        return "unknown customer", None
    if row.stripe_subscription_id and row.stripe_subscription_id != obj.get("id"):
        return "another subscription", row.scheme_id
    status = str(obj.get("status"))
    row.stripe_subscription_id = obj.get("id")
    row.subscription_status = status
    items = (obj.get("items") or {}).get("data") or []
    if items:
        plan_id = (items[0].get("plan") or {}).get("id")
        plan = plan_for_stripe_id(plan_id)
        if plan:
            row.subscription_plan = plan
        row.quantity = items[0].get("quantity") or row.quantity
    if status in ACTIVE_SUBSCRIPTION and row.subscription_plan:
        scheme_of(row).plan = row.subscription_plan
        row.plan_set_by_operator = False
    return f"subscription {status}", row.scheme_id


def _on_subscription_deleted(obj: dict[str, Any], now: datetime) -> Outcome:
    row = _row_for_customer(obj.get("customer"))
    if row is None:
        return "unknown customer", None
    if row.stripe_subscription_id not in (None, obj.get("id")):
        return "another subscription", row.scheme_id
    row.stripe_subscription_id = None
    row.subscription_status = "canceled"
    row.subscription_plan = None
    scheme = scheme_of(row)
    if not row.plan_set_by_operator:
        scheme.plan = "free"
    return "subscription ended", row.scheme_id


def _on_invoice_paid(obj: dict[str, Any], now: datetime) -> Outcome:
    row = _row_for_customer(obj.get("customer"))
    if row is None:
        return "unknown customer", None
    paid_at = (obj.get("status_transitions") or {}).get("paid_at")
    row.last_payment_at = datetime.fromtimestamp(paid_at, UTC) if paid_at else now
    row.last_payment_error = None
    if row.subscription_status in ("past_due", "incomplete", "unpaid"):
        row.subscription_status = "active"
        if row.subscription_plan:
            scheme_of(row).plan = row.subscription_plan
    reactivated = end_dunning(row, scheme_of(row))
    return "paid, scheme reactivated" if reactivated else "paid", row.scheme_id


def _on_invoice_payment_failed(obj: dict[str, Any], now: datetime) -> Outcome:
    row = _row_for_customer(obj.get("customer"))
    if row is None:
        return "unknown customer", None
    charge = obj.get("charge")
    message = None
    if isinstance(charge, dict):
        message = charge.get("failure_message")
    row.last_payment_error = message or "A payment failed."
    if row.status != "ok":
        return "payment failed again", row.scheme_id
    days = int(current_app.config.get("BILLING_GRACE_DAYS", 14))
    row.status = "grace"
    row.grace_until = now + timedelta(days=days)
    scheme = scheme_of(row)
    mail_coordinators(scheme, row, days)
    audit_billing(
        scheme.id,
        scheme.slug,
        "billing.grace_started",
        actor_user_id=None,
        details={"grace_until": row.grace_until.isoformat(), "error": row.last_payment_error},
    )
    return "grace period started", row.scheme_id


HANDLERS = {
    "checkout.session.completed": _on_checkout_completed,
    "customer.subscription.created": _on_subscription_updated,
    "customer.subscription.updated": _on_subscription_updated,
    "customer.subscription.deleted": _on_subscription_deleted,
    "invoice.paid": _on_invoice_paid,
    "invoice.payment_succeeded": _on_invoice_paid,
    "invoice.payment_failed": _on_invoice_payment_failed,
}
