"""Billing jobs (queue ``billing``): customer creation, webhook events, usage sync, dunning.

Jobs take primitive ids and are idempotent: a retried or repeated run changes
nothing more than the first.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from timebank.platform.billing import customers, dunning, plans, usage, webhooks
from timebank.platform.jobs import job

log = logging.getLogger(__name__)


@job
def create_customer(scheme_id: int) -> str | None:
    """Create the scheme's Stripe customer (once; retried by the worker if Stripe is down)."""
    if not plans.billing_enabled():
        return None
    return customers.ensure_customer(scheme_id)


@job
def process_event(stored_id: int) -> str:
    return webhooks.process_event(stored_id)


@job
def process_pending_events() -> int:
    """Apply stored events whose job failed (periodic)."""
    done = 0
    for stored_id in webhooks.pending_event_ids():
        try:
            webhooks.process_event(stored_id)
            done += 1
        except Exception:
            log.exception("stripe event %s failed", stored_id)
    return done


@job
def sync_usage(scheme_id: int) -> int | None:
    return usage.sync_usage(scheme_id)


@job
def sync_all_usage() -> int:
    """Set every subscription's quantity to its scheme's active members (periodic)."""
    if not plans.billing_enabled():
        return 0
    synced = 0
    for scheme_id in usage.subscribed_scheme_ids():
        try:
            usage.sync_usage(scheme_id)
            synced += 1
        except Exception:  # one scheme's failure must not stop the others
            log.exception("usage sync failed for scheme %s", scheme_id)
    return synced


@job
def end_grace_periods() -> list[str]:
    """Suspend for writes the schemes whose grace period ended unpaid (periodic)."""
    return dunning.end_grace_periods()


def due_for_billing(now: datetime) -> list[tuple[str, str, str, tuple[Any, ...]]]:
    """The scheduler's hourly billing work: ``(marker, queue, path, args)``; none when off."""
    if not plans.billing_enabled():
        return []
    hour = f"{now.astimezone(UTC):%Y-%m-%dT%H}"
    return [
        (f"billing-{name}:{hour}", "billing", f"timebank.platform.billing.jobs.{name}", ())
        for name in ("sync_all_usage", "end_grace_periods", "process_pending_events")
    ]
