"""Usage: a subscription's quantity follows the scheme's active member count."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from timebank.platform.billing.customers import (
    as_dict,
    stripe_client,
)
from timebank.platform.billing.models import SchemeBilling
from timebank.platform.billing.plans import (
    active_member_count,
    billing_enabled,
    billing_row,
    find_billing,
)
from timebank.platform.db import atomic, db
from timebank.platform.schemes.models import Scheme


def sync_usage(scheme_id: int, now: datetime | None = None) -> int | None:
    """Set the subscription's quantity to the active member count; the quantity (or None)."""
    if not billing_enabled():
        return None
    if db.session.execute(select(Scheme.sandbox).where(Scheme.id == scheme_id)).scalar():
        return None  # a sandbox is never billed
    row = find_billing(scheme_id)
    if (
        row is None
        or not row.stripe_subscription_id
        or row.subscription_status
        not in (
            "active",
            "trialing",
            "past_due",
        )
    ):
        return None
    subscription_id = row.stripe_subscription_id
    quantity = max(1, active_member_count(scheme_id))
    db.session.rollback()
    api = stripe_client()
    current = as_dict(api.Subscription.retrieve(subscription_id))
    item = current["items"]["data"][0]
    if item.get("quantity") != quantity:
        api.Subscription.modify(
            subscription_id,
            items=[{"id": item["id"], "quantity": quantity}],
        )

    @atomic
    def record() -> None:
        row = billing_row(scheme_id, lock=True)
        row.quantity = quantity
        row.synced_at = now or datetime.now(UTC)

    record()
    return quantity


def subscribed_scheme_ids() -> list[int]:
    ids = db.session.execute(
        select(SchemeBilling.scheme_id)
        .join(Scheme, Scheme.id == SchemeBilling.scheme_id)
        .where(
            Scheme.sandbox.is_(False),
            SchemeBilling.stripe_subscription_id.is_not(None),
            SchemeBilling.subscription_status.in_(("active", "trialing", "past_due")),
        )
        .order_by(SchemeBilling.scheme_id)
    ).scalars()
    result = list(ids)
    db.session.rollback()
    return result
