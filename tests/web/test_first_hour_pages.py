"""A member's first hour on the pages: warnings and progress they can act on."""

from __future__ import annotations

from flask import Flask

from tests.factories import World
from tests.tenants.earning.conftest import claim
from tests.tenants.earning.test_cap_warnings import DAY, capped
from tests.web.conftest import Pages, text


def test_logging_hours_past_the_cap_warns_on_the_form(
    app: Flask, world: World, pages: Pages
) -> None:
    scheme, member, activity_id = capped(app, world)
    claim(world, member, scheme, activity_id, 300, DAY)
    pages.login(member)
    form = {"activity_id": str(activity_id), "hours": "4", "performed_on": DAY.isoformat()}
    response = pages.post(f"/s/{scheme.slug}/log-hours", form)
    assert response.status_code == 302, text(response)
    page = pages.get(response.headers["Location"])
    body = page.get_data(as_text=True)
    assert "A coordinator will check and approve them." in text(page)
    assert 'class="flash warning"' in body
    assert "With your claims still waiting for approval" in text(page)
    assert "9:00 hours, more than the 8:00 hours" in text(page)


def test_the_claims_queue_warns_the_coordinator(app: Flask, world: World, pages: Pages) -> None:
    scheme, member, activity_id = capped(app, world)
    claim(world, member, scheme, activity_id, 300, DAY)
    claim(world, member, scheme, activity_id, 240, DAY)
    pages.login(scheme.coordinator)
    page = text(pages.get(f"/s/{scheme.slug}/manage/claims"))
    assert page.count("With Mo Member's claims still waiting for approval") == 2
    # Beta's queue shows none of it.
    pages.login(world.b.coordinator)
    beta = text(pages.get("/s/beta-surgery/manage/claims"))
    assert "Mo Member" not in beta and "still waiting for approval" not in beta
