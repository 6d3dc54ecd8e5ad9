"""Stripe access, customers and cards.

Calls to Stripe are made outside database transactions (a slow Stripe must
not hold row locks); what they return is then recorded in one unit of work.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import stripe
from flask import current_app

from timebank.platform.api.errors import ApiError, FieldError, NotFound, RuleViolation
from timebank.platform.billing.plans import (
    audit_billing,
    billing_enabled,
    billing_row,
    find_billing,
)
from timebank.platform.db import after_commit, db, run_atomic
from timebank.platform.identity.models import User
from timebank.platform.jobs import enqueue
from timebank.platform.schemes.models import Scheme
from timebank.platform.schemes.services import provisioner

log = logging.getLogger(__name__)


def stripe_client() -> Any:
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


def as_dict(obj: Any) -> dict[str, Any]:
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)  # type: ignore[no-any-return]


def list_invoices(customer_id: str, limit: int = 12) -> list[dict[str, Any]]:
    invoices = as_dict(stripe_client().Invoice.list(customer=customer_id, limit=limit))["data"]
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


@provisioner(order=90)
def _request_customer(scheme: Scheme, _data: dict[str, Any], creator: User) -> None:
    """At sign-up: create the Stripe customer by a job after commit (never fails sign-up)."""
    if not billing_enabled():
        return
    scheme_id = scheme.id
    after_commit(
        lambda: enqueue_safely("timebank.platform.billing.jobs.create_customer", scheme_id)
    )


def enqueue_safely(path: str, *args: Any) -> None:

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
        customer = stripe_client().Customer.create(
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
        audit_billing(
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
        intent = stripe_client().SetupIntent.create(customer=customer_id, usage="off_session")
    except stripe.StripeError as error:
        raise StripeUnavailable("The payment provider cannot be reached just now.") from error
    return str(intent.client_secret)


def use_card(customer_id: str, setup_intent_id: str) -> str:
    """Check the confirmed SetupIntent and make its card the customer's default; the card id."""
    api = stripe_client()
    try:
        intent = as_dict(api.SetupIntent.retrieve(setup_intent_id))
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
        method = as_dict(api.PaymentMethod.retrieve(payment_method))
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
