"""Coordinators' first hour: logging hours on behalf of a member lists each person once."""

from __future__ import annotations

import re

from tests.factories import World
from tests.web.conftest import Pages, text


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


def test_the_rules_history_says_who_changed_what(world: World, pages: Pages) -> None:
    api = world.api(world.a.coordinator)
    document = api.get("/api/v1/schemes/alpha-bank/policy").get_json()
    document.pop("version")
    old_max = document["peer_transfers"]["max_amount"]
    document["peer_transfers"]["max_amount"] = 90
    document["claims"]["cap"] = {"minutes": 600, "period": "week"}
    document["exchange"]["enabled"] = not document["exchange"]["enabled"]
    saved = api.put("/api/v1/schemes/alpha-bank/policy", document)
    assert saved.status_code == 200, saved.get_json()
    pages.login(world.a.coordinator)
    history = text(pages.get("/s/alpha-bank/manage/rules"))
    assert "Who changed what" in history
    row = history[history.index("Who changed what") :]
    assert "Ada Coordinator" in row
    before = "no limit" if old_max is None else f"{old_max // 60}:{old_max % 60:02d} hours"
    assert f"largest payment: {before} → 1:30 hours" in row
    assert "earning cap: " in row and "→ 10:00 hours" in row and "→ week" in row
    assert "partner schemes: on → off" in row or "partner schemes: off → on" in row
    assert "first rules" in row
    # Beta's history is its own: one version, no change of Alpha's.
    beta = Pages(world.app).login(world.b.coordinator)
    beta_rules = text(beta.get("/s/beta-surgery/manage/rules"))
    assert "largest payment" not in beta_rules and "Ada Coordinator" not in beta_rules
