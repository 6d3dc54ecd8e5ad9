"""The St Louis story in a real browser (Chromium through Playwright), at phone width.

A coordinator adds a clinic, a college and a food store and invites their
staff; a member earns credits and redeems a food parcel; the store's staff
checks the code at the counter and honours it; the college charges a course to
the member's card and the member confirms on their phone; the store's statement
and the scheme's partner report show both; the ledger verifies clean.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.factories import PASSWORD, World, make_user
from tests.tenants.earning.conftest import new_activity
from tests.tenants.partners.support import url
from tests.tenants.spending.support import snapshot, verify
from tests.web.browser import LiveServer, log_in, needs_chromium, screenshot

pytestmark = [pytest.mark.slow, needs_chromium]
PHONE = {"width": 390, "height": 844}


def fits(page: Any, name: str) -> None:
    screenshot(page, name)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], (name, width)


def invitation_link(outbox: Path, email: str) -> str:
    mail = next(p.read_text() for p in sorted(outbox.glob("*.eml")) if email in p.read_text())
    found = re.search(r"(http://127\.0\.0\.1:\d+/invitations/\S+)", mail)
    assert found, mail
    return found.group(1)


def test_the_st_louis_story(
    app: Any, world: World, live_server: LiveServer, browser_context: Any, outbox: Path
) -> None:
    scheme = world.a
    beta_before = snapshot(app, world.b)
    base = live_server.url + f"/s/{scheme.slug}"
    nurse = make_user(app, name="Nora Nurse", email="nora@clinic.test")
    grocer = make_user(app, name="Gus Grocer", email="gus@store.test")
    tutor = make_user(app, name="Tia Tutor", email="tia@college.test")

    # The coordinator adds the three partners and invites their staff.
    coordinator = browser_context(viewport=PHONE).new_page()
    log_in(coordinator, live_server, scheme.coordinator.email, PASSWORD)
    ids = {}
    for name, area, kinds, staff in (
        ("St Louis Clinic", "Northside", "health", nurse),
        ("Northside College", "Northside", "learning", tutor),
        ("Corner Food Store", "Old North", "food", grocer),
    ):
        coordinator.goto(base + "/partners/manage")
        coordinator.get_by_label("Name", exact=True).fill(name)
        coordinator.get_by_label("Area (optional)").fill(area)
        coordinator.get_by_label("Kinds of place (optional)").fill(kinds)
        coordinator.get_by_role("button", name="Add the partner").click()
        coordinator.wait_for_url(re.compile(r".*/partners/manage/\d+$"))
        ids[name] = int(coordinator.url.rsplit("/", 1)[1])
        coordinator.get_by_label("Their e-mail").fill(staff.email)
        coordinator.get_by_role("button", name="Send the invitation").click()
        assert f"An invitation is on its way to {staff.email}" in coordinator.content()
    fits(coordinator, "partners-coordinator-partner")

    # Each member of staff follows the mail's link and joins their partner's counter.
    counters = {}
    for staff, name in (
        (grocer, "Corner Food Store"),
        (tutor, "Northside College"),
        (nurse, "St Louis Clinic"),
    ):
        page = browser_context(viewport=PHONE).new_page()
        log_in(page, live_server, staff.email, PASSWORD)
        page.goto(invitation_link(outbox, staff.email))
        page.get_by_role("button", name="Join Alpha Time Bank").click()
        page.wait_for_url(re.compile(r".*/counter$"))
        assert f"You are now staff of {name}" in page.content()
        counters[name] = page
    store, college = counters["Corner Food Store"], counters["Northside College"]
    fits(store, "partners-counter")

    # The store publishes a food parcel; the college a course (its staff, on their pages).
    for page, name, offer, price in (
        (store, "Corner Food Store", "Food parcel", "1"),
        (college, "Northside College", "Evening course", "10"),
    ):
        page.goto(base + f"/partners/{ids[name]}/offers")
        page.get_by_label("What is it?").fill(offer)
        page.get_by_label("Price in hours").fill(price)
        page.get_by_role("button", name="Add the offer").click()
        assert f"{offer} is added." in page.content()

    # The member earns credits for an afternoon's help.
    ann = scheme.members[0]
    activity = new_activity(world, scheme, name="Helping at the lunch club", approval="auto")
    awarded = world.api(scheme.coordinator).post(
        url(scheme, "awards"),
        {"activity_id": activity, "minutes": 900, "member_ids": [ann.member_ids[scheme.slug]]},
    )
    assert awarded.status_code == 201, awarded.get_json()

    # She redeems a food parcel and gets a code with its QR code.
    member = browser_context(viewport=PHONE).new_page()
    log_in(member, live_server, ann.email, PASSWORD)
    member.goto(base + "/partners")
    assert "Corner Food Store" in member.locator("#main").inner_text()
    fits(member, "partners-directory")
    member.goto(base + f"/rewards?partner={ids['Corner Food Store']}")
    member.get_by_role("button", name="Redeem Food parcel").click()
    member.wait_for_url(re.compile(r".*/redemptions/\d+$"))
    code = member.locator("p.code").inner_text().strip()
    assert member.locator("img.qr").count() == 1
    fits(member, "partners-redemption-code")

    # The store's staff types the code (the camera needs a real one), sees Ann's first name
    # only, and hands the parcel over; scanning it again is refused.
    store.goto(base + f"/partners/{ids['Corner Food Store']}/counter")
    store.get_by_label("Code on the member’s phone").fill(code.lower())
    store.get_by_role("button", name="Check the code").click()
    assert "Food parcel for Ann" in store.locator("#main").inner_text()
    assert "Ann Alpha" not in store.content()
    store.get_by_role("button", name="Hand it over and mark it used").click()
    assert "Done: hand over Food parcel to Ann." in store.locator(".flash").inner_text()
    store.get_by_label("Code on the member’s phone").fill(code)
    store.get_by_role("button", name="Check the code").click()
    assert "Already used" in store.locator("#main").inner_text()

    # The college charges the course to Ann's card; she confirms on her phone.
    member.goto(base + "/card")
    card = member.locator("p.code").inner_text().strip()
    fits(member, "partners-card")
    college.goto(base + f"/partners/{ids['Northside College']}/charge")
    college.get_by_label("Card code").fill(card)
    college.get_by_label("What are they paying for?").select_option(
        label="Evening course (10:00 h)"
    )
    college.get_by_role("button", name="Charge the card").click()
    assert "Waiting for Ann to confirm" in college.locator("#main").inner_text()
    member.goto(base + "/")
    assert "Northside College asks 10:00 hours" in member.locator("#main").inner_text()
    member.get_by_role("link", name="Confirm or decline").click()
    member.get_by_role("button", name="Pay 10:00 hours").click()
    assert "Paid 10:00 hours to Northside College." in member.locator(".flash").inner_text()
    college.get_by_role("link", name="Check now").click()
    assert "Paid. Hand it over to Ann." in college.locator("#main").inner_text()

    # The store's statement and the scheme's partner report show both.
    store.goto(base + f"/partners/{ids['Corner Food Store']}/statement")
    statement = store.locator("#main").inner_text()
    assert "Food parcel" in statement and "1:00 hours honoured" in statement
    fits(store, "partners-statement")
    coordinator.goto(base + "/partners/manage")
    report = coordinator.locator("table").inner_text()
    assert re.search(r"Corner Food Store\s+active\s+1:00 hours\s+1 · 1:00 hours", report), report
    assert re.search(r"Northside College\s+active\s+10:00 hours\s+1 · 10:00 hours", report), report
    fits(coordinator, "partners-report")

    # Nothing leaked into the other scheme; the ledger is clean.
    assert snapshot(app, world.b) == beta_before
    assert verify(app) == []
