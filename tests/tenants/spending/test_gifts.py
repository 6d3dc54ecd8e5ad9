"""Gifts to the community pot or a member, and coordinators' grants from the pot."""

from __future__ import annotations

from typing import Any

from flask import Flask

from tests.factories import World, add_member, fund, make_scheme, make_user, problem
from tests.tenants.spending.support import balance, scheme_account_balance, snapshot, url, verify


def test_a_member_gives_to_the_pot_and_a_coordinator_grants_from_it(
    app: Flask, world: World
) -> None:
    ann, arthur = world.a.members
    fund(app, world.a, ann, 300)
    other_before = snapshot(app, world.b)

    gift = world.api(ann).post(url(world.a, "gifts"), {"to": "pot", "amount": 120, "memo": "ta"})
    assert gift.status_code == 201, gift.get_json()
    body = gift.get_json()
    assert body["kind"] == "gift" and body["amount"] == 120 and body["memo"] == "ta"
    assert sorted((p["account"], p["amount"]) for p in body["postings"]) == [
        ("member", -120),
        ("pot", 120),
    ]
    assert world.api(arthur).get(url(world.a, "pot")).get_json() == {"balance": 120}

    arthur_id = arthur.member_ids[world.a.slug]
    grant = world.api(world.a.coordinator).post(
        url(world.a, "pot/grants"), {"to_member_id": arthur_id, "amount": 100}
    )
    assert grant.status_code == 201, grant.get_json()
    assert grant.get_json()["kind"] == "gift"
    assert balance(world, arthur, world.a) == 100
    assert scheme_account_balance(app, world.a, "pot") == 20
    assert balance(world, ann, world.a) == 180
    assert snapshot(app, world.b) == other_before
    assert verify(app) == []


def test_the_pot_cannot_go_below_zero(app: Flask, world: World) -> None:
    ann = world.a.members[0]
    before = snapshot(app, world.a)
    grant = world.api(world.a.coordinator).post(
        url(world.a, "pot/grants"), {"to_member_id": ann.member_ids[world.a.slug], "amount": 1}
    )
    assert grant.status_code == 422
    details = problem(grant)
    assert details["code"] == "insufficient_balance" and "pot" in details["detail"]
    assert snapshot(app, world.a) == before


def test_grants_are_for_coordinators_and_not_to_themselves(app: Flask, world: World) -> None:
    ann, arthur = world.a.members
    fund(app, world.a, ann, 300)
    world.api(ann).post(url(world.a, "gifts"), {"to": "pot", "amount": 300})
    before = snapshot(app, world.a)
    by_member = world.api(ann).post(
        url(world.a, "pot/grants"), {"to_member_id": arthur.member_ids[world.a.slug], "amount": 10}
    )
    assert by_member.status_code == 403 and problem(by_member)["code"] == "coordinator_only"
    own = world.api(world.a.coordinator).post(
        url(world.a, "pot/grants"),
        {"to_member_id": world.a.coordinator.member_ids[world.a.slug], "amount": 10},
    )
    assert own.status_code == 403 and problem(own)["code"] == "own_grant"
    assert snapshot(app, world.a) == before


def test_gifts_to_members_follow_the_peer_transfer_rules(app: Flask, world: World) -> None:
    ann, arthur = world.a.members
    fund(app, world.a, ann, 3000)
    api = world.api(ann)
    arthur_id = arthur.member_ids[world.a.slug]
    ok = api.post(url(world.a, "gifts"), {"to": arthur_id, "amount": 60})
    assert ok.status_code == 201, ok.get_json()
    assert balance(world, arthur, world.a) == 60
    before = snapshot(app, world.a)
    too_much = api.post(url(world.a, "gifts"), {"to": arthur_id, "amount": 1201})
    assert too_much.status_code == 422 and problem(too_much)["code"] == "amount_above_maximum"
    assert snapshot(app, world.a) == before

    # A school: no peer transfers, so no gifts between pupils; the pot is always open.
    teacher = make_user(app)
    school = make_scheme(app, teacher, template="school")
    pupils = [make_user(app), make_user(app)]
    for pupil in pupils:
        add_member(app, school, pupil)
    fund(app, school, pupils[0], 120)
    pupil_api = world.api(pupils[0])
    refused = pupil_api.post(
        url(school, "gifts"), {"to": pupils[1].member_ids[school.slug], "amount": 60}
    )
    assert refused.status_code == 422 and problem(refused)["code"] == "peer_transfers_disabled"
    assert pupil_api.post(url(school, "gifts"), {"to": "pot", "amount": 60}).status_code == 201


def test_bad_gifts_are_422_on_the_field_and_write_nothing(app: Flask, world: World) -> None:
    ann = world.a.members[0]
    fund(app, world.a, ann, 300)
    me = ann.member_ids[world.a.slug]
    b_member = world.b.members[0].member_ids[world.b.slug]
    before = snapshot(app, world.a)
    other_before = snapshot(app, world.b)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"to": "pot", "amount": 0}, "amount"),
        ({"to": "pot", "amount": 1.5}, "amount"),
        ({"to": "bin", "amount": 10}, "to"),
        ({"to": True, "amount": 10}, "to"),
        ({"to": 0, "amount": 10}, "to"),
        ({"amount": 10}, "to"),
        ({"to": 999999, "amount": 10}, "to"),
        ({"to": b_member, "amount": 10}, "to"),
        ({"to": me, "amount": 10}, "to"),
        ({"to": "pot", "amount": 10, "from": 3}, "from"),
    ]
    for body, field in cases:
        response = world.api(ann).post(url(world.a, "gifts"), body)
        assert response.status_code == 422, (body, response.get_json())
        details = problem(response)
        assert details["code"] == "validation_error" and field in details["errors"], details
    broke = world.api(ann).post(url(world.a, "gifts"), {"to": "pot", "amount": 1000})
    assert broke.status_code == 422 and problem(broke)["code"] == "insufficient_balance"
    assert snapshot(app, world.a) == before
    assert snapshot(app, world.b) == other_before
