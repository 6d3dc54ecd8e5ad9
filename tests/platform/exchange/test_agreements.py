"""Agreements between schemes: proposing, accepting, the lifecycle, each side's terms, audit."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tests.factories import World, add_member, make_scheme, make_user, problem
from tests.platform.exchange.support import agree, audit_actions, counts, listed


def _propose(world: World, body: dict[str, Any]) -> Any:
    return world.api(world.a.coordinator).post(f"/api/v1/schemes/{world.a.slug}/agreements", body)


def test_propose_accept_and_both_sides_list_it_in_their_own_terms(app: Flask, world: World) -> None:
    third = make_scheme(app, make_user(app), slug="gamma-bank")
    before_third = counts(app, third)
    proposed = _propose(world, {"partner": world.b.slug, "rate": "2", "limit": 600})
    assert proposed.status_code == 201, proposed.get_json()
    body = proposed.get_json()
    assert body["status"] == "proposed"
    agreement_id = body["id"]

    # Listed by both schemes from the moment it is proposed, to any member.
    ann, ben = world.a.members[0], world.b.members[0]
    ours = listed(world, ann, world.a)[agreement_id]
    theirs = listed(world, ben, world.b)[agreement_id]
    assert {k: ours[k] for k in ("partner", "rate", "limit", "position", "status")} == {
        "partner": world.b.slug,
        "rate": "2",
        "limit": 600,
        "position": 0,
        "status": "proposed",
    }
    assert {k: theirs[k] for k in ("partner", "rate", "limit", "position", "status")} == {
        "partner": world.a.slug,
        "rate": "0.5",
        "limit": 1200,
        "position": 0,
        "status": "proposed",
    }

    # The proposer cannot accept; a plain member of the partner cannot either.
    own = world.api(world.a.coordinator).post(
        f"/api/v1/schemes/{world.a.slug}/agreements/{agreement_id}/accept"
    )
    assert own.status_code == 403
    member = world.api(ben).post(f"/api/v1/schemes/{world.b.slug}/agreements/{agreement_id}/accept")
    assert member.status_code == 403
    assert problem(member)["code"] == "coordinator_only"

    accepted = world.api(world.b.coordinator).post(
        f"/api/v1/schemes/{world.b.slug}/agreements/{agreement_id}/accept"
    )
    assert accepted.status_code == 200
    assert accepted.get_json()["status"] == "active"
    assert listed(world, ann, world.a)[agreement_id]["status"] == "active"

    assert audit_actions(app, world.a) == ["agreement.proposed", "agreement.accepted"]
    assert audit_actions(app, world.b) == ["agreement.proposed", "agreement.accepted"]

    # A third scheme saw nothing: no listing, no rows, and the id is a 404 there.
    gamma = third.coordinator
    assert listed(world, gamma, third) == {}
    missing = world.api(gamma).get(f"/api/v1/schemes/{third.slug}/agreements/{agreement_id}")
    assert missing.status_code == 404
    assert counts(app, third) == before_third
    assert audit_actions(app, third) == []


def test_clearing_accounts_are_opened_once_on_acceptance(app: Flask, world: World) -> None:
    before_a, before_b = counts(app, world.a), counts(app, world.b)
    agreement_id = agree(world, world.a, world.b)
    assert counts(app, world.a)["accounts"] == before_a["accounts"] + 1
    assert counts(app, world.b)["accounts"] == before_b["accounts"] + 1
    # Ending and agreeing again reuses the same clearing accounts (one per partner).
    ended = world.api(world.b.coordinator).post(
        f"/api/v1/schemes/{world.b.slug}/agreements/{agreement_id}/end"
    )
    assert ended.status_code == 200
    agree(world, world.b, world.a, rate="0.5")
    assert counts(app, world.a)["accounts"] == before_a["accounts"] + 1
    assert counts(app, world.b)["accounts"] == before_b["accounts"] + 1


def test_suspend_resume_end_by_either_side_and_ended_is_final(app: Flask, world: World) -> None:
    agreement_id = agree(world, world.a, world.b)
    a_coord, b_coord = world.api(world.a.coordinator), world.api(world.b.coordinator)
    a_url = f"/api/v1/schemes/{world.a.slug}/agreements/{agreement_id}"
    b_url = f"/api/v1/schemes/{world.b.slug}/agreements/{agreement_id}"

    assert a_coord.post(f"{a_url}/suspend").get_json()["status"] == "suspended"
    again = b_coord.post(f"{b_url}/suspend")
    assert again.status_code == 422 and problem(again)["code"] == "invalid_transition"
    assert b_coord.post(f"{b_url}/resume").get_json()["status"] == "active"
    member = world.api(world.a.members[0]).post(f"{a_url}/suspend")
    assert member.status_code == 403
    assert b_coord.post(f"{b_url}/end").get_json()["status"] == "ended"
    for action in ("resume", "suspend", "end", "accept"):
        after = (a_coord if action != "accept" else b_coord).post(
            f"{a_url if action != 'accept' else b_url}/{action}"
        )
        assert after.status_code == 422, (action, after.get_json())
        assert problem(after)["code"] == "agreement_ended"
    listing = listed(world, world.a.members[0], world.a)[agreement_id]
    assert listing["status"] == "ended" and listing["ended_at"]
    expected = [
        "agreement.proposed",
        "agreement.accepted",
        "agreement.suspended",
        "agreement.resumed",
        "agreement.ended",
    ]
    assert audit_actions(app, world.a) == expected
    assert audit_actions(app, world.b) == expected


def test_decline_by_the_partner_then_a_new_proposal_is_possible(app: Flask, world: World) -> None:
    first = _propose(world, {"partner": world.b.slug, "rate": "1", "limit": 60}).get_json()["id"]
    duplicate = _propose(world, {"partner": world.b.slug, "rate": "1", "limit": 60})
    assert duplicate.status_code == 409
    assert problem(duplicate)["code"] == "agreement_exists"
    # Nor the other way round.
    reverse = world.api(world.b.coordinator).post(
        f"/api/v1/schemes/{world.b.slug}/agreements",
        {"partner": world.a.slug, "rate": "1", "limit": 60},
    )
    assert reverse.status_code == 409
    proposer_declines = world.api(world.a.coordinator).post(
        f"/api/v1/schemes/{world.a.slug}/agreements/{first}/decline"
    )
    assert proposer_declines.status_code == 403
    declined = world.api(world.b.coordinator).post(
        f"/api/v1/schemes/{world.b.slug}/agreements/{first}/decline"
    )
    assert declined.status_code == 200 and declined.get_json()["status"] == "declined"
    second = _propose(world, {"partner": world.b.slug, "rate": "1", "limit": 60})
    assert second.status_code == 201
    assert audit_actions(app, world.b) == [
        "agreement.proposed",
        "agreement.declined",
        "agreement.proposed",
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"partner": "no-such-scheme", "rate": "1", "limit": 60}, "partner"),
        ({"partner": "alpha-bank", "rate": "1", "limit": 60}, "partner"),
        ({"partner": "beta-surgery", "rate": "0", "limit": 60}, "rate"),
        ({"partner": "beta-surgery", "rate": "-2", "limit": 60}, "rate"),
        ({"partner": "beta-surgery", "rate": "two", "limit": 60}, "rate"),
        ({"partner": "beta-surgery", "rate": "NaN", "limit": 60}, "rate"),
        ({"partner": "beta-surgery", "rate": "Infinity", "limit": 60}, "rate"),
        ({"partner": "beta-surgery", "rate": "1/3", "limit": 60}, "rate"),
        ({"partner": "beta-surgery", "rate": True, "limit": 60}, "rate"),
        ({"partner": "beta-surgery", "rate": "0.0000001", "limit": 60}, "rate"),
        ({"partner": "beta-surgery", "rate": "1", "limit": -1}, "limit"),
        ({"partner": "beta-surgery", "rate": "1", "limit": 1.5}, "limit"),
        ({"partner": "beta-surgery", "rate": "1"}, "limit"),
        ({"partner": "beta-surgery", "limit": 60}, "rate"),
        ({"rate": "1", "limit": 60}, "partner"),
        ({"partner": "beta-surgery", "rate": "1", "limit": 60, "scheme_id": 2}, "scheme_id"),
    ],
)
def test_bad_proposals_are_422_on_the_field_and_write_nothing(
    app: Flask, world: World, body: dict[str, Any], field: str
) -> None:
    before_a, before_b = counts(app, world.a), counts(app, world.b)
    response = _propose(world, body)
    assert response.status_code == 422, response.get_json()
    error = problem(response)
    assert error["code"] == "validation_error"
    assert field in error["errors"], error
    assert counts(app, world.a) == before_a and counts(app, world.b) == before_b
    assert listed(world, world.a.coordinator, world.a) == {}


def test_rates_are_kept_exactly_and_shown_to_six_places(app: Flask, world: World) -> None:
    response = _propose(world, {"partner": world.b.slug, "rate": "0.333333", "limit": 300})
    agreement_id = response.get_json()["id"]
    assert listed(world, world.a.coordinator, world.a)[agreement_id]["rate"] == "0.333333"
    theirs = listed(world, world.b.coordinator, world.b)[agreement_id]
    assert theirs["rate"] == "3.000003"  # 1/0.333333 = 3.000003000003…, half up to 6 places
    assert theirs["limit"] == 100  # 300 × 0.333333 = 99.9999 → 100


def test_exchange_must_be_enabled_on_both_sides(app: Flask, world: World) -> None:
    school = make_scheme(app, make_user(app), slug="gamma-school", template="school")
    refused = _propose(world, {"partner": school.slug, "rate": "1", "limit": 60})
    assert refused.status_code == 422
    assert problem(refused)["code"] == "exchange_disabled"
    # And the proposer's own policy counts too.
    other = world.api(school.coordinator).post(
        f"/api/v1/schemes/{school.slug}/agreements",
        {"partner": world.a.slug, "rate": "1", "limit": 60},
    )
    assert problem(other)["code"] == "exchange_disabled"
    # Switching it off between proposal and acceptance stops the acceptance.
    agreement_id = _propose(world, {"partner": world.b.slug, "rate": "1", "limit": 60}).get_json()[
        "id"
    ]
    _set_exchange(world, world.b, enabled=False)
    late = world.api(world.b.coordinator).post(
        f"/api/v1/schemes/{world.b.slug}/agreements/{agreement_id}/accept"
    )
    assert late.status_code == 422 and problem(late)["code"] == "exchange_disabled"
    assert listed(world, world.b.coordinator, world.b)[agreement_id]["status"] == "proposed"


def _set_exchange(world: World, scheme: Any, *, enabled: bool) -> None:
    api = world.api(scheme.coordinator)
    policy = api.get(f"/api/v1/schemes/{scheme.slug}/policy").get_json()
    policy["exchange"]["enabled"] = enabled
    policy.pop("version", None)
    response = api.put(f"/api/v1/schemes/{scheme.slug}/policy", policy)
    assert response.status_code == 200, response.get_json()


def test_another_schemes_agreement_is_404_everywhere(app: Flask, world: World) -> None:
    third = make_scheme(app, make_user(app), slug="gamma-bank")
    agreement_id = agree(world, world.b, third)
    a_coord = world.api(world.a.coordinator)
    base = f"/api/v1/schemes/{world.a.slug}/agreements/{agreement_id}"
    assert a_coord.get(base).status_code == 404
    for action in ("accept", "decline", "suspend", "resume", "end"):
        response = a_coord.post(f"{base}/{action}")
        assert response.status_code == 404, action
    assert a_coord.get(f"{base}/settlement").status_code == 404
    assert listed(world, world.a.coordinator, world.a) == {}
    # A member of A who is not a member of B cannot read B's agreements at all.
    ann = world.a.members[0]
    assert world.api(ann).get(f"/api/v1/schemes/{world.b.slug}/agreements").status_code == 404
    # ... until they join B.
    add_member(app, world.b, ann)
    assert agreement_id in listed(world, ann, world.b)
    assert audit_actions(app, world.a) == []
