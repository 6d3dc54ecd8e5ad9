"""Operators: signing in lands on the console; coordinators are mailed when an
operator suspends or reactivates their scheme (and no one else is)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.factories import PASSWORD, World, make_operator
from tests.web.browser import LiveServer, needs_chromium, screenshot
from tests.web.conftest import Pages, text


def mails(outbox: Path) -> list[str]:
    return [path.read_text() for path in sorted(outbox.glob("*.eml"))] if outbox.exists() else []


def test_an_operator_without_schemes_lands_on_the_console(world: World, pages: Pages) -> None:
    operator = make_operator(world.app)
    pages.login(operator)
    home = pages.get("/")
    assert home.status_code == 302 and home.headers["Location"] == "/operator/"
    # A member keeps the home page with their schemes.
    member = Pages(world.app).login(world.a.members[0])
    assert member.get("/").status_code == 200


def test_suspending_and_reactivating_mails_the_coordinators(
    world: World, pages: Pages, outbox: Path
) -> None:
    operator = make_operator(world.app)
    pages.login(operator)
    before = len(mails(outbox))
    done = pages.post(
        "/operator/schemes/alpha-bank/suspend", {"reason": "The subscription has lapsed."}
    )
    assert done.status_code == 302
    sent = mails(outbox)[before:]
    assert len(sent) == 1
    assert f"To: {world.a.coordinator.email}" in sent[0]
    assert "Subject: Alpha Time Bank is suspended" in sent[0]
    assert "The reason given: The subscription has lapsed." in sent[0]
    # Beta's coordinator and Alpha's members were not mailed.
    everything = "".join(mails(outbox))
    assert world.b.coordinator.email not in everything
    assert world.a.members[0].email not in everything

    # Suspending again changes nothing and mails nobody.
    again = world.api(operator).post(
        "/api/v1/platform/schemes/alpha-bank/suspend", {"reason": "Still lapsed."}
    )
    assert again.status_code == 200 and len(mails(outbox)) == before + 1

    back = world.api(operator).post("/api/v1/platform/schemes/alpha-bank/reactivate")
    assert back.status_code == 200
    sent = mails(outbox)[before + 1 :]
    assert len(sent) == 1 and "Subject: Alpha Time Bank is active again" in sent[0]
    assert f"To: {world.a.coordinator.email}" in sent[0]
    assert world.b.coordinator.email not in "".join(mails(outbox))


def test_a_refused_suspension_mails_nobody(world: World, pages: Pages, outbox: Path) -> None:
    pages.login(make_operator(world.app))
    before = len(mails(outbox))
    refused = pages.post("/operator/schemes/alpha-bank/suspend", {"reason": ""})
    assert refused.status_code == 422
    assert "Say why" in text(refused)
    assert len(mails(outbox)) == before
    missing = pages.post("/operator/schemes/nowhere/suspend", {"reason": "x"})
    assert missing.status_code == 404 and len(mails(outbox)) == before


@pytest.mark.slow
@needs_chromium
def test_an_operator_signs_in_to_the_console(
    world: World, live_server: LiveServer, browser_context: Any
) -> None:
    operator = make_operator(world.app)
    page = browser_context().new_page()
    page.goto(live_server.url + "/login")
    page.get_by_label("E-mail address").fill(operator.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(live_server.url + "/operator/")
    expect(page.get_by_role("heading", name="Operator console", level=1)).to_be_visible()
    assert "You do not belong to a scheme yet" not in page.content()
    screenshot(page, "operator-signed-in")
