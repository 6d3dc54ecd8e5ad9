"""Operators: signing in lands on the console; coordinators are mailed when an
operator suspends or reactivates their scheme (and no one else is)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.factories import PASSWORD, World, fund, make_operator, make_scheme, make_user
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


def test_the_console_searches_and_pages(world: World, pages: Pages) -> None:
    for n in range(26):
        make_scheme(world.app, make_user(world.app), slug=f"extra-{n:02d}", name=f"Extra {n:02d}")
    pages.login(make_operator(world.app))
    first = pages.get("/operator/")
    body = first.get_data(as_text=True)
    assert "Alpha Time Bank" in body and "Extra 22" in body and "Extra 23" not in body
    cursor = re.search(r'href="/operator/\?cursor=([^"&]+)"', body)
    assert cursor is not None
    second = text(pages.get(f"/operator/?cursor={cursor.group(1)}"))
    assert "Extra 23" in second and "Extra 25" in second and "Alpha Time Bank" not in second
    assert "First schemes" in second
    found = text(pages.get("/operator/?q=beta"))
    assert "Beta Surgery" in found and "Alpha Time Bank" not in found and "Extra" not in found
    by_address = text(pages.get("/operator/?q=ALPHA-B"))
    assert "Alpha Time Bank" in by_address and "Beta Surgery" not in by_address
    assert "No scheme matches “100%_”." in text(pages.get("/operator/?q=100%25_"))


def test_a_page_per_scheme(world: World, pages: Pages, outbox: Path) -> None:
    pages.login(make_operator(world.app))
    fund(world.app, world.a, world.a.members[0], 90)
    page = text(pages.get("/operator/schemes/alpha-bank"))
    assert "Alpha Time Bank" in page and "3 active members" in page
    assert "1 transactions in 30 days (1:30 hours)" in page
    assert "Billing state Paid up" in page
    assert "scheme.created" in page and "Ada Coordinator" in page
    assert "Beta" not in page  # nothing of another scheme
    done = pages.post(
        "/operator/schemes/alpha-bank/suspend", {"reason": "Lapsed.", "back": "scheme"}
    )
    assert done.headers["Location"] == "/operator/schemes/alpha-bank"
    page = text(pages.get("/operator/schemes/alpha-bank"))
    assert "Suspended: Lapsed." in page and "scheme.suspended" in page
    assert "Reactivate" in page
    assert pages.get("/operator/schemes/nowhere").status_code == 404
    # Only operators.
    coordinator = Pages(world.app).login(world.a.coordinator)
    assert coordinator.get("/operator/schemes/alpha-bank").status_code == 403


def test_the_billing_page_sets_a_plan_by_hand(world: World, pages: Pages) -> None:
    pages.login(make_operator(world.app))
    page = text(pages.get("/operator/billing"))
    assert "Alpha Time Bank" in page and "Beta Surgery" in page and "paid up" in page
    refused = pages.post("/operator/billing/alpha-bank/plan", {"plan": "gold", "reason": "x"})
    assert refused.status_code == 422
    assert "Not a plan: choose free, community or organisation." in text(refused)
    assert world.api(world.a.coordinator).get("/api/v1/schemes/alpha-bank").status_code == 200
    done = pages.post(
        "/operator/billing/alpha-bank/plan", {"plan": "organisation", "reason": "A charity."}
    )
    assert done.status_code == 302
    assert "Alpha Time Bank is now on the organisation plan." in text(
        pages.get("/operator/billing")
    )
    scheme_page = text(pages.get("/operator/schemes/alpha-bank"))
    assert "organisation (set by an operator)" in scheme_page
    assert "organisation (set by an operator)" not in text(
        pages.get("/operator/schemes/beta-surgery")
    )
    assert pages.post("/operator/billing/nowhere/plan", {"plan": "free"}).status_code == 404
    coordinator = Pages(world.app).login(world.a.coordinator)
    assert coordinator.get("/operator/billing").status_code == 403
    assert (
        coordinator.post("/operator/billing/alpha-bank/plan", {"plan": "free"}).status_code == 403
    )


def test_the_jobs_page_without_redis(world: World, pages: Pages) -> None:
    pages.login(make_operator(world.app))
    page = text(pages.get("/operator/jobs"))
    assert "No check has run yet." in page and "No failed jobs." in page
    assert pages.post("/operator/jobs/no-such-job/retry").status_code == 404
    coordinator = Pages(world.app).login(world.a.coordinator)
    assert coordinator.get("/operator/jobs").status_code == 403
