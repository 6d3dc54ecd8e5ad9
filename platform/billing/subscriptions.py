"""Subscriptions: subscribe with a confirmed card, change plan, replace the card, cancel."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import stripe

from timebank.platform.api.errors import FieldError, RuleViolation
from timebank.platform.billing.customers import (
    StripeUnavailable,
    as_dict,
    ensure_customer,
    list_invoices,
    stripe_client,
    use_card,
)
from timebank.platform.billing.dunning import end_dunning
from timebank.platform.billing.plans import (
    ACTIVE_SUBSCRIPTION,
    PAID_PLANS,
    PLANS,
    active_member_count,
    audit_billing,
    billing_enabled,
    billing_row,
    find_billing,
    member_limit,
    plan_configured,
    stripe_plan_id,
)
from timebank.platform.db import atomic, db
from timebank.platform.identity.models import User
from timebank.platform.schemes.models import Scheme

log = logging.getLogger(__name__)


@dataclass
class SubscribeResult:
    status: str
    message: str | None


def overview(scheme: Scheme) -> dict[str, Any]:
    """What the billing page shows (invoices read from Stripe when billing is on)."""
    row = find_billing(scheme.id)
    members = active_member_count(scheme.id)
    limit = member_limit(scheme)
    result: dict[str, Any] = {
        "enabled": billing_enabled(),
        "plan": scheme.plan,
        "plan_label": PLANS.get(scheme.plan, PLANS["free"]).label,
        "members": members,
        "member_limit": limit,
        "over_limit": limit is not None and members >= limit,
        "plans": [PLANS[key] for key in PLANS if key == "free" or plan_configured(key)],
        "billing": row,
        "invoices": [],
        "invoices_error": None,
    }
    if billing_enabled() and row is not None and row.stripe_customer_id:
        try:
            result["invoices"] = list_invoices(row.stripe_customer_id)
        except stripe.StripeError as error:
            log.warning("could not list invoices: %s", error)
            result["invoices_error"] = "Invoices cannot be shown just now; try again later."
    return result


def _payment_error(subscription: dict[str, Any]) -> str | None:
    invoice = subscription.get("latest_invoice")
    if not isinstance(invoice, dict):
        return None
    intent = invoice.get("payment_intent")
    if isinstance(intent, dict) and intent.get("last_payment_error"):
        return str(intent["last_payment_error"].get("message") or "The card was declined.")
    charge = invoice.get("charge")
    if isinstance(charge, dict) and charge.get("failure_message"):
        return str(charge["failure_message"])
    return None


def subscribe(scheme: Scheme, *, plan: str, setup_intent_id: str, actor: User) -> SubscribeResult:
    """Subscribe to a paid plan with the card of a confirmed SetupIntent (server-side).

    A card that attaches but then fails to pay leaves the subscription
    ``incomplete``: the scheme stays on its plan and the coordinator is told why.
    """
    if scheme.sandbox:
        raise RuleViolation(
            "A sandbox is never billed: turn it into a live scheme first.", code="sandbox"
        )
    if plan not in PAID_PLANS:
        raise FieldError("plan", "Choose the community or organisation plan.")
    plan_id = stripe_plan_id(plan)
    customer_id = ensure_customer(scheme.id)
    card = use_card(customer_id, setup_intent_id)
    row = find_billing(scheme.id)
    existing = row.stripe_subscription_id if row else None
    existing_status = row.subscription_status if row else None
    quantity = max(1, active_member_count(scheme.id))
    db.session.rollback()
    api = stripe_client()
    try:
        if existing and existing_status in ("active", "trialing", "past_due"):
            current = as_dict(api.Subscription.retrieve(existing))
            item = current["items"]["data"][0]["id"]
            subscription = as_dict(
                api.Subscription.modify(
                    existing,
                    items=[{"id": item, "plan": plan_id, "quantity": quantity}],
                    expand=["latest_invoice.payment_intent"],
                )
            )
        else:
            if existing and existing_status == "incomplete":
                try:
                    api.Subscription.cancel(existing)
                except stripe.StripeError:
                    log.warning("could not cancel incomplete subscription %s", existing)
            subscription = as_dict(
                api.Subscription.create(
                    customer=customer_id,
                    items=[{"plan": plan_id, "quantity": quantity}],
                    payment_behavior="allow_incomplete",
                    metadata={"scheme_id": str(scheme.id)},
                    expand=["latest_invoice.payment_intent"],
                )
            )
    except stripe.CardError as error:
        return _record_failed_subscription(scheme, plan, error.user_message or "declined", actor)
    except stripe.StripeError as error:
        raise StripeUnavailable("The payment provider cannot be reached just now.") from error
    status = str(subscription.get("status"))
    message = None if status in ACTIVE_SUBSCRIPTION else _payment_error(subscription)
    if status not in ACTIVE_SUBSCRIPTION and not message:
        message = "The first payment did not go through."
    scheme_id, slug = scheme.id, scheme.slug

    @atomic
    def record() -> None:
        row = billing_row(scheme_id, lock=True)
        row.stripe_subscription_id = subscription["id"]
        row.subscription_plan = plan
        row.subscription_status = status
        row.quantity = quantity
        row.synced_at = datetime.now(UTC)
        row.last_payment_error = message
        target = db.session.get(Scheme, scheme_id)
        assert target is not None
        if status in ACTIVE_SUBSCRIPTION:
            target.plan = plan
            row.plan_set_by_operator = False
            row.last_payment_at = datetime.now(UTC)
            end_dunning(row, target)
        audit_billing(
            scheme_id,
            slug,
            "billing.subscribed",
            actor_user_id=actor.id,
            details={
                "plan": plan,
                "subscription": subscription["id"],
                "status": status,
                "quantity": quantity,
                "card": card,
                "error": message,
            },
        )

    record()
    return SubscribeResult(status, message)


def _record_failed_subscription(
    scheme: Scheme, plan: str, message: str, actor: User
) -> SubscribeResult:
    scheme_id, slug = scheme.id, scheme.slug

    @atomic
    def record() -> None:
        row = billing_row(scheme_id, lock=True)
        row.last_payment_error = message
        audit_billing(
            scheme_id,
            slug,
            "billing.subscription_failed",
            actor_user_id=actor.id,
            details={"plan": plan, "error": message},
        )

    record()
    return SubscribeResult("incomplete", message)


def change_plan(scheme: Scheme, *, plan: str, actor: User) -> SubscribeResult:
    """Move an existing subscription to another paid plan, or to ``free`` (cancels it)."""
    if plan not in PLANS:
        raise FieldError("plan", "Not a plan: choose free, community or organisation.")
    if plan == "free":
        cancel(scheme, actor=actor)
        return SubscribeResult("canceled", None)
    row = find_billing(scheme.id)
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
        raise RuleViolation("Add a card to subscribe to a paid plan.", code="card_required")
    subscription_id = row.stripe_subscription_id
    plan_id = stripe_plan_id(plan)
    quantity = max(1, active_member_count(scheme.id))
    db.session.rollback()
    api = stripe_client()
    try:
        current = as_dict(api.Subscription.retrieve(subscription_id))
        item = current["items"]["data"][0]["id"]
        updated = as_dict(
            api.Subscription.modify(
                subscription_id, items=[{"id": item, "plan": plan_id, "quantity": quantity}]
            )
        )
    except stripe.StripeError as error:
        raise StripeUnavailable("The payment provider cannot be reached just now.") from error
    scheme_id, slug = scheme.id, scheme.slug

    @atomic
    def record() -> None:
        row = billing_row(scheme_id, lock=True)
        row.subscription_plan = plan
        row.subscription_status = str(updated.get("status"))
        row.quantity = quantity
        target = db.session.get(Scheme, scheme_id)
        assert target is not None
        before = target.plan
        target.plan = plan
        row.plan_set_by_operator = False
        audit_billing(
            scheme_id,
            slug,
            "billing.plan_changed",
            actor_user_id=actor.id,
            details={"before": before, "after": plan},
        )

    record()
    return SubscribeResult(str(updated.get("status")), None)


def replace_card(scheme: Scheme, *, setup_intent_id: str, actor: User) -> SubscribeResult:
    """Make a newly confirmed card the default; retry an unpaid invoice with it."""
    customer_id = ensure_customer(scheme.id)
    card = use_card(customer_id, setup_intent_id)
    row = find_billing(scheme.id)
    subscription_id = row.stripe_subscription_id if row else None
    db.session.rollback()
    status = row.subscription_status if row else None
    message: str | None = None
    if subscription_id and status in ("past_due", "incomplete", "unpaid"):
        api = stripe_client()
        try:
            invoices = as_dict(
                api.Invoice.list(customer=customer_id, subscription=subscription_id, limit=10)
            )["data"]
            for invoice in invoices:
                if invoice.get("status") == "open":
                    api.Invoice.pay(invoice["id"])
            status = str(as_dict(api.Subscription.retrieve(subscription_id)).get("status"))
        except stripe.CardError as error:
            message = error.user_message or "The card was declined."
        except stripe.StripeError as error:
            raise StripeUnavailable("The payment provider cannot be reached just now.") from error
    scheme_id, slug = scheme.id, scheme.slug

    @atomic
    def record() -> None:
        row = billing_row(scheme_id, lock=True)
        row.subscription_status = status
        row.last_payment_error = message
        if status in ACTIVE_SUBSCRIPTION and row.subscription_plan:
            target = db.session.get(Scheme, scheme_id)
            assert target is not None
            target.plan = row.subscription_plan
        audit_billing(
            scheme_id,
            slug,
            "billing.card_replaced",
            actor_user_id=actor.id,
            details={"card": card, "status": status, "error": message},
        )

    record()
    return SubscribeResult(status or "none", message)


def cancel(scheme: Scheme, *, actor: User) -> None:
    """Cancel the subscription now; the scheme goes back to ``free``."""
    row = find_billing(scheme.id)
    subscription_id = row.stripe_subscription_id if row else None
    db.session.rollback()
    if subscription_id:
        try:
            stripe_client().Subscription.cancel(subscription_id)
        except stripe.InvalidRequestError:
            log.info("subscription %s already gone", subscription_id)
        except stripe.StripeError as error:
            raise StripeUnavailable("The payment provider cannot be reached just now.") from error
    scheme_id, slug = scheme.id, scheme.slug

    @atomic
    def record() -> None:
        row = billing_row(scheme_id, lock=True)
        row.subscription_status = "canceled" if subscription_id else None
        row.stripe_subscription_id = None
        row.subscription_plan = None
        target = db.session.get(Scheme, scheme_id)
        assert target is not None
        before = target.plan
        target.plan = "free"
        audit_billing(
            scheme_id,
            slug,
            "billing.canceled",
            actor_user_id=actor.id,
            details={"before": before, "subscription": subscription_id},
        )

    record()
