"""A member's first hour, in a real browser (Chromium through Playwright).

An invited person who follows the mail's link and creates an account (from
whichever "Create an account" link) finds the address filled in and lands in
the scheme; a claim over the weekly cap is warned about on the form; a member's
chosen reward shows progress on the overview.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.factories import PASSWORD, World
from tests.tenants.earning.conftest import claim, counts
from tests.tenants.earning.test_cap_warnings import DAY, capped
from tests.tenants.spending.support import snapshot
from tests.web.browser import LiveServer, axe_violations, log_in, needs_chromium, screenshot
from tests.web.test_first_hour_pages import school_with_computer

pytestmark = [pytest.mark.slow, needs_chromium]


def check(page: Any, name: str) -> None:
    screenshot(page, name)
    assert not axe_violations(page), name
    # Fits a phone: nothing wider than the viewport.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], (name, width)


def test_an_invited_person_creates_an_account_and_lands_in_the_scheme(
    world: World, live_server: LiveServer, browser_context: Any, outbox: Path
) -> None:
    response = world.api(world.a.coordinator).post(
        "/api/v1/schemes/alpha-bank/invitations", {"email": "newcomer@example.test"}
    )
    assert response.status_code == 201
    mail = next(
        p.read_text()
        for p in sorted(outbox.glob("*.eml"))
        if "newcomer@example.test" in p.read_text()
    )
    link = re.search(r"(http://127\.0\.0\.1:\d+/invitations/\S+)", mail).group(1)
    page = browser_context(viewport={"width": 390, "height": 800}).new_page()
    page.goto(link)
    # The plain link in the page header, not the invitation's own button.
    page.locator("header").get_by_role("link", name="Create an account").click()
    assert page.get_by_label("E-mail address").input_value() == "newcomer@example.test"
    assert "Create your account to join Alpha Time Bank" in page.locator("#main").inner_text()
    page.get_by_label("Your name").fill("Nia Newcomer")
    page.get_by_label("Choose a password").fill("tea and biscuits")
    check(page, "first-hour-signup-invited")
    page.get_by_role("button", name="Create my account").click()
    page.wait_for_url(live_server.url + "/s/alpha-bank/")
    assert "you have joined Alpha Time Bank" in page.locator(".flash").inner_text()
    check(page, "first-hour-joined")
    page.goto(live_server.url + "/")
    assert "Ask a coordinator to send you an invitation" not in page.content()
    assert "Alpha Time Bank" in page.locator("#main").inner_text()
    # Beta never heard of the newcomer.
    names = [
        m["name"]
        for m in world.api(world.b.coordinator)
        .get("/api/v1/schemes/beta-surgery/members")
        .get_json()["items"]
    ]
    assert "Nia Newcomer" not in names


def test_logging_hours_past_the_cap_is_warned_about_on_the_form(
    app: Any, world: World, live_server: LiveServer, browser_context: Any
) -> None:
    scheme, member, activity_id = capped(app, world)
    beta_before = counts(app, world.b.id)
    claim(world, member, scheme, activity_id, 300, DAY)
    page = browser_context(viewport={"width": 390, "height": 800}).new_page()
    log_in(page, live_server, member.email, PASSWORD)
    page.goto(f"{live_server.url}/s/{scheme.slug}/log-hours")
    page.get_by_label("What did you do?").select_option(value=str(activity_id))
    page.get_by_label("How long?").fill("4")
    page.get_by_label(re.compile("When")).fill(DAY.isoformat())
    page.get_by_role("button", name="Log these hours").click()
    warning = page.locator(".flash.warning")
    assert warning.is_visible()
    assert "With your claims still waiting for approval" in warning.inner_text()
    assert "more than the 8:00 hours that can be earned per week" in warning.inner_text()
    check(page, "first-hour-cap-warning")
    # Both claims wait (accepted, not credited); Beta saw nothing.
    assert counts(app, scheme.id)["claims"] == 2
    assert counts(app, scheme.id)["transactions"] == 0
    assert counts(app, world.b.id) == beta_before


def test_a_pupil_chooses_a_goal_and_sees_progress_toward_it(
    app: Any, world: World, live_server: LiveServer, browser_context: Any
) -> None:
    scheme, pupil, _computer = school_with_computer(app, world)
    beta_before = snapshot(app, world.b)
    page = browser_context(viewport={"width": 390, "height": 800}).new_page()
    log_in(page, live_server, pupil.email, PASSWORD)
    page.goto(f"{live_server.url}/s/{scheme.slug}/rewards")
    card = page.locator(".card", has_text="Pupils' computer")
    assert "7:30 hours to go" in card.inner_text()
    assert card.get_by_role("button", name="Redeem Pupils' computer").is_disabled()
    check(page, "first-hour-rewards-to-go")
    card.get_by_role("button", name="Make Pupils' computer my goal").click()
    assert "is now your goal" in page.locator(".flash").inner_text()
    page.goto(f"{live_server.url}/s/{scheme.slug}/")
    progress = page.get_by_role("progressbar")
    assert progress.get_attribute("value") == "150"
    assert progress.get_attribute("max") == "600"
    assert "7:30 hours to go" in page.locator("#main").inner_text()
    check(page, "first-hour-goal-progress")
    assert snapshot(app, world.b) == beta_before


def test_a_statement_prints_without_the_page_chrome(
    world: World, live_server: LiveServer, browser_context: Any
) -> None:
    ann = world.a.members[0]
    page = browser_context().new_page()
    log_in(page, live_server, ann.email, PASSWORD)
    page.goto(live_server.url + "/s/alpha-bank/statement")
    assert page.locator("header.top").is_visible()
    page.emulate_media(media="print")
    assert not page.locator("header.top").is_visible()
    assert not page.get_by_role(
        "link", name=re.compile("Download the whole statement")
    ).is_visible()
    assert page.get_by_role("heading", name="Statement", level=1).is_visible()
    page.goto(live_server.url + "/s/alpha-bank/")
    assert not page.locator(".actions").first.is_visible()
    assert page.locator(".balance").is_visible()
    page.pdf(path=str(Path(__file__).resolve().parents[2] / "test-artifacts" / "overview.pdf"))
