"""Coordinators' first hour: logging hours on behalf of a member lists each person once."""

from __future__ import annotations

import re
from pathlib import Path

from tests.factories import SchemeInfo, World, make_scheme, make_user
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


def _policy_exchange(world: World, scheme: SchemeInfo, enabled: bool) -> None:
    api = world.api(scheme.coordinator)
    document = api.get(f"/api/v1/schemes/{scheme.slug}/policy").get_json()
    document.pop("version")
    document["exchange"]["enabled"] = enabled
    assert api.put(f"/api/v1/schemes/{scheme.slug}/policy", document).status_code == 200


def mails(outbox: Path) -> list[str]:
    return [path.read_text() for path in sorted(outbox.glob("*.eml"))] if outbox.exists() else []


def test_partner_schemes_are_offered_and_their_coordinators_told(
    world: World, pages: Pages, outbox: Path
) -> None:
    _policy_exchange(world, world.a, True)
    _policy_exchange(world, world.b, True)
    closed = make_scheme(world.app, make_user(world.app), slug="closed-club", name="Closed Club")
    _policy_exchange(world, closed, False)
    pages.login(world.a.coordinator)
    page = pages.get("/s/alpha-bank/manage/partners").get_data(as_text=True)
    datalist = re.search(r'<datalist id="partner-list">(.*?)</datalist>', page, re.S)
    assert datalist is not None
    assert re.findall(r'<option value="([^"]+)">([^<]+)</option>', datalist.group(1)) == [
        ("beta-surgery", "Beta Surgery")
    ]  # not itself, not a scheme that refuses partners

    # Plain words, not the policy's internals.
    refused = pages.post(
        "/s/alpha-bank/manage/partners", {"partner": "closed-club", "rate": "1", "limit": "10"}
    )
    assert refused.status_code == 422
    said = text(refused)
    assert "Closed Club does not accept payments with partner schemes" in said
    assert "exchange.enabled" not in said and "policy" not in said

    before = len(mails(outbox))
    proposed = pages.post(
        "/s/alpha-bank/manage/partners",
        {"partner": "http://127.0.0.1/s/beta-surgery/", "rate": "1", "limit": "10"},
    )
    assert proposed.status_code == 302
    sent = mails(outbox)[before:]
    assert len(sent) == 1 and f"To: {world.b.coordinator.email}" in sent[0]
    assert "Subject: Alpha Time Bank has proposed the agreement with Beta Surgery" in sent[0]

    beta = Pages(world.app).login(world.b.coordinator)
    agreement = world.api(world.b.coordinator).get("/api/v1/schemes/beta-surgery/agreements")
    agreement_id = agreement.get_json()["items"][0]["id"]
    beta.post(f"/s/beta-surgery/manage/partners/{agreement_id}/accept")
    pages.post(f"/s/alpha-bank/manage/partners/{agreement_id}/suspend")
    pages.post(f"/s/alpha-bank/manage/partners/{agreement_id}/end")
    sent = mails(outbox)[before + 1 :]
    assert len(sent) == 3
    assert f"To: {world.a.coordinator.email}" in sent[0]
    assert "Beta Surgery has accepted the agreement with Alpha Time Bank" in sent[0]
    assert "Alpha Time Bank has suspended the agreement with Beta Surgery" in sent[1]
    assert "Alpha Time Bank has ended the agreement with Beta Surgery" in sent[2]
    assert all(f"To: {world.b.coordinator.email}" in mail for mail in sent[1:])
    # Members and the unrelated scheme were never mailed.
    everything = "".join(mails(outbox))
    assert world.a.members[0].email not in everything and "Closed Club" not in everything
