"""Claims past the cap, counting pending claims: accepted with a warning, not thanked blindly.

The cap is enforced at approval (``cap_exceeded``); a member whose waiting
claims already fill the period is told when logging another (the API's
``warning``), and the coordinator sees it beside the claim in the queue.
"""

from __future__ import annotations

from datetime import date, timedelta

from flask import Flask

from tests.factories import Person, SchemeInfo, World, add_member, make_scheme, make_user
from tests.tenants.earning.conftest import claim, counts, new_activity, url

# A Wednesday, so the whole week (from Monday) is in the past.
DAY = date.today() - timedelta(days=7 + (date.today().weekday() - 2) % 7)


def capped(app: Flask, world: World) -> tuple[SchemeInfo, Person, int]:
    scheme = make_scheme(
        app,
        make_user(app, name="Cora Coordinator"),
        policy={"claims": {"approval": "coordinator", "cap": {"minutes": 480, "period": "week"}}},
    )
    member = make_user(app, name="Mo Member")
    add_member(app, scheme, member)
    activity_id = new_activity(world, scheme, approval="coordinator")
    return scheme, member, activity_id


def test_a_claim_past_the_cap_with_pending_claims_carries_a_warning(
    app: Flask, world: World
) -> None:
    scheme, member, activity_id = capped(app, world)
    beta_before = counts(app, world.b.id)
    first = claim(world, member, scheme, activity_id, 300, DAY)
    assert first.status_code == 201
    assert first.get_json()["warning"] is None
    second = claim(world, member, scheme, activity_id, 240, DAY)
    assert second.status_code == 201, second.data
    body = second.get_json()
    assert body["status"] == "pending"
    warning = body["warning"]
    assert warning.startswith("With your claims still waiting for approval")
    assert "9:00 hours" in warning and "8:00 hours" in warning and "per week" in warning
    # Accepted all the same; listed without a warning.
    listed = world.api(member).get(url(scheme, "claims")).get_json()["items"]
    assert [c["status"] for c in listed] == ["pending", "pending"]
    assert all("warning" not in c for c in listed)
    # A coordinator logging on the member's behalf reads the member's name.
    coordinator = scheme.coordinator
    third = claim(
        world,
        coordinator,
        scheme,
        activity_id,
        60,
        DAY,
        member_id=member.member_ids[scheme.slug],
    )
    assert third.status_code == 201, third.data
    assert third.get_json()["warning"].startswith("With Mo Member's claims still waiting")
    # Another week is not counted.
    other_week = claim(world, member, scheme, activity_id, 60, DAY - timedelta(days=7))
    assert other_week.get_json()["warning"] is None
    # Beta saw nothing.
    assert counts(app, world.b.id) == beta_before


def test_over_the_cap_on_approved_claims_alone(app: Flask, world: World) -> None:
    scheme, member, activity_id = capped(app, world)
    first = claim(world, member, scheme, activity_id, 420, DAY)
    coordinator = scheme.coordinator
    approved = world.api(coordinator).post(
        url(scheme, f"claims/{first.get_json()['id']}/approve"),
        {},
    )
    assert approved.status_code == 200, approved.data
    second = claim(world, member, scheme, activity_id, 120, DAY)
    warning = second.get_json()["warning"]
    assert warning.startswith("Over the cap: you have only 1:00 hours left")
    assert "2:00 hours cannot be approved" in warning


def test_auto_claims_and_uncapped_schemes_carry_no_warning(world: World) -> None:
    member = world.a.members[0]
    activity_id = new_activity(world, world.a, approval="coordinator")
    for _ in range(3):
        response = claim(world, member, world.a, activity_id, 480, DAY)
        assert response.status_code == 201
    # Alpha's cap is per month and large: no warning.
    assert response.get_json()["warning"] is None
