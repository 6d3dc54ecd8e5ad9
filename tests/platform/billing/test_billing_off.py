"""With no Stripe configuration billing is off: every scheme free, no limit, no Stripe calls."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import stripe
from flask import Flask
from sqlalchemy import func, select

from tests import conftest as base
from tests.conftest import Database
from tests.factories import PASSWORD, World, add_member, make_user, problem
from tests.platform.billing.conftest import WEBHOOK_SECRET, closed_port_url, event, sign


@pytest.fixture
def app(database: Database, tmp_path: Path) -> Iterator[Flask]:
    """No STRIPE_API_KEY; the API base points at a closed port, so any call would fail."""
    from timebank.platform.app import create_app
    from timebank.platform.db import db

    stripe.api_base = closed_port_url()
    app = create_app(
        base.test_config(
            database,
            tmp_path,
            STRIPE_API_BASE=stripe.api_base,
            BILLING_FREE_MEMBER_LIMIT=1,
        )
    )
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    database.reset()


def test_billing_off_everything_free_without_limit(app: Flask, world: World) -> None:
    from timebank.platform.billing import customers, dunning, plans
    from timebank.platform.billing.jobs import due_for_billing, sync_all_usage
    from timebank.platform.billing.models import SchemeBilling, StripeEvent
    from timebank.platform.db import db
    from timebank.platform.schemes.models import Scheme

    coordinator = world.api(world.a.coordinator)
    created = coordinator.post(
        "/api/v1/schemes", {"name": "Gamma", "slug": "gamma-bank", "template": "community"}
    )
    assert created.status_code == 201, created.data
    for n in range(3):
        add_member(app, world.a, make_user(app, name=f"Extra {n}"))
    # Far over the (configured) free limit, invitations still work: no limit with billing off.
    invite = coordinator.post(
        f"/api/v1/schemes/{world.a.slug}/invitations", {"email": "more@example.test"}
    )
    assert invite.status_code == 201, invite.data
    with app.app_context():
        assert not plans.billing_enabled()
        scheme_plans = set(db.session.execute(select(Scheme.plan)).scalars())
        assert scheme_plans == {"free"}
        assert db.session.execute(select(func.count()).select_from(SchemeBilling)).scalar() == 0
        assert sync_all_usage() == 0
        assert dunning.end_grace_periods() == []
        assert due_for_billing(datetime.now(UTC)) == []
        with pytest.raises(RuntimeError):
            customers.stripe_client()
    # The billing page says so; its forms do nothing.
    client = app.test_client()
    client.post("/login", data={"email": world.a.coordinator.email, "password": PASSWORD})
    page = client.get(f"/s/{world.a.slug}/billing")
    assert page.status_code == 200
    assert "Billing is not set up on this platform" in page.get_data(as_text=True)
    assert (
        client.post(f"/s/{world.a.slug}/billing/subscribe", data={"plan": "community"}).status_code
        == 302
    )
    assert client.post(f"/s/{world.a.slug}/billing/setup-intent").status_code == 404
    # No webhook secret: the endpoint is not there, and nothing is stored.
    payload = event("invoice.paid", {"customer": "cus_x"})
    response = app.test_client().post(
        "/billing/stripe/webhook",
        data=payload,
        headers={"Stripe-Signature": sign(payload, secret=WEBHOOK_SECRET)},
    )
    assert response.status_code == 404 and problem(response)["code"] == "not_found"
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(StripeEvent)).scalar() == 0
    # Another scheme is equally untouched.
    assert (
        world.api(world.b.coordinator)
        .post(f"/api/v1/schemes/{world.b.slug}/invitations", {"email": "b@example.test"})
        .status_code
        == 201
    )
