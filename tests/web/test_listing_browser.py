"""In Chromium: a member asks for help, another responds, they agree, the help is
confirmed and the credits move once; at 390 px wide nothing needs sideways scrolling."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import PASSWORD, World, fund
from tests.web.browser import LiveServer, axe_violations, log_in, needs_chromium, screenshot
from tests.web.support import balance

pytestmark = [pytest.mark.slow, needs_chromium]

PHONE_390 = {"width": 390, "height": 844}


def check(page: Any, name: str) -> None:
    screenshot(page, name)
    violations = axe_violations(page)
    assert not violations, (name, violations)
    size = page.viewport_size
    page.set_viewport_size(PHONE_390)
    width = page.evaluate("document.documentElement.scrollWidth")
    page.set_viewport_size(size)
    assert width <= PHONE_390["width"], (name, width)


def test_request_response_agreement_and_confirmation_in_a_browser(
    world: World, live_server: LiveServer, browser_context: Any
) -> None:
    ann, arthur = world.a.members
    fund(world.app, world.a, ann, 120)
    asker = browser_context(viewport=PHONE_390).new_page()
    log_in(asker, live_server, ann.email, PASSWORD)
    asker.goto(live_server.url + "/s/alpha-bank/")
    asker.get_by_role("navigation", name="Alpha Time Bank").get_by_role(
        "link", name="Offers and requests"
    ).click()
    check(asker, "listings-empty")
    asker.get_by_role("link", name="Ask for help").click()
    asker.get_by_label("In a few words").fill("")
    asker.get_by_role("button", name="Post it").click()
    assert "Please fill this in" in asker.get_by_role("alert").inner_text()
    check(asker, "listing-form-refused")
    asker.get_by_label("In a few words").fill("Help clearing my garden")
    asker.get_by_label("Category").select_option(label="Gardening")
    asker.get_by_label("More about it (optional)").fill("Leaves and a few branches.")
    asker.get_by_label("About how long? (optional)").fill("2")
    asker.get_by_label("Area (optional)").fill("Catford")
    asker.get_by_role("button", name="Post it").click()
    assert "Posted" in asker.locator(".flash").inner_text()
    check(asker, "listing-detail-author")

    helper = browser_context().new_page()
    log_in(helper, live_server, arthur.email, PASSWORD)
    helper.goto(live_server.url + "/s/alpha-bank/listings")
    helper.get_by_label("Words").fill("garden")
    helper.get_by_role("button", name="Search").click()
    check(helper, "listings-search")
    helper.get_by_role("link", name="Help clearing my garden").click()
    helper.get_by_label("Your message").fill("I can come on Saturday morning.")
    helper.get_by_role("button", name="Send").click()
    assert "Sent" in helper.locator(".flash").inner_text()
    helper.get_by_label("About how long? (hours)").fill("1:30")
    helper.get_by_role("button", name="Agree").click()
    assert "Agreed" in helper.locator(".flash").inner_text()
    check(helper, "conversation-agreed")

    asker.goto(live_server.url + "/s/alpha-bank/listings")
    asker.locator(".listing-card").get_by_role("link", name="Help clearing my garden").click()
    asker.get_by_role("link", name="Reply from Arthur Alpha").click()
    assert "I can come on Saturday morning." in asker.locator(".thread").inner_text()
    check(asker, "conversation-to-confirm")
    assert asker.get_by_label("How long did it take? (hours)").input_value() == "1:30"
    asker.get_by_role("button", name="Confirm and pay").click()
    assert "Thank you" in asker.locator(".flash").inner_text()
    assert "Done: 1:30 hours moved" in asker.locator("main").inner_text()
    assert asker.get_by_role("button", name="Confirm and pay").count() == 0
    check(asker, "conversation-completed")
    assert balance(world, ann, world.a) == 30
    assert balance(world, arthur, world.a) == 90

    helper.goto(live_server.url + "/s/alpha-bank/")
    figures = " ".join(helper.locator(".figures").inner_text().split())
    assert "1:30 hours given" in figures and "1 person helped" in figures
    check(helper, "overview-given-received")
    coordinator = browser_context().new_page()
    log_in(coordinator, live_server, world.a.coordinator.email, PASSWORD)
    coordinator.goto(live_server.url + "/s/alpha-bank/manage/listings")
    check(coordinator, "manage-listings")
