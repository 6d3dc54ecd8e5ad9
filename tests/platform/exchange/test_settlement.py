"""Settlement statements: what flowed each way under an agreement, in each side's terms."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask

from tests.factories import World, make_scheme, make_user, problem
from tests.platform.exchange.support import agree, counts, pay, verify


def test_each_side_gets_its_own_statement(app: Flask, world: World) -> None:
    agreement_id = agree(world, world.a, world.b, rate="2", limit=6000)
    ann, arthur = world.a.members
    ben = world.b.members[0]
    assert pay(world, ann, world.a, world.b, ben, 30).status_code == 201  # ben +60
    assert pay(world, arthur, world.a, world.b, ben, 10).status_code == 201  # ben +20
    assert pay(world, ben, world.b, world.a, ann, 21).status_code == 201  # ann +11 (10.5)

    today = datetime.now(ZoneInfo("Europe/London")).date().isoformat()
    ours = world.api(ann).get(
        f"/api/v1/schemes/{world.a.slug}/agreements/{agreement_id}/settlement"
        f"?from={today}&to={today}"
    )
    assert ours.status_code == 200, ours.get_json()
    a = ours.get_json()
    assert a["partner"] == world.b.slug and a["rate"] == "2"
    assert a["from"] == a["to"] == today
    assert a["paid_out"] == {"count": 2, "amount": 40, "credited": 80}
    assert a["received"] == {"count": 1, "amount": 21, "credited": 11}
    assert a["net"] == 29 and a["opening_position"] == 0
    assert a["closing_position"] == a["position"] == 29

    theirs = world.api(world.b.coordinator).get(
        f"/api/v1/schemes/{world.b.slug}/agreements/{agreement_id}/settlement"
    )
    assert theirs.status_code == 200
    b = theirs.get_json()
    assert b["partner"] == world.a.slug and b["rate"] == "0.5"
    assert b["paid_out"] == {"count": 1, "amount": 21, "credited": 11}
    assert b["received"] == {"count": 2, "amount": 40, "credited": 80}
    assert b["net"] == 21 - 80 and b["closing_position"] == b["position"] == -59
    # The mirror, recorded pair by pair: 29 × 2 = 58 and −59 differ by B→A's rounding (½ × 2).
    assert abs(a["position"] * 2 + b["position"]) <= 1
    verify(app)


def test_a_period_without_payments_is_empty_but_shows_the_positions(
    app: Flask, world: World
) -> None:
    agreement_id = agree(world, world.a, world.b, rate="1")
    assert pay(world, world.a.members[0], world.a, world.b, world.b.members[0], 15).status_code
    past = world.api(world.a.coordinator).get(
        f"/api/v1/schemes/{world.a.slug}/agreements/{agreement_id}/settlement"
        "?from=2001-01-01&to=2001-01-31"
    )
    assert past.status_code == 200
    body = past.get_json()
    assert body["paid_out"] == body["received"] == {"count": 0, "amount": 0, "credited": 0}
    assert body["opening_position"] == body["closing_position"] == 0
    assert body["position"] == 15
    future = world.api(world.a.coordinator).get(
        f"/api/v1/schemes/{world.a.slug}/agreements/{agreement_id}/settlement?from=2999-01-01"
        "&to=2999-12-31"
    )
    assert future.get_json()["opening_position"] == 15


def test_bad_periods_are_422_on_the_parameter(app: Flask, world: World) -> None:
    agreement_id = agree(world, world.a, world.b, rate="1")
    url = f"/api/v1/schemes/{world.a.slug}/agreements/{agreement_id}/settlement"
    api = world.api(world.a.coordinator)
    for query, field in (
        ("?from=2024-02-01&to=2024-01-01", "to"),
        ("?from=yesterday", "from"),
        ("?to=2024-13-01", "to"),
    ):
        response = api.get(url + query)
        assert response.status_code == 422, query
        assert field in problem(response)["errors"], (query, response.get_json())


def test_settlement_of_another_pair_is_404_and_a_third_scheme_saw_nothing(
    app: Flask, world: World
) -> None:
    third = make_scheme(app, make_user(app), slug="gamma-bank")
    before = counts(app, third)
    agreement_id = agree(world, world.a, world.b, rate="1")
    pay(world, world.a.members[0], world.a, world.b, world.b.members[0], 5)
    response = world.api(third.coordinator).get(
        f"/api/v1/schemes/{third.slug}/agreements/{agreement_id}/settlement"
    )
    assert response.status_code == 404
    assert counts(app, third) == before
