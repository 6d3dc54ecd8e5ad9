"""Starting a scheme: sign-up and scheme creation succeed or fail together; the
address is suggested and checked as the person types; time zones and template
previews."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from tests.factories import World
from tests.web.browser import LiveServer, needs_chromium, screenshot
from tests.web.conftest import Pages, text
from timebank.platform.db import db
from timebank.platform.identity.models import User
from timebank.platform.schemes.models import Scheme

FORM = {
    "name": "Alpha Two",
    "slug": "alpha-bank",
    "template": "community",
    "timezone": "Europe/London",
    "person_name": "Ruth Okafor",
    "email": "ruth@example.test",
    "password": "surgery garden",
}


def counts(world: World) -> tuple[int, int]:
    with world.app.app_context():
        users = db.session.execute(select(func.count()).select_from(User)).scalar_one()
        schemes = db.session.execute(select(func.count()).select_from(Scheme)).scalar_one()
        return int(users), int(schemes)


def beta_members(world: World) -> list[str]:
    body = world.api(world.b.coordinator).get("/api/v1/schemes/beta-surgery/members").get_json()
    return sorted(item["name"] for item in body["items"])


def test_a_taken_address_creates_no_account_and_signs_nobody_in(world: World, pages: Pages) -> None:
    before = counts(world)
    beta_before = beta_members(world)
    taken = pages.post("/start", FORM)
    assert taken.status_code == 409
    assert "The address 'alpha-bank' is already taken." in text(taken)
    assert 'value="ruth@example.test"' in taken.get_data(as_text=True)
    assert counts(world) == before
    with world.app.app_context():
        assert (
            db.session.execute(select(User).where(User.email == "ruth@example.test")).first()
            is None
        )
    # Not signed in: the account page sends to the log-in page.
    assert pages.get("/account").status_code == 302
    # Corrected, the same form goes through, with the same e-mail address.
    done = pages.post("/start", FORM | {"slug": "alpha-two"})
    assert done.status_code == 302 and done.headers["Location"] == "/s/alpha-two/manage/welcome"
    assert counts(world) == (before[0] + 1, before[1] + 1)
    assert pages.get("/account").status_code == 200
    # The other schemes saw nothing.
    assert beta_members(world) == beta_before


def test_a_refused_account_creates_no_scheme(world: World, pages: Pages) -> None:
    before = counts(world)
    refused = pages.post("/start", FORM | {"slug": "new-one", "email": world.b.members[0].email})
    assert refused.status_code == 409
    assert counts(world) == before
    assert pages.get("/s/new-one/").status_code in (302, 404)


def test_the_address_is_suggested_and_checked(world: World, pages: Pages) -> None:
    suggested = pages.get("/start/address?name=Alpha Bank")
    assert suggested.status_code == 200
    assert suggested.get_json() == {"slug": "alpha-bank-2", "available": True, "message": None}
    fresh = pages.get("/start/address?name=St Mary’s Time-Bank, Lewisham!").get_json()
    assert fresh["slug"] == "st-marys-time-bank-lewisham"
    assert pages.get("/start/address?name=%21%21").get_json()["slug"] == ""
    taken = pages.get("/start/address?slug=Beta-Surgery").get_json()
    assert taken == {
        "slug": "beta-surgery",
        "available": False,
        "message": "The address 'beta-surgery' is already taken.",
    }
    reserved = pages.get("/start/address?slug=admin").get_json()
    assert reserved["available"] is False and "reserved" in reserved["message"]
    bad = pages.get("/start/address?slug=no spaces").get_json()
    assert bad["available"] is False and "lowercase letters" in bad["message"]
    assert pages.get("/start/address?slug=rushey-green").get_json()["available"] is True
    # Checking wrote nothing.
    assert counts(world)[1] == 2


def test_the_form_offers_todays_zones_and_previews_templates(world: World, pages: Pages) -> None:
    page = pages.get("/start").get_data(as_text=True)
    zones = page.count("<option ")
    assert 250 < zones < 400, zones
    assert '<optgroup label="Common">' in page and '<optgroup label="Europe">' in page
    assert page.index('value="Europe/London"') < page.index('value="Africa/Abidjan"')
    for alias in ("US/Eastern", "Asia/Calcutta", 'value="GB"', "Etc/GMT+5"):
        assert alias not in page
    assert "start-scheme.js" in page and "<script>" not in page
    preview = text(pages.get("/start"))
    assert "Befriending a patient referred by the practice" in preview  # surgery activity
    assert "Place at the Tuesday lunch club (2:00 hours)" in preview  # surgery reward
    assert "Hours logged are checked by a coordinator" in preview
    # An obsolete alias sent anyway is still a valid zone (the API accepts any IANA name).
    done = pages.post(
        "/start", FORM | {"slug": "kolkata-bank", "timezone": "Asia/Kolkata", "email": "k@x.test"}
    )
    assert done.status_code == 302


@pytest.mark.slow
@needs_chromium
def test_the_browser_suggests_and_checks_the_address(
    world: World, live_server: LiveServer, browser_context: Any
) -> None:
    page = browser_context(timezone_id="Europe/Paris").new_page()
    page.goto(live_server.url + "/start")
    assert page.get_by_label("Time zone").input_value() == "Europe/Paris"  # guessed
    page.get_by_label("Name of the scheme").fill("Alpha Bank")
    slug = page.get_by_label("Its web address")
    expect(slug).to_have_value("alpha-bank-2")
    expect(page.locator("#slug-status")).to_contain_text("“alpha-bank-2” is free.")
    slug.fill("beta-surgery")
    expect(page.locator("#slug-status")).to_contain_text(
        "The address 'beta-surgery' is already taken."
    )
    # Typed by hand, the address no longer follows the name.
    page.get_by_label("Name of the scheme").fill("Something Else")
    page.wait_for_timeout(600)
    assert slug.input_value() == "beta-surgery"
    page.locator("summary", has_text="See what each kind of scheme starts with").click()
    assert page.get_by_role("heading", name="A youth court").is_visible()
    screenshot(page, "start-scheme-suggested")
    assert counts(world)[1] == 2
