"""Coordinators' first hour: logging hours on behalf of a member lists each person once."""

from __future__ import annotations

import re

from tests.factories import World
from tests.web.conftest import Pages


def test_log_hours_on_behalf_lists_everyone_once(world: World, pages: Pages) -> None:
    pages.login(world.a.coordinator)
    page = pages.get("/s/alpha-bank/log-hours").get_data(as_text=True)
    select = re.search(r'<select id="member_id".*?</select>', page, re.S)
    assert select is not None
    options = re.findall(r'<option value="(\d+)"[^>]*>([^<]*)</option>', select.group(0))
    ids = [value for value, _ in options]
    assert len(ids) == len(set(ids)), options
    names = [name for _, name in options]
    assert names[0] == "Me (Ada Coordinator)"
    assert sorted(names[1:]) == ["Ann Alpha", "Arthur Alpha"]
    assert not any("Ada Coordinator" in name for name in names[1:])
    # Another scheme's people are not offered.
    assert "Beta" not in select.group(0) and "Bea Coordinator" not in select.group(0)
    # Members get no such list.
    member = Pages(world.app).login(world.a.members[0])
    assert 'id="member_id"' not in member.get("/s/alpha-bank/log-hours").get_data(as_text=True)
