"""Billing: plans as configuration, Stripe customers and subscriptions, dunning, usage.

Billing is *on* only when ``STRIPE_API_KEY`` is configured. Off (the embedded
default), every scheme is on ``free`` without the member limit and nothing
here calls Stripe.

Calls to Stripe are made outside database transactions (a slow Stripe must
not hold row locks); what they return is then recorded in one unit of work.
Billing never touches a ledger of time credits.

Webhook events are stored once by their Stripe id (a unique index: a replay
or a concurrent duplicate inserts nothing) and applied by a job that locks
the stored event and marks it processed, so each is applied exactly once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import stripe
from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite

from timebank.platform import audit, tenancy
from timebank.platform.api.errors import ApiError, FieldError, Forbidden, NotFound, RuleViolation
from timebank.platform.billing.models import SchemeBilling, StripeEvent
from timebank.platform.db import after_commit, atomic, db, run_atomic
from timebank.platform.identity.models import User
from timebank.platform.schemes.models import Scheme
from timebank.platform.schemes.services import provisioner, set_scheme_status

log = logging.getLogger(__name__)

OVERDUE_REASON = "Payment overdue"
ACTIVE_SUBSCRIPTION = ("active", "trialing")
LIVE_SUBSCRIPTION = ("active", "trialing", "past_due", "incomplete", "unpaid")


@dataclass(frozen=True)
class Plan:
    key: str
    label: str
    description: str
    member_limit: int | None
    config_key: str | None  # the setting holding the Stripe Plan id


PLANS: dict[str, Plan] = {
    "free": Plan("free", "Free", "Up to 30 active members, no charge.", 30, None),
    "community": Plan(
        "community",
        "Community",
        "Priced per active member per month.",
        None,
        "STRIPE_PLAN_COMMUNITY",
    ),
    "organisation": Plan(
        "organisation",
        "Organisation",
        "Priced per active member per month, for organisations.",
        None,
        "STRIPE_PLAN_ORGANISATION",
    ),
}
PAID_PLANS = ("community", "organisation")


# --- configuration -------------------------------------------------------


def billing_enabled() -> bool:
    return bool(current_app.config.get("STRIPE_API_KEY"))


def member_limit(scheme: Scheme) -> int | None:
    """The most active members the scheme's plan allows (``None``: no limit).

    No limit with billing off, nor on a plan an operator set by hand (a free
    plan for a charity).
    """
    if not billing_enabled():
        return None
    row = find_billing(scheme.id)
    if row is not None and row.plan_set_by_operator:
        return None
    plan = scheme.plan
    if plan == "free":
        return int(current_app.config.get("BILLING_FREE_MEMBER_LIMIT", 30))
    return PLANS[plan].member_limit if plan in PLANS else None


def stripe_plan_id(plan: str) -> str:
    config_key = PLANS[plan].config_key if plan in PLANS else None
    plan_id = current_app.config.get(config_key) if config_key else None
    if not plan_id:
        raise FieldError("plan", f"The {plan} plan cannot be bought here.")
    return str(plan_id)


def plan_for_stripe_id(plan_id: str | None) -> str | None:
    for key in PAID_PLANS:
        if plan_id and current_app.config.get(PLANS[key].config_key or "") == plan_id:
            return key
    return None


def _stripe() -> Any:
    """The stripe module, pointed at the configured server (``STRIPE_API_BASE``: localstripe)."""
    if not billing_enabled():
        raise RuntimeError("billing is off: nothing may call Stripe")
    stripe.api_key = current_app.config["STRIPE_API_KEY"]
    base = current_app.config.get("STRIPE_API_BASE")
    if base:
        stripe.api_base = base
    stripe.max_network_retries = 2
    return stripe


class StripeUnavailable(ApiError):
    status = 503
    code = "billing_unavailable"


def _as_dict(obj: Any) -> dict[str, Any]:
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)  # type: ignore[no-any-return]


# --- reads ---------------------------------------------------------------


def active_member_count(scheme_id: int) -> int:
    from timebank.tenants.memberships.models import Member

    with tenancy.scheme_context(scheme_id):
        return int(
            db.session.execute(
                select(func.count()).select_from(Member).where(Member.status == "active")
            ).scalar_one()
        )


def billing_row(scheme_id: int, *, lock: bool = False) -> SchemeBilling:
    """The scheme's billing row (created empty on first use)."""
    query = select(SchemeBilling).where(SchemeBilling.scheme_id == scheme_id)
    if lock:
        query = query.with_for_update()
    row = db.session.execute(query).scalar_one_or_none()
    if row is None:
        row = SchemeBilling(scheme_id=scheme_id, status="ok")
        db.session.add(row)
        db.session.flush()
    return row


def find_billing(scheme_id: int) -> SchemeBilling | None:
    return db.session.get(SchemeBilling, scheme_id)


def check_can_invite(scheme: Scheme) -> None:
    """Refuse a new invitation when the scheme is at its plan's member limit (trading goes on)."""
    limit = member_limit(scheme)
    if limit is None:
        return
    members = active_member_count(scheme.id)
    if members >= limit:
        raise Forbidden(
            f"{scheme.name} has {members} active members, the most the "
            f"{PLANS[scheme.plan].label} plan allows ({limit}). Members can still trade; "
            f"to invite more, a coordinator can change the plan on the billing page "
            f"(/s/{scheme.slug}/billing).",
            code="plan_limit_reached",
        )


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
        "plans": [PLANS[key] for key in PLANS if key == "free" or _plan_configured(key)],
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


def _plan_configured(key: str) -> bool:
    config_key = PLANS[key].config_key
    return bool(config_key and current_app.config.get(config_key))


def list_invoices(customer_id: str, limit: int = 12) -> list[dict[str, Any]]:
    invoices = _as_dict(_stripe().Invoice.list(customer=customer_id, limit=limit))["data"]
    rows = []
    for invoice in invoices:
        created = invoice.get("created") or invoice.get("date")
        rows.append(
            {
                "id": invoice["id"],
                "number": invoice.get("number") or invoice["id"],
                "date": datetime.fromtimestamp(created, UTC) if created else None,
                "amount": (invoice.get("total") or 0) / 100,
                "currency": (invoice.get("currency") or "").upper(),
                "status": invoice.get("status"),
            }
        )
    return rows


# --- customers -----------------------------------------------------------


@provisioner(order=90)
def _request_customer(scheme: Scheme, _data: dict[str, Any], creator: User) -> None:
    """At sign-up: create the Stripe customer by a job after commit (never fails sign-up)."""
    if not billing_enabled():
        return
    scheme_id = scheme.id
    after_commit(
        lambda: _enqueue_safely("timebank.platform.billing.jobs.create_customer", scheme_id)
    )


def _enqueue_safely(path: str, *args: Any) -> None:
    from timebank.platform.jobs import enqueue

    try:
        enqueue("billing", path, *args)
    except Exception:  # Stripe or Redis down: the billing page creates it later
        log.exception("could not run %s%r", path, args)


def ensure_customer(scheme_id: int) -> str:
    """The scheme's Stripe customer id, creating the customer once (idempotent)."""
    row = find_billing(scheme_id)
    if row is not None and row.stripe_customer_id:
        return row.stripe_customer_id
    scheme = db.session.get(Scheme, scheme_id)
    if scheme is None:
        raise NotFound("No scheme with this address.")
    creator = db.session.get(User, scheme.created_by) if scheme.created_by else None
    db.session.rollback()  # no transaction held open across the call to Stripe
    try:
        customer = _stripe().Customer.create(
            name=scheme.name,
            email=creator.email if creator else None,
            metadata={"scheme_id": str(scheme.id), "slug": scheme.slug},
            idempotency_key=f"timebank-customer-{scheme.id}",
        )
    except stripe.StripeError as error:
        raise StripeUnavailable(
            "The payment provider cannot be reached just now; try again later."
        ) from error

    def record() -> str:
        row = billing_row(scheme_id, lock=True)
        if row.stripe_customer_id:  # another request got there first
            return row.stripe_customer_id
        row.stripe_customer_id = customer.id
        _audit(
            scheme_id,
            scheme.slug,
            "billing.customer_created",
            actor_user_id=None,
            details={"customer": customer.id},
        )
        return customer.id

    return run_atomic(record)


def start_card_setup(scheme: Scheme) -> str:
    """A SetupIntent for the billing page's card form; its client secret."""
    customer_id = ensure_customer(scheme.id)
    try:
        intent = _stripe().SetupIntent.create(customer=customer_id, usage="off_session")
    except stripe.StripeError as error:
        raise StripeUnavailable("The payment provider cannot be reached just now.") from error
    return str(intent.client_secret)


def _use_card(customer_id: str, setup_intent_id: str) -> str:
    """Check the confirmed SetupIntent and make its card the customer's default; the card id."""
    api = _stripe()
    try:
        intent = _as_dict(api.SetupIntent.retrieve(setup_intent_id))
    except stripe.InvalidRequestError as error:
        raise FieldError("setup_intent", "This card set-up is not known.") from error
    if intent.get("customer") != customer_id:
        raise FieldError("setup_intent", "This card set-up is not known.")
    if intent.get("status") != "succeeded" or not intent.get("payment_method"):
        raise RuleViolation(
            "The card was not confirmed; enter it again.", code="card_not_confirmed"
        )
    payment_method = intent["payment_method"]
    if isinstance(payment_method, dict):
        payment_method = payment_method["id"]
    try:
        method = _as_dict(api.PaymentMethod.retrieve(payment_method))
        if method.get("customer") != customer_id:
            api.PaymentMethod.attach(payment_method, customer=customer_id)
        api.Customer.modify(
            customer_id, invoice_settings={"default_payment_method": payment_method}
        )
    except stripe.CardError as error:
        raise RuleViolation(
            f"The card was refused: {error.user_message or 'declined'}", code="card_declined"
        ) from error
    return str(payment_method)


# --- subscriptions -------------------------------------------------------


@dataclass
class SubscribeResult:
    status: str
    message: str | None


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
    if plan not in PAID_PLANS:
        raise FieldError("plan", "Choose the community or organisation plan.")
    plan_id = stripe_plan_id(plan)
    customer_id = ensure_customer(scheme.id)
    card = _use_card(customer_id, setup_intent_id)
    row = find_billing(scheme.id)
    existing = row.stripe_subscription_id if row else None
    existing_status = row.subscription_status if row else None
    quantity = max(1, active_member_count(scheme.id))
    db.session.rollback()
    api = _stripe()
    try:
        if existing and existing_status in ("active", "trialing", "past_due"):
            current = _as_dict(api.Subscription.retrieve(existing))
            item = current["items"]["data"][0]["id"]
            subscription = _as_dict(
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
            subscription = _as_dict(
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
            _end_dunning(row, target)
        _audit(
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


def _audit(
    scheme_id: int, slug: str, action: str, *, actor_user_id: int | None, details: dict[str, Any]
) -> None:
    """A billing entry in the scheme's own audit log (billing runs outside any scheme; leaving
    the context flushes the entry under it)."""
    with tenancy.scheme_context(scheme_id):
        audit.record(
            scheme_id, action, actor_user_id=actor_user_id, target=f"scheme:{slug}", details=details
        )


def _record_failed_subscription(
    scheme: Scheme, plan: str, message: str, actor: User
) -> SubscribeResult:
    scheme_id, slug = scheme.id, scheme.slug

    @atomic
    def record() -> None:
        row = billing_row(scheme_id, lock=True)
        row.last_payment_error = message
        _audit(
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
    api = _stripe()
    try:
        current = _as_dict(api.Subscription.retrieve(subscription_id))
        item = current["items"]["data"][0]["id"]
        updated = _as_dict(
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
        _audit(
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
    card = _use_card(customer_id, setup_intent_id)
    row = find_billing(scheme.id)
    subscription_id = row.stripe_subscription_id if row else None
    db.session.rollback()
    status = row.subscription_status if row else None
    message: str | None = None
    if subscription_id and status in ("past_due", "incomplete", "unpaid"):
        api = _stripe()
        try:
            invoices = _as_dict(
                api.Invoice.list(customer=customer_id, subscription=subscription_id, limit=10)
            )["data"]
            for invoice in invoices:
                if invoice.get("status") == "open":
                    api.Invoice.pay(invoice["id"])
            status = str(_as_dict(api.Subscription.retrieve(subscription_id)).get("status"))
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
        _audit(
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
            _stripe().Subscription.cancel(subscription_id)
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
        _audit(
            scheme_id,
            slug,
            "billing.canceled",
            actor_user_id=actor.id,
            details={"before": before, "subscription": subscription_id},
        )

    record()


# --- usage ---------------------------------------------------------------


def sync_usage(scheme_id: int, now: datetime | None = None) -> int | None:
    """Set the subscription's quantity to the active member count; the quantity (or None)."""
    if not billing_enabled():
        return None
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
    api = _stripe()
    current = _as_dict(api.Subscription.retrieve(subscription_id))
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
        .where(
            SchemeBilling.stripe_subscription_id.is_not(None),
            SchemeBilling.subscription_status.in_(("active", "trialing", "past_due")),
        )
        .order_by(SchemeBilling.scheme_id)
    ).scalars()
    result = list(ids)
    db.session.rollback()
    return result


# --- webhooks ------------------------------------------------------------


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
    body = _as_dict(event)
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
                lambda: _enqueue_safely("timebank.platform.billing.jobs.process_event", stored)
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


def _scheme(row: SchemeBilling) -> Scheme:
    scheme = db.session.get(Scheme, row.scheme_id)
    assert scheme is not None
    return scheme


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
        _scheme(row).plan = row.subscription_plan
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
    scheme = _scheme(row)
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
            _scheme(row).plan = row.subscription_plan
    reactivated = _end_dunning(row, _scheme(row))
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
    scheme = _scheme(row)
    _mail_coordinators(scheme, row, days)
    _audit(
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


# --- dunning -------------------------------------------------------------

SYSTEM = cast(User, SimpleNamespace(id=None))


def _end_dunning(row: SchemeBilling, scheme: Scheme) -> bool:
    """Clear the grace period; reactivate a scheme that billing suspended. True if reactivated."""
    was_suspended = row.status == "suspended"
    row.status = "ok"
    row.grace_until = None
    if was_suspended and scheme.status == "suspended" and scheme.suspended_reason == OVERDUE_REASON:
        set_scheme_status(scheme.slug, "active", actor=SYSTEM)
        return True
    return False


def _mail_coordinators(scheme: Scheme, row: SchemeBilling, days: int) -> None:
    from timebank.platform.mail import send_mail
    from timebank.tenants.memberships.models import Member

    with tenancy.scheme_context(scheme.id):
        people = db.session.execute(
            select(User.email, User.name)
            .join(Member, Member.user_id == User.id)
            .where(Member.role == "coordinator", Member.status == "active")
            .order_by(User.id)
        ).all()
    link = f"{current_app.config['BASE_URL']}/s/{scheme.slug}/billing"
    for email, name in people:
        send_mail(
            to=email,
            template="dunning",
            context={
                "scheme_name": scheme.name,
                "name": name,
                "grace_until": row.grace_until,
                "days": days,
                "error": row.last_payment_error,
                "link": link,
            },
        )


def end_grace_periods(now: datetime | None = None) -> list[str]:
    """Suspend for writes every scheme whose grace period ended unpaid; their slugs."""
    now = now or datetime.now(UTC)
    due = list(
        db.session.execute(
            select(SchemeBilling.scheme_id).where(
                SchemeBilling.status == "grace", SchemeBilling.grace_until <= now
            )
        ).scalars()
    )
    db.session.rollback()
    suspended = []
    for scheme_id in due:

        def work(scheme_id: int = scheme_id) -> str | None:
            row = billing_row(scheme_id, lock=True)
            if row.status != "grace" or row.grace_until is None or row.grace_until > now:
                return None  # paid meanwhile
            row.status = "suspended"
            scheme = _scheme(row)
            if scheme.status != "suspended":
                set_scheme_status(scheme.slug, "suspended", actor=SYSTEM, reason=OVERDUE_REASON)
            return scheme.slug

        slug = run_atomic(work)
        if slug:
            suspended.append(slug)
    return suspended


# --- operators -----------------------------------------------------------


def describe_for_operators(schemes: list[Scheme]) -> list[dict[str, Any]]:
    from timebank.platform.operators.services import describe_schemes

    rows = describe_schemes(schemes)
    ids = [scheme.id for scheme in schemes]
    billing = (
        {
            row.scheme_id: row
            for row in db.session.execute(
                select(SchemeBilling).where(SchemeBilling.scheme_id.in_(ids))
            ).scalars()
        }
        if ids
        else {}
    )
    for scheme, out in zip(schemes, rows, strict=True):
        row = billing.get(scheme.id)
        out["billing_status"] = row.status if row else "ok"
        out["subscription_status"] = row.subscription_status if row else None
        out["last_payment_at"] = row.last_payment_at if row else None
        out["grace_until"] = row.grace_until if row else None
        out["plan_set_by_operator"] = bool(row and row.plan_set_by_operator)
    return rows


@atomic
def set_plan_by_hand(slug: str, plan: str, *, actor: User, reason: str | None = None) -> Scheme:
    """An operator puts a scheme on a plan (e.g. free for a charity), audited."""
    if plan not in PLANS:
        raise FieldError("plan", "Not a plan: choose free, community or organisation.")
    scheme = db.session.execute(
        select(Scheme).where(Scheme.slug == slug).with_for_update()
    ).scalar_one_or_none()
    if scheme is None:
        raise NotFound("No scheme with this address.")
    row = billing_row(scheme.id, lock=True)
    before = scheme.plan
    scheme.plan = plan
    row.plan_set_by_operator = True
    _audit(
        scheme.id,
        slug,
        "billing.plan_set_by_operator",
        actor_user_id=actor.id,
        details={"before": before, "after": plan, "reason": reason},
    )
    return scheme
