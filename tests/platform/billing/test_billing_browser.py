"""In the browser: a coordinator subscribes with 4242… through Stripe.js (localstripe's stand-in)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stripe
from flask import Flask

from tests import conftest as base
from tests.conftest import Database
from tests.factories import PASSWORD, World
from tests.platform.billing.conftest import billing_config
from tests.web.browser import LiveServer, log_in, needs_chromium, screenshot
from timebank.platform.billing.models import SchemeBilling
from timebank.platform.db import db
from timebank.platform.schemes.models import Scheme

pytestmark = [pytest.mark.slow, needs_chromium]


@pytest.fixture
def app(database: Database, tmp_path: Path, localstripe: str) -> Iterator[Flask]:
    """Billing on against localstripe, CSRF protection on as in production."""
    from timebank.platform.app import create_app

    app = create_app(
        base.test_config(database, tmp_path, WTF_CSRF_ENABLED=True, **billing_config(localstripe))
    )
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    database.reset()


def test_coordinator_subscribes_with_a_card_in_the_browser(
    app: Flask,
    world: World,
    live_server: LiveServer,
    browser_context: Any,
) -> None:
    page = browser_context().new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    log_in(page, live_server, world.a.coordinator.email, PASSWORD)
    page.goto(f"{live_server.url}/s/{world.a.slug}/billing")
    assert page.locator("#current-plan").inner_text() == "Free"
    page.get_by_label("Community").check()
    card = page.locator("#card-element")
    card.locator("input[placeholder=number]").fill("4242424242424242")
    card.locator("input[placeholder=exp_month]").fill("12")
    card.locator("input[placeholder=exp_year]").fill("34")
    card.locator("input[placeholder=cvc]").fill("123")
    card.locator("input[placeholder=postal_code]").fill("10001")
    page.get_by_role("button", name="Subscribe").click()
    page.get_by_text("the subscription is active").wait_for()
    assert page.locator("#current-plan").inner_text() == "Community"
    assert page.locator("#subscription-status").inner_text() == "active"
    screenshot(page, "billing-subscribed")
    assert errors == []
    with app.app_context():
        row = db.session.get(SchemeBilling, world.a.id)
        scheme = db.session.get(Scheme, world.a.id)
        assert row is not None and scheme is not None
        assert scheme.plan == "community" and row.subscription_status == "active"
        sub = stripe.Subscription.retrieve(row.stripe_subscription_id).to_dict()
        assert sub["status"] == "active" and sub["items"]["data"][0]["quantity"] == 3
        other = db.session.get(SchemeBilling, world.b.id)
        assert other is not None and other.stripe_subscription_id is None
