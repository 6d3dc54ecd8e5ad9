"""School groups: a class of 30 awarded in one all-or-none action, idempotent; the league
table; goal rewards and who is near their goal; other schemes see nothing."""

from __future__ import annotations

from flask import Flask

from tests.factories import SchemeInfo, World, add_member, fund, make_scheme, make_user, problem
from tests.tenants.earning.conftest import (
    activity_ids,
    assert_ledger_ok,
    audit_actions,
    balance,
    counts,
    url,
)


def school(app: Flask, pupils: int = 30, **policy: object) -> SchemeInfo:
    scheme = make_scheme(
        app, make_user(app, name="Sam Teacher"), template="school", policy=dict(policy) or None
    )
    for n in range(pupils):
        add_member(app, scheme, make_user(app, name=f"Pupil {n + 1:02d}"))
    return scheme


def pupil_ids(scheme: SchemeInfo) -> list[int]:
    return [p.member_ids[scheme.slug] for p in scheme.members]


def new_group(world: World, scheme: SchemeInfo, name: str, kind: str, members: list[int]) -> int:
    api = world.api(scheme.coordinator)
    created = api.post(url(scheme, "groups"), {"name": name, "kind": kind})
    assert created.status_code == 201, created.data
    group_id = int(created.get_json()["id"])
    response = api.put(url(scheme, f"groups/{group_id}/members"), {"member_ids": members})
    assert response.status_code == 200, response.data
    assert sorted(response.get_json()["member_ids"]) == sorted(members)
    return group_id


def test_a_class_of_thirty_is_credited_in_one_action_all_or_none(app: Flask, world: World) -> None:
    scheme = school(app)
    ids = pupil_ids(scheme)
    class_id = new_group(world, scheme, "Class 6B", "class", ids)
    tutoring = activity_ids(world, scheme)["Reading tutoring"]
    api = world.api(scheme.coordinator)
    before_other = counts(app, world.a.id)

    # One pupil cannot receive credits (suspended): nobody of the 30 is credited.
    suspended = scheme.members[17]
    patched = api.patch(
        url(scheme, f"members/{suspended.member_ids[scheme.slug]}"), {"status": "suspended"}
    )
    assert patched.status_code == 200, patched.data
    before = counts(app, scheme.id)
    refused = api.post(
        url(scheme, f"groups/{class_id}/awards"),
        {"activity_id": tutoring, "minutes": 60, "note": "Reading week"},
        headers={"Idempotency-Key": "class-6b-first"},
    )
    body = problem(refused)
    assert refused.status_code == 422 and body["code"] == "group_member_unavailable"
    assert body["member_ids"] == [suspended.member_ids[scheme.slug]]
    assert "Pupil 18" in body["detail"]
    assert counts(app, scheme.id) == before
    assert {balance(world, scheme, p) for p in scheme.members if p is not suspended} == {0}

    # Reactivated: the award credits all 30, one earn each, in one action.
    api.patch(url(scheme, f"members/{suspended.member_ids[scheme.slug]}"), {"status": "active"})
    key = {"Idempotency-Key": "class-6b-second"}
    award_body = {"activity_id": tutoring, "minutes": 60, "note": "Reading week"}
    response = api.post(url(scheme, f"groups/{class_id}/awards"), award_body, headers=key)
    assert response.status_code == 201, response.data
    transactions = response.get_json()["transactions"]
    assert len(transactions) == 30
    credited = {
        posting["member_id"]
        for t in transactions
        for posting in t["postings"]
        if posting["member_id"] is not None
    }
    assert credited == set(ids)
    assert {balance(world, scheme, p) for p in scheme.members} == {60}
    after = counts(app, scheme.id)
    assert after["awards"] == before["awards"] + 1
    assert after["transactions"] == before["transactions"] + 30

    # A retry with the same key replays: nobody is credited twice.
    again = api.post(url(scheme, f"groups/{class_id}/awards"), award_body, headers=key)
    assert again.status_code == 201 and again.get_json() == response.get_json()
    assert counts(app, scheme.id) == after
    assert {balance(world, scheme, p) for p in scheme.members} == {60}
    actions = audit_actions(app, scheme.id)
    assert {"group.created", "group.members_set", "group.awarded", "award.created"} <= set(actions)
    assert counts(app, world.a.id) == before_other
    assert_ledger_ok(app)


def test_group_members_are_checked_and_replaced(app: Flask, world: World) -> None:
    scheme = school(app, pupils=3)
    ids = pupil_ids(scheme)
    api = world.api(scheme.coordinator)
    group_id = new_group(world, scheme, "Nightingale", "house", ids[:2])
    # Another scheme's member, and a repeat: 422 on the index, nothing changed.
    outsider = world.a.members[0].member_ids[world.a.slug]
    response = api.put(
        url(scheme, f"groups/{group_id}/members"), {"member_ids": [ids[2], outsider, ids[2]]}
    )
    body = problem(response)
    assert response.status_code == 422
    assert set(body["errors"]) == {"member_ids.1", "member_ids.2"}
    got = api.get(url(scheme, f"groups/{group_id}")).get_json()
    assert sorted(got["member_ids"]) == sorted(ids[:2])
    replaced = api.put(url(scheme, f"groups/{group_id}/members"), {"member_ids": [ids[2]]})
    assert replaced.get_json()["member_ids"] == [ids[2]]
    # A name used already (any letter case) → 409; an unknown kind → 422.
    dup = api.post(url(scheme, "groups"), {"name": "nightingale"})
    assert dup.status_code == 409 and problem(dup)["code"] == "group_exists"
    bad = api.post(url(scheme, "groups"), {"name": "X", "kind": "team"})
    assert bad.status_code == 422 and "kind" in problem(bad)["errors"]
    # An empty group cannot be awarded to.
    empty = api.post(url(scheme, "groups"), {"name": "Empty"}).get_json()["id"]
    tutoring = activity_ids(world, scheme)["Reading tutoring"]
    refused = api.post(
        url(scheme, f"groups/{empty}/awards"), {"activity_id": tutoring, "minutes": 30}
    )
    assert refused.status_code == 422 and problem(refused)["code"] == "group_empty"


def test_league_table_and_who_sees_groups(app: Flask, world: World) -> None:
    scheme = school(app, pupils=4)
    ids = pupil_ids(scheme)
    api = world.api(scheme.coordinator)
    red = new_group(world, scheme, "Red house", "house", ids[:2])
    blue = new_group(world, scheme, "Blue house", "house", ids[2:])
    tutoring = activity_ids(world, scheme)["Maths tutoring"]
    api.post(url(scheme, f"groups/{blue}/awards"), {"activity_id": tutoring, "minutes": 90})
    api.post(url(scheme, f"groups/{red}/awards"), {"activity_id": tutoring, "minutes": 30})
    league = api.get(url(scheme, "groups/league")).get_json()["items"]
    assert [(r["rank"], r["name"], r["total_minutes"]) for r in league] == [
        (1, "Blue house", 180),
        (2, "Red house", 60),
    ]
    assert league[0]["member_count"] == 2 and league[0]["minutes_per_member"] == 90
    # The school template keeps the league table from members (under-11s); a member is
    # refused it, and every group route is the coordinator's.
    pupil = world.api(scheme.members[0])
    off = pupil.get(url(scheme, "groups/league"))
    assert off.status_code == 403 and problem(off)["code"] == "league_table_off"
    assert problem(pupil.get(url(scheme, "groups")))["code"] == "coordinator_only"
    # Switched on in the policy, members see it.
    policy = api.get(url(scheme, "policy")).get_json()
    policy["groups"]["league_table"] = True
    assert api.put(url(scheme, "policy"), policy).status_code == 200
    assert pupil.get(url(scheme, "groups/league")).status_code == 200
    # Another scheme: its coordinator cannot reach these groups (404 in their own scheme),
    # a scheme without groups refuses them, and a stranger gets 404.
    other = world.api(world.a.coordinator)
    assert other.get(url(world.a, f"groups/{red}")).status_code in (403, 404)
    off_here = other.post(url(world.a, "groups"), {"name": "Class 1"})
    assert off_here.status_code == 403 and problem(off_here)["code"] == "groups_disabled"
    assert other.get(url(scheme, "groups")).status_code == 404
    assert other.get(url(scheme, f"groups/{red}")).status_code == 404
    second = school(app, pupils=1)
    assert world.api(second.coordinator).get(url(second, f"groups/{red}")).status_code == 404
    assert world.api(second.coordinator).get(url(second, "groups/league")).get_json()["items"] == []


def test_goal_rewards_progress_and_who_is_near(app: Flask, world: World) -> None:
    scheme = school(app, pupils=3)
    api = world.api(scheme.coordinator)
    rewards = {r["name"]: r for r in api.get(url(scheme, "rewards")).get_json()["items"]}
    computer = rewards["Recycled computer"]
    assert computer["goal"] is True and rewards["Book of your choice"]["goal"] is False
    # A coordinator marks another reward as a goal.
    trip = api.patch(
        url(scheme, f"rewards/{rewards['Place on the summer trip']['id']}"), {"goal": True}
    )
    assert trip.status_code == 200 and trip.get_json()["goal"] is True
    first, second, third = scheme.members
    # Members choose among goal rewards only.
    book = world.api(first).put(
        url(scheme, "goal"), {"reward_id": rewards["Book of your choice"]["id"]}
    )
    assert book.status_code == 422 and "reward_id" in problem(book)["errors"]
    fund(app, scheme, first, 2400)
    fund(app, scheme, second, 450)
    for person, reward in ((first, computer), (second, trip.get_json()), (third, computer)):
        response = world.api(person).put(url(scheme, "goal"), {"reward_id": reward["id"]})
        assert response.status_code == 200, response.data
    progress = world.api(first).get(url(scheme, "goal")).get_json()
    assert (progress["progress_minutes"], progress["missing_minutes"]) == (2400, 600)
    near = api.get(url(scheme, "goals")).get_json()["items"]
    assert [(i["member_id"], i["share"]) for i in near] == [
        (first.member_ids[scheme.slug], 0.8),
        (second.member_ids[scheme.slug], 0.5),
        (third.member_ids[scheme.slug], 0.0),
    ]
    assert problem(world.api(first).get(url(scheme, "goals")))["code"] == "coordinator_only"
    # Another scheme's coordinator sees none of these goals.
    assert world.api(world.a.coordinator).get(url(world.a, "goals")).get_json()["items"] == []
    assert world.api(world.a.coordinator).get(url(scheme, "goals")).status_code == 404
