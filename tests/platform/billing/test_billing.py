"""Billing against a real localstripe: customers, subscriptions, usage, webhooks, dunning."""

from __future__ import annotations

import os
import re
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import stripe
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.factories import PASSWORD, Person, World, add_member, make_operator, make_user, problem
from tests.platform.billing.conftest import (
    PLAN_COMMUNITY,
    billing_config,
    closed_port_url,
    confirm_card,
    event,
    sign,
)
from timebank.platform.billing import customers, dunning, webhooks
from timebank.platform.billing.models import SchemeBilling, StripeEvent
from timebank.platform.db import db
from timebank.platform.schemes.models import Scheme

WEBHOOK = "/billing/stripe/webhook"


def billing(app: Flask, scheme_id: int) -> SchemeBilling:
    with app.app_context():
        row = db.session.get(SchemeBilling, scheme_id)
        assert row is not None
        db.session.expunge(row)
        return row


def scheme_row(app: Flask, scheme_id: int) -> Scheme:
    with app.app_context():
        row = db.session.get(Scheme, scheme_id)
        assert row is not None
        db.session.expunge(row)
        return row


def logged_in(app: Flask, person: Person) -> FlaskClient:
    client = app.test_client()
    response = client.post("/login", data={"email": person.email, "password": PASSWORD})
    assert response.status_code == 302, response.data
    return client


def page_text(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.data
    body = re.sub(r"<script.*?</script>", " ", response.get_data(as_text=True), flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)).replace("&#39;", "'")


def subscribe(app: Flask, base: str, world: World, card: str, plan: str = "community") -> str:
    """The server-side flow of the billing page; the page text after it."""
    coordinator = logged_in(app, world.a.coordinator)
    secret = coordinator.post(f"/s/{world.a.slug}/billing/setup-intent").get_json()
    assert "client_secret" in secret, secret
    confirmed = confirm_card(base, secret["client_secret"], card)
    assert confirmed["status"] == "succeeded"
    response = coordinator.post(
        f"/s/{world.a.slug}/billing/subscribe",
        data={"plan": plan, "setup_intent": confirmed["id"]},
    )
    assert response.status_code == 302, response.data
    return page_text(coordinator, f"/s/{world.a.slug}/billing")


def post_event(client: FlaskClient, payload: bytes, **sign_kw: Any) -> Any:
    return client.post(
        WEBHOOK,
        data=payload,
        headers={"Stripe-Signature": sign(payload, **sign_kw), "Content-Type": "application/json"},
    )


def stored_events(app: Flask) -> int:
    with app.app_context():
        return int(db.session.execute(select(func.count()).select_from(StripeEvent)).scalar_one())


# --- customers and plans -------------------------------------------------------


def test_sign_up_creates_the_stripe_customer(app: Flask, world: World, localstripe: str) -> None:
    for info in (world.a, world.b):
        row = billing(app, info.id)
        assert row.stripe_customer_id and row.stripe_customer_id.startswith("cus_")
        customer = stripe.Customer.retrieve(row.stripe_customer_id).to_dict()
        assert customer["metadata"] == {"scheme_id": str(info.id), "slug": info.slug}
    assert (
        billing(app, world.a.id).stripe_customer_id != billing(app, world.b.id).stripe_customer_id
    )


def test_sign_up_succeeds_while_stripe_is_down(app: Flask, world: World) -> None:
    app.config["STRIPE_API_BASE"] = closed_port_url()
    try:
        response = world.api(world.a.coordinator).post(
            "/api/v1/schemes", {"name": "Gamma", "slug": "gamma-bank", "template": "community"}
        )
        assert response.status_code == 201, response.data
        with app.app_context():
            gamma = db.session.execute(
                select(Scheme).where(Scheme.slug == "gamma-bank")
            ).scalar_one()
            assert db.session.get(SchemeBilling, gamma.id) is None
            gamma_id = gamma.id
    finally:
        app.config["STRIPE_API_BASE"] = billing_config(
            app.config["STRIPE_JS_URL"].split("/js.")[0]
        )["STRIPE_API_BASE"]
    # Once Stripe is back, the customer is made on first need (the job, or the billing page).
    with app.app_context():
        customer = customers.ensure_customer(gamma_id)
        assert customer.startswith("cus_")
        assert customers.ensure_customer(gamma_id) == customer


def test_free_plan_limit_stops_invitations_not_trading(app: Flask, world: World) -> None:
    coordinator = world.api(world.a.coordinator)
    invite = coordinator.post(
        f"/api/v1/schemes/{world.a.slug}/invitations", {"email": "new@example.test"}
    )
    body = problem(invite)
    assert invite.status_code == 403 and body["code"] == "plan_limit_reached"
    assert "3 active members" in body["detail"] and f"/s/{world.a.slug}/billing" in body["detail"]
    # Trading goes on.
    from tests.factories import fund

    fund(app, world.a, world.a.members[0], 60)
    pay = world.api(world.a.members[0]).post(
        f"/api/v1/schemes/{world.a.slug}/transfers",
        {"to_member_id": world.a.members[1].member_ids[world.a.slug], "amount": 10},
    )
    assert pay.status_code == 201, pay.data
    # The coordinator sees why on the billing page.
    text = page_text(logged_in(app, world.a.coordinator), f"/s/{world.a.slug}/billing")
    assert "reached the Free plan's limit of 3 active members" in text

    # An operator puts the scheme on the free plan by hand (a charity): no limit, audited.
    operator = world.api(make_operator(app))
    assert (
        world.api(world.a.coordinator)
        .post(f"/api/v1/platform/billing/schemes/{world.a.slug}/plan", {"plan": "free"})
        .status_code
        == 403
    )
    response = operator.post(
        f"/api/v1/platform/billing/schemes/{world.a.slug}/plan",
        {"plan": "free", "reason": "Registered charity"},
    )
    assert response.status_code == 200 and response.get_json() == {
        "slug": world.a.slug,
        "plan": "free",
    }
    bad = operator.post(f"/api/v1/platform/billing/schemes/{world.a.slug}/plan", {"plan": "gold"})
    assert bad.status_code == 422 and "plan" in problem(bad)["errors"]
    assert (
        coordinator.post(
            f"/api/v1/schemes/{world.a.slug}/invitations", {"email": "new@example.test"}
        ).status_code
        == 201
    )
    audit = coordinator.get(f"/api/v1/schemes/{world.a.slug}/audit")
    if audit.status_code == 200:
        actions = [item["action"] for item in audit.get_json()["items"]]
        assert "billing.plan_set_by_operator" in actions
    # The other scheme is still limited: nothing leaked across.
    other = world.api(world.b.coordinator).post(
        f"/api/v1/schemes/{world.b.slug}/invitations", {"email": "new@example.test"}
    )
    assert other.status_code == 403 and problem(other)["code"] == "plan_limit_reached"


# --- subscriptions and usage ---------------------------------------------------


def test_subscribe_with_4242_then_usage_sync_sets_quantity(
    app: Flask, world: World, localstripe: str
) -> None:
    text = subscribe(app, localstripe, world, "4242424242424242")
    assert "the subscription is active" in text
    row = billing(app, world.a.id)
    assert row.subscription_status == "active" and row.quantity == 3
    assert scheme_row(app, world.a.id).plan == "community"
    sub = stripe.Subscription.retrieve(row.stripe_subscription_id).to_dict()
    assert sub["status"] == "active" and sub["items"]["data"][0]["plan"]["id"] == PLAN_COMMUNITY
    customer = stripe.Customer.retrieve(row.stripe_customer_id).to_dict()
    assert customer["invoice_settings"]["default_payment_method"].startswith("pm_")
    assert "Community" in text and "paid" in text  # plan and the invoice list

    # Over the free limit now: invitations work on the paid plan.
    invite = world.api(world.a.coordinator).post(
        f"/api/v1/schemes/{world.a.slug}/invitations", {"email": "new@example.test"}
    )
    assert invite.status_code == 201
    for n in range(2):
        add_member(app, world.a, make_user(app, name=f"New {n}"))
    from timebank.platform.billing.jobs import sync_all_usage

    with app.app_context():
        assert sync_all_usage() == 1
    sub = stripe.Subscription.retrieve(row.stripe_subscription_id).to_dict()
    assert sub["items"]["data"][0]["quantity"] == 5
    assert billing(app, world.a.id).quantity == 5
    # The other scheme has no subscription and was not touched.
    other = billing(app, world.b.id)
    assert other.stripe_subscription_id is None and scheme_row(app, world.b.id).plan == "free"

    # Cancel: back to free.
    coordinator = logged_in(app, world.a.coordinator)
    assert coordinator.post(f"/s/{world.a.slug}/billing/cancel").status_code == 302
    assert scheme_row(app, world.a.id).plan == "free"
    sub = stripe.Subscription.retrieve(row.stripe_subscription_id).to_dict()
    assert sub["status"] == "canceled"


def test_declining_card_leaves_subscription_incomplete_and_says_why(
    app: Flask, world: World, localstripe: str
) -> None:
    text = subscribe(app, localstripe, world, "4000000000000341")
    assert "Your card was declined" in text
    assert "not active" in text
    row = billing(app, world.a.id)
    assert row.subscription_status == "incomplete"
    assert row.last_payment_error == "Your card was declined."
    assert stripe.Subscription.retrieve(row.stripe_subscription_id).to_dict()["status"] == (
        "incomplete"
    )
    assert scheme_row(app, world.a.id).plan == "free"
    # Members of the other scheme cannot see this scheme's billing page.
    other = logged_in(app, world.b.coordinator)
    assert other.get(f"/s/{world.a.slug}/billing").status_code == 404
    member = logged_in(app, world.a.members[0])
    assert member.get(f"/s/{world.a.slug}/billing").status_code == 403


def test_change_plan_needs_a_subscription(app: Flask, world: World, localstripe: str) -> None:
    coordinator = logged_in(app, world.a.coordinator)
    coordinator.post(f"/s/{world.a.slug}/billing/plan", data={"plan": "organisation"})
    text = page_text(coordinator, f"/s/{world.a.slug}/billing")
    assert "Add a card to subscribe" in text
    subscribe(app, localstripe, world, "4242424242424242")
    coordinator.post(f"/s/{world.a.slug}/billing/plan", data={"plan": "organisation"})
    assert scheme_row(app, world.a.id).plan == "organisation"


# --- webhooks ------------------------------------------------------------------


def failed_invoice(customer: str) -> dict[str, Any]:
    return {
        "id": "in_test",
        "object": "invoice",
        "customer": customer,
        "status": "open",
        "charge": {"failure_message": "Your card was declined."},
    }


def paid_invoice(customer: str) -> dict[str, Any]:
    return {
        "id": "in_test2",
        "object": "invoice",
        "customer": customer,
        "status": "paid",
        "status_transitions": {"paid_at": int(time.time())},
    }


def test_webhook_signatures_are_verified(app: Flask, world: World, client: FlaskClient) -> None:
    customer = billing(app, world.a.id).stripe_customer_id
    assert customer
    payload = event("invoice.payment_failed", failed_invoice(customer))
    missing = client.post(WEBHOOK, data=payload)
    assert missing.status_code == 400 and problem(missing)["code"] == "invalid_signature"
    tampered = payload.replace(b"Your card", b"My card")
    response = client.post(WEBHOOK, data=tampered, headers={"Stripe-Signature": sign(payload)})
    assert response.status_code == 400 and problem(response)["code"] == "invalid_signature"
    wrong_secret = post_event(client, payload, secret="whsec_other")
    assert wrong_secret.status_code == 400
    stale = post_event(client, payload, timestamp=int(time.time()) - 3600)
    assert stale.status_code == 400 and problem(stale)["code"] == "invalid_signature"
    garbage = b"not json"
    assert post_event(client, garbage).status_code == 400
    assert stored_events(app) == 0
    assert billing(app, world.a.id).status == "ok"


def test_valid_event_is_applied_once_when_sent_twice(
    app: Flask, world: World, client: FlaskClient, outbox: Path
) -> None:
    customer = billing(app, world.a.id).stripe_customer_id
    assert customer
    payload = event("invoice.payment_failed", failed_invoice(customer))
    first = post_event(client, payload)
    assert first.status_code == 200 and first.get_json()["duplicate"] is False
    row = billing(app, world.a.id)
    assert row.status == "grace" and row.grace_until is not None
    grace_until = row.grace_until
    again = post_event(client, payload)  # a replay, freshly signed
    assert again.status_code == 200 and again.get_json()["duplicate"] is True
    assert stored_events(app) == 1
    assert billing(app, world.a.id).grace_until == grace_until
    mails = [p.read_text() for p in outbox.glob("*.eml")]
    dunning_mails = [m for m in mails if "Payment for Alpha Time Bank failed" in m]
    assert len(dunning_mails) == 1 and world.a.coordinator.email in dunning_mails[0]
    # Processing the stored event again (a retried job) changes nothing.
    with app.app_context():
        stored = db.session.execute(select(StripeEvent.id)).scalar_one()
        assert webhooks.process_event(stored) == "already processed"
    # The other scheme saw nothing.
    assert billing(app, world.b.id).status == "ok"
    assert not any(world.b.coordinator.email in m for m in mails)


@pytest.mark.skipif(not os.environ.get("DATABASE_URL"), reason="needs PostgreSQL row locks")
def test_concurrent_duplicates_are_applied_once(app: Flask, world: World) -> None:
    customer = billing(app, world.a.id).stripe_customer_id
    assert customer
    payload = event("invoice.payment_failed", failed_invoice(customer))
    header = sign(payload)
    barrier = threading.Barrier(6)
    results: list[Any] = []

    def send() -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post(WEBHOOK, data=payload, headers={"Stripe-Signature": header})
        results.append((response.status_code, response.get_json()))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [code for code, _ in results] == [200] * 6
    assert sorted(body["duplicate"] for _, body in results) == [False] + [True] * 5
    assert stored_events(app) == 1
    with app.app_context():
        stored = db.session.execute(select(StripeEvent)).scalar_one()
        assert stored.processed_at is not None and stored.outcome == "grace period started"


def test_subscription_events_update_the_plan(app: Flask, world: World, client: FlaskClient) -> None:
    customer = billing(app, world.a.id).stripe_customer_id
    assert customer
    subscription = {
        "id": "sub_webhook",
        "object": "subscription",
        "customer": customer,
        "status": "active",
        "items": {"data": [{"plan": {"id": PLAN_COMMUNITY}, "quantity": 3}]},
    }
    assert (
        post_event(client, event("customer.subscription.updated", subscription)).status_code == 200
    )
    assert scheme_row(app, world.a.id).plan == "community"
    checkout = {"id": "cs_1", "customer": customer, "subscription": "sub_webhook"}
    assert post_event(client, event("checkout.session.completed", checkout)).status_code == 200
    deleted = dict(subscription, status="canceled")
    assert post_event(client, event("customer.subscription.deleted", deleted)).status_code == 200
    assert scheme_row(app, world.a.id).plan == "free"
    assert billing(app, world.a.id).subscription_status == "canceled"
    unknown = dict(subscription, customer="cus_nobody")
    assert post_event(client, event("customer.subscription.updated", unknown)).status_code == 200
    assert scheme_row(app, world.b.id).plan == "free"


# --- dunning -------------------------------------------------------------------


def test_payment_failure_grace_suspension_payment_reactivation(
    app: Flask, world: World, client: FlaskClient
) -> None:
    from tests.factories import fund

    fund(app, world.a, world.a.members[0], 120)
    customer = billing(app, world.a.id).stripe_customer_id
    assert customer
    assert (
        post_event(client, event("invoice.payment_failed", failed_invoice(customer))).status_code
        == 200
    )
    row = billing(app, world.a.id)
    assert row.status == "grace" and row.grace_until is not None
    assert row.grace_until - datetime.now(UTC) > timedelta(days=13, hours=23)
    text = page_text(logged_in(app, world.a.coordinator), f"/s/{world.a.slug}/billing")
    assert "The last payment failed: Your card was declined." in text

    now = datetime.now(UTC)
    with app.app_context():
        assert dunning.end_grace_periods(now + timedelta(days=13)) == []
    assert scheme_row(app, world.a.id).status == "active"
    with app.app_context():
        assert dunning.end_grace_periods(now + timedelta(days=15)) == [world.a.slug]
        assert dunning.end_grace_periods(now + timedelta(days=16)) == []  # once
    scheme = scheme_row(app, world.a.id)
    assert scheme.status == "suspended" and scheme.suspended_reason == "Payment overdue"
    assert billing(app, world.a.id).status == "suspended"

    ann = world.api(world.a.members[0])
    target = world.a.members[1].member_ids[world.a.slug]
    pay = ann.post(
        f"/api/v1/schemes/{world.a.slug}/transfers", {"to_member_id": target, "amount": 5}
    )
    assert pay.status_code == 403 and problem(pay)["code"] == "scheme_suspended"
    assert ann.get(f"/api/v1/schemes/{world.a.slug}/me").status_code in (200, 404)
    statement = ann.get(f"/api/v1/schemes/{world.a.slug}/transactions")
    assert statement.status_code == 200  # reads still work: history is never lost
    # The other scheme trades on.
    fund(app, world.b, world.b.members[0], 30)
    other = world.api(world.b.members[0]).post(
        f"/api/v1/schemes/{world.b.slug}/transfers",
        {"to_member_id": world.b.members[1].member_ids[world.b.slug], "amount": 5},
    )
    assert other.status_code == 201, other.data

    # Paying reactivates it.
    assert post_event(client, event("invoice.paid", paid_invoice(customer))).status_code == 200
    scheme = scheme_row(app, world.a.id)
    assert scheme.status == "active" and scheme.suspended_reason is None
    row = billing(app, world.a.id)
    assert row.status == "ok" and row.grace_until is None and row.last_payment_at is not None
    pay = ann.post(
        f"/api/v1/schemes/{world.a.slug}/transfers", {"to_member_id": target, "amount": 5}
    )
    assert pay.status_code == 201, pay.data


def test_operator_sees_plan_status_members_and_last_payment(
    app: Flask, world: World, client: FlaskClient
) -> None:
    customer = billing(app, world.a.id).stripe_customer_id
    assert customer
    post_event(client, event("invoice.paid", paid_invoice(customer)))
    operator = world.api(make_operator(app))
    listing = operator.get("/api/v1/platform/billing/schemes")
    assert listing.status_code == 200
    rows = {row["slug"]: row for row in listing.get_json()["items"]}
    assert rows[world.a.slug]["plan"] == "free" and rows[world.a.slug]["members"] == 3
    assert rows[world.a.slug]["last_payment_at"] is not None
    assert rows[world.b.slug]["last_payment_at"] is None
    assert rows[world.a.slug]["billing_status"] == "ok"
    assert world.api(world.a.coordinator).get("/api/v1/platform/billing/schemes").status_code == 403
