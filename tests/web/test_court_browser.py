"""A youth court sitting end to end in a real browser (Chromium through Playwright).

The coordinator schedules a sitting, puts five members in its roles, records
attendance with one absent and credits it after the confirmation page: four
members are credited at their roles' rates, the absent one nothing. Sending
the confirmation again (the browser's back button, a new key through the API)
credits nobody twice. Pages are checked with axe-core and photographed.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

from tests.factories import PASSWORD, World, problem
from tests.tenants.courts.conftest import Court, balance, ledger_rows, local_today, make_court
from tests.web.browser import LiveServer, axe_violations, log_in, needs_chromium, screenshot

pytestmark = [pytest.mark.slow, needs_chromium]


@pytest.fixture
def court(app: Flask, world: World) -> Court:
    return Court(
        world=world,
        scheme=make_court(app, "river-court", "River Youth Court"),
        other=make_court(app, "hill-court", "Hill Youth Court"),
    )


def check(page: Any, name: str) -> None:
    screenshot(page, name)
    violations = axe_violations(page)
    assert not violations, (name, violations)


def test_a_sitting_end_to_end(
    app: Flask, court: Court, live_server: LiveServer, browser_context: Any
) -> None:
    page = browser_context().new_page()
    log_in(page, live_server, court.coordinator.email, PASSWORD)
    page.goto(live_server.url + "/s/river-court/manage/sittings")
    check(page, "court-sittings")
    page.get_by_label("Date").fill((local_today() + timedelta(days=1)).isoformat())
    page.get_by_label("Starts at").fill("17:30")
    page.get_by_label("Place (optional)").fill("Town hall")
    page.get_by_role("button", name="Schedule the sitting").click()
    assert "Sitting scheduled" in page.locator(".flash").inner_text()
    sitting_url = page.url
    sitting_id = int(sitting_url.rsplit("/", 1)[1])

    people = court.members[:5]
    rota = ["Juror", "Juror", "Clerk", "Bailiff", "Youth advocate"]
    for person, role in zip(people, rota, strict=True):
        page.locator("#member_id").select_option(label=person.name)
        value = page.locator("#role_id option", has_text=role).first.get_attribute("value")
        page.locator("#role_id").select_option(value=value)
        page.get_by_role("button", name="Add to the rota").click()
        assert "Added to the rota." in page.locator(".flash").inner_text()
    check(page, "court-rota")

    absent = people[1]
    for person in people:
        if person is not absent:
            page.locator(f"#present-{court.member_id(person)}").check()
    page.get_by_role("button", name="Record attendance").click()
    assert "Attendance recorded: 4 present." in page.locator(".flash").inner_text()
    page.get_by_role("link", name="Credit the sitting").click()
    assert "4 members, 9:30 hours in all" in page.locator("main").inner_text()
    check(page, "court-credit-confirm")
    page.get_by_role("button", name="Confirm and credit 4 members").click()
    assert "Credited 4 members for this sitting." in page.locator(".flash").inner_text()
    rates = {"Juror": 120, "Clerk": 150, "Bailiff": 120, "Youth advocate": 180}
    expected = [0 if p is absent else rates[r] for p, r in zip(people, rota, strict=True)]
    assert [balance(court, p) for p in people] == expected
    rows = ledger_rows(app, court.scheme.id)

    # Back to the confirmation: it is shown afresh and says the sitting is credited
    # (had the browser kept the old form, sending it again replays its key).
    page.go_back()
    again = page.get_by_role("button", name="Confirm and credit 4 members")
    if again.count():
        again.click()
    page.goto(live_server.url + f"/s/river-court/manage/sittings/{sitting_id}/credit")
    assert "credited already; nobody is credited twice" in page.locator("main").inner_text()
    retry = court.world.api(court.coordinator).post(
        court.url(f"sittings/{sitting_id}/credit"), headers={"Idempotency-Key": "browser-retry"}
    )
    assert retry.status_code == 422 and problem(retry)["code"] == "already_credited"
    assert ledger_rows(app, court.scheme.id) == rows
    assert [balance(court, p) for p in people] == expected

    # The member sees their role; another youth court sees nothing of the sitting.
    member = browser_context().new_page()
    log_in(member, live_server, people[0].email, PASSWORD)
    member.goto(live_server.url + "/s/river-court/")
    member.get_by_role("link", name="My sittings").click()
    assert re.search(
        r"No sittings are coming up|You are Juror", member.locator("main").inner_text()
    )
    check(member, "court-member")
    other = browser_context().new_page()
    log_in(other, live_server, court.other.coordinator.email, PASSWORD)
    response = other.goto(live_server.url + f"/s/hill-court/manage/sittings/{sitting_id}")
    assert response is not None and response.status == 404
