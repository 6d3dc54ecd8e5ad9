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

from tests.factories import World
from tests.web.browser import LiveServer, axe_violations, needs_chromium, screenshot

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
