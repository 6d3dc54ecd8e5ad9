"""A member's settings page in a scheme: the mails about credits received, switched per scheme.

Test client (CSRF on) for the form, and Chromium for the real clicks at phone
width with axe; another scheme's switches never move, strangers get 404.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.factories import PASSWORD, World, fund
from tests.web.browser import LiveServer, axe_violations, log_in, needs_chromium, screenshot
from tests.web.conftest import Pages, text


def switches(world: World, person: Any, slug: str) -> dict[str, bool]:
    response = world.api(person).get(f"/api/v1/schemes/{slug}/mail-settings")
    assert response.status_code == 200, response.data
    result: dict[str, bool] = response.get_json()
    return result


def test_the_settings_page_switches_credit_mails_off_and_on(
    world: World, pages: Pages, outbox: Path
) -> None:
    ann, arthur = world.a.members
    pages.login(arthur)
    account = pages.get("/account").get_data(as_text=True)
    assert 'href="/s/alpha-bank/settings"' in account
    assert "/s/beta-surgery/settings" not in account
    page = pages.get("/s/alpha-bank/settings")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Mails about your time credits" in html
    assert html.count(" checked>") == 3  # all on until switched off
    assert "Your member number here is <strong>3</strong>" in html
    saved = pages.post("/s/alpha-bank/settings", {"awarded": "1", "gifted": "1"})
    assert saved.status_code == 302
    assert "Your mail settings are saved." in text(pages.get("/s/alpha-bank/settings"))
    assert switches(world, arthur, "alpha-bank") == {"paid": False, "awarded": True, "gifted": True}
    fund(world.app, world.a, ann, 60)
    paid = world.api(ann).post(
        "/api/v1/schemes/alpha-bank/transfers",
        {"to_member_id": arthur.member_ids["alpha-bank"], "amount": 30},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert paid.status_code == 201
    assert not any(arthur.email in p.read_text() for p in outbox.glob("*.eml"))
    # Nothing else moved: Ann's switches, the other scheme's people.
    assert switches(world, ann, "alpha-bank") == {"paid": True, "awarded": True, "gifted": True}
    for person in world.b.members:
        assert switches(world, person, "beta-surgery")["paid"] is True
    # Another scheme's page is a stranger's 404.
    assert pages.get("/s/beta-surgery/settings").status_code == 404
    assert pages.post("/s/beta-surgery/settings", {"paid": "1"}).status_code == 404


def test_the_settings_page_needs_the_forms_csrf_token(world: World, pages: Pages) -> None:
    arthur = world.a.members[1]
    pages.login(arthur)
    refused = pages.client.post("/s/alpha-bank/settings", data={"paid": "1"})
    assert refused.status_code == 400
    assert switches(world, arthur, "alpha-bank")["paid"] is True


@pytest.mark.slow
@needs_chromium
def test_switching_a_mail_off_in_a_browser(
    world: World, live_server: LiveServer, browser_context: Any
) -> None:
    arthur = world.a.members[1]
    page = browser_context(viewport={"width": 390, "height": 800}).new_page()
    log_in(page, live_server, arthur.email, PASSWORD)
    page.goto(live_server.url + "/s/alpha-bank/")
    page.locator("nav.scheme-nav").get_by_role("link", name="Settings").click()
    page.get_by_label("another member pays me").uncheck()
    page.get_by_role("button", name="Save my settings").click()
    assert "Your mail settings are saved." in page.locator(".flash").inner_text()
    assert not page.get_by_label("another member pays me").is_checked()
    assert page.get_by_label("a coordinator gives me an award").is_checked()
    screenshot(page, "member-settings-saved")
    assert not axe_violations(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert switches(world, arthur, "alpha-bank")["paid"] is False
