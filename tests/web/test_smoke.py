"""Every page renders for the people who may see it."""

from __future__ import annotations

from tests.factories import World
from tests.web.conftest import Pages


def test_every_member_page_renders(world: World, pages: Pages) -> None:
    pages.login(world.a.members[0])
    for path in (
        "/",
        "/s/alpha-bank/",
        "/s/alpha-bank/log-hours",
        "/s/alpha-bank/pay",
        "/s/alpha-bank/rewards",
        "/s/alpha-bank/statement",
        "/s/alpha-bank/leave",
    ):
        response = pages.get(path)
        assert response.status_code == 200, (path, response.get_data(as_text=True)[:3000])


def test_every_coordinator_page_renders(world: World, pages: Pages) -> None:
    pages.login(world.a.coordinator)
    member = world.a.members[0].member_ids["alpha-bank"]
    for path in (
        "/s/alpha-bank/manage/",
        "/s/alpha-bank/manage/claims",
        "/s/alpha-bank/manage/members",
        f"/s/alpha-bank/manage/members/{member}",
        "/s/alpha-bank/manage/award",
        "/s/alpha-bank/manage/activities",
        "/s/alpha-bank/manage/rewards",
        "/s/alpha-bank/manage/rules",
        "/s/alpha-bank/manage/transactions",
        "/s/alpha-bank/manage/partners",
        "/s/alpha-bank/manage/welcome",
        "/s/alpha-bank/manage/report.csv",
        "/start",
    ):
        response = pages.get(path)
        assert response.status_code == 200, (path, response.get_data(as_text=True)[:3000])
