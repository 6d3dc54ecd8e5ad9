"""A class without e-mail addresses, in a real browser (Chromium through Playwright).

A teacher enrols 30 pupils from a CSV with no e-mail column filled in, prints
their sign-in cards, awards a tutoring session to all of them; a pupil then
signs in on the shared tablet with the card's code and PIN, sees the balance,
and signs out for the next pupil. The other scheme sees none of it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.factories import PASSWORD, World, make_scheme, make_user
from tests.web.browser import LiveServer, log_in, needs_chromium, screenshot

pytestmark = [pytest.mark.slow, needs_chromium]

PUPILS = [f"Pupil {n:02d} Oak" for n in range(1, 31)]
CARD = re.compile(r"^([A-Z0-9]{4}-[A-Z0-9]{4})$")


def test_a_class_is_enrolled_carded_awarded_and_signs_in_on_the_tablet(
    world: World, live_server: LiveServer, browser_context: Any, tmp_path: Path
) -> None:
    teacher = make_user(world.app, name="Tess Teacher")
    make_scheme(world.app, teacher, slug="oak-school", template="school", name="Oak School")
    class_list = tmp_path / "class-4b.csv"
    class_list.write_text(
        "name,email,role,age_band\n" + "".join(f"{name},,,16_17\n" for name in PUPILS)
    )

    page = browser_context(viewport={"width": 1024, "height": 900}).new_page()
    log_in(page, live_server, teacher.email, PASSWORD)
    page.goto(live_server.url + "/s/oak-school/manage/members")
    page.set_input_files("#upload-file", str(class_list))
    page.get_by_role("button", name="Upload and invite").click()
    page.wait_for_url(re.compile(r".*/manage/imports/\d+"))
    page.goto(live_server.url + "/s/oak-school/manage/members")
    for name in (PUPILS[0], PUPILS[-1]):
        assert name in page.locator("table").inner_text()

    # Print the class's cards: 30 cards, each with a code and a PIN slip.
    page.goto(live_server.url + "/s/oak-school/manage/cards")
    page.get_by_role("button", name="Print new cards").click()
    cards = page.locator(".member-card")
    assert cards.count() == 30
    first = cards.filter(has_text=PUPILS[0])
    code = first.locator(".member-card-code").inner_text().strip()
    assert CARD.match(code)
    assert first.locator("svg").count() == 1  # the QR code
    slip = page.locator(".pin-slip", has_text=PUPILS[0]).inner_text()
    pin = re.search(r": (\d{4}) ", slip + " ").group(1)  # type: ignore[union-attr]
    page.emulate_media(media="print")
    screenshot(page, "class-cards-print")
    page.emulate_media(media="screen")

    # Award a tutoring session to everyone in the class.
    page.goto(live_server.url + "/s/oak-school/manage/award")
    page.get_by_label("Activity").select_option(label="Reading tutoring")
    page.get_by_label("Hours each").fill("1")
    for name in PUPILS:
        page.get_by_label(name, exact=True).check()
    page.get_by_role("button", name="Award the hours").click()
    assert "to 30 members" in page.locator(".flash").inner_text()

    # A pupil on the shared tablet.
    tablet = browser_context(viewport={"width": 800, "height": 1000}).new_page()
    tablet.goto(live_server.url + "/card")
    tablet.get_by_label("Card code").fill(code.lower())
    tablet.get_by_label("PIN").fill(pin)
    tablet.get_by_role("button", name="Sign in").click()
    tablet.wait_for_url(live_server.url + "/s/oak-school/")
    main = " ".join(tablet.locator("#main").inner_text().split())
    assert f"Signed in with a card as {PUPILS[0]}" in main
    assert "1:00" in main  # the session's hour
    screenshot(tablet, "class-cards-tablet-signed-in")
    tablet.get_by_role("button", name="Sign out for the next person").click()
    tablet.wait_for_url(live_server.url + "/card")
    assert "next person can sign in" in tablet.locator(".flash").inner_text()
    tablet.goto(live_server.url + "/s/oak-school/")
    assert "/login" in tablet.url

    # The other schemes never heard of the class.
    names = [
        m["name"]
        for m in world.api(world.a.coordinator)
        .get("/api/v1/schemes/alpha-bank/members")
        .get_json()["items"]
    ]
    assert not set(PUPILS) & set(names)
