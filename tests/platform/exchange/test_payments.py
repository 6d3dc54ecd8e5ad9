"""Payments across schemes: both legs or neither, rounding, limits, what each side sees."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
from flask import Flask

from tests.factories import World, add_member, make_operator, make_scheme, make_user, problem
from tests.platform.exchange.support import (
    agree,
    balance,
    counts,
    exchange_rows,
    listed,
    pay,
    verify,
)


def _ledgers(app: Flask, world: World) -> tuple[dict[str, int], dict[str, int], int]:
    return counts(app, world.a), counts(app, world.b), exchange_rows(app)


def test_a_payment_at_rate_2_moves_both_ledgers_and_each_sees_its_own_leg(
    app: Flask, world: World
) -> None:
    third = make_scheme(app, make_user(app), slug="gamma-bank")
    before_third = counts(app, third)
    agreement_id = agree(world, world.a, world.b, rate="2", limit=600)
    ann, ben = world.a.members[0], world.b.members[0]

    response = pay(world, ann, world.a, world.b, ben, 30)
    assert response.status_code == 201, response.get_json()
    leg = response.get_json()
    assert leg["kind"] == "exchange" and leg["partner"] == world.b.slug and leg["amount"] == 30
    assert sorted((p["account"], p["member_id"], p["amount"]) for p in leg["postings"]) == [
        ("clearing", None, 30),
        ("member", ann.member_ids[world.a.slug], -30),
    ]
    # The API example: A's position +30, B's member +60, B's position −60.
    assert balance(world, ann, world.a) == -30
    assert balance(world, ben, world.b) == 60
    assert listed(world, ann, world.a)[agreement_id]["position"] == 30
    assert listed(world, ben, world.b)[agreement_id]["position"] == -60

    # B sees only its own leg: the partner's slug, its clearing account and its member.
    items = world.api(ben).get(f"/api/v1/schemes/{world.b.slug}/transactions").get_json()["items"]
    assert len(items) == 1
    theirs = items[0]
    assert theirs["kind"] == "exchange" and theirs["partner"] == world.a.slug
    assert theirs["amount"] == 60
    assert sorted((p["account"], p["member_id"], p["amount"]) for p in theirs["postings"]) == [
        ("clearing", None, -60),
        ("member", ben.member_ids[world.b.slug], 60),
    ]
    b_members = {p.member_ids[world.b.slug] for p in [world.b.coordinator, *world.b.members]}
    assert {p["member_id"] for p in theirs["postings"]} <= b_members | {None}
    # A's leg is not B's: each scheme's id space is its own, and the other's id is a 404.
    a_coord = world.api(world.a.coordinator)
    assert (
        a_coord.get(f"/api/v1/schemes/{world.a.slug}/transactions/{theirs['id']}").status_code
        == 404
    )
    assert (
        world.api(world.b.coordinator)
        .get(f"/api/v1/schemes/{world.b.slug}/transactions/{leg['id']}")
        .status_code
        == 404
    )
    # A member of A cannot read B's transactions or agreements.
    assert world.api(ann).get(f"/api/v1/schemes/{world.b.slug}/transactions").status_code == 404
    assert world.api(ann).get(f"/api/v1/schemes/{world.b.slug}/agreements").status_code == 404
    assert exchange_rows(app) == 1
    assert counts(app, third) == before_third
    lines = verify(app)
    assert any("mirror" in line for line in lines)


# (rate in A's terms, direction, amount paid, credited)
ROUNDING = [
    ("1", "ab", 7, 7),
    ("1", "ba", 7, 7),
    ("2", "ab", 30, 60),
    ("2", "ba", 1, 1),  # 0.5 → 1
    ("2", "ba", 3, 2),  # 1.5 → 2
    ("2", "ba", 5, 3),  # 2.5 → 3
    ("0.5", "ab", 1, 1),  # 0.5 → 1
    ("0.5", "ab", 3, 2),  # 1.5 → 2
    ("0.5", "ba", 7, 14),
    ("0.333333", "ab", 2, 1),  # 0.666666
    ("0.333333", "ab", 3, 1),  # 0.999999
    ("0.333333", "ab", 4, 1),  # 1.333332
    ("0.333333", "ab", 5, 2),  # 1.666665
    ("0.333333", "ba", 1, 3),  # 3.000003
    ("0.333333", "ba", 100, 300),  # 300.0003
    ("0.333333", "ba", 500, 1500),  # 1500.0015
    ("1.5", "ab", 1, 2),  # 1.5 → 2
    ("1.5", "ba", 1, 1),  # 0.666… → 1
    ("1.5", "ba", 2, 1),  # 1.333… → 1
]


@pytest.mark.parametrize(("rate", "direction", "amount", "credited"), ROUNDING)
def test_the_payee_gets_round_half_up_of_amount_times_the_exact_rate(
    app: Flask, world: World, rate: str, direction: str, amount: int, credited: int
) -> None:
    agreement_id = agree(world, world.a, world.b, rate=rate, limit=100_000)
    ann, ben = world.a.members[0], world.b.members[0]
    if direction == "ab":
        payer, payee, src, dst = ann, ben, world.a, world.b
    else:
        payer, payee, src, dst = ben, ann, world.b, world.a
    response = pay(world, payer, src, dst, payee, amount)
    assert response.status_code == 201, response.get_json()
    assert balance(world, payer, src) == -amount
    assert balance(world, payee, dst) == credited
    assert listed(world, payer, src)[agreement_id]["position"] == amount
    assert listed(world, payee, dst)[agreement_id]["position"] == -credited
    verify(app)


@pytest.mark.parametrize("rate", ["1", "2", "0.5", "0.333333", "0.142857", "3"])
def test_many_payments_both_ways_keep_the_mirror_within_rounding(
    app: Flask, world: World, rate: str
) -> None:
    agreement_id = agree(world, world.a, world.b, rate=rate, limit=100_000)
    exact = Fraction(rate)
    ann, arthur = world.a.members
    ben, bella = world.b.members
    position_a = position_b = 0
    count = 0
    for step, amount in enumerate([1, 2, 3, 5, 7, 10, 11, 13, 29, 30, 31, 59]):
        for payer, src, dst, payee, forward in (
            (ann if step % 2 else arthur, world.a, world.b, ben if step % 3 else bella, True),
            (bella if step % 2 else ben, world.b, world.a, arthur if step % 3 else ann, False),
        ):
            credited_exact = amount * (exact if forward else 1 / exact)
            response = pay(world, payer, src, dst, payee, amount)
            if credited_exact < Fraction(1, 2):
                assert response.status_code == 422
                assert "amount" in problem(response)["errors"]
                continue
            assert response.status_code == 201, response.get_json()
            count += 1
            credited = int(credited_exact + Fraction(1, 2))
            if forward:
                position_a += amount
                position_b -= credited
            else:
                position_b += amount
                position_a -= credited
    assert listed(world, ann, world.a)[agreement_id]["position"] == position_a
    assert listed(world, ben, world.b)[agreement_id]["position"] == position_b
    # clearing_A × rate + clearing_B: zero but for half a minute of rounding per payment.
    assert abs(position_a * exact + position_b) <= count * Fraction(1, 2) * max(Fraction(1), exact)
    lines = verify(app)
    assert any(f"{count} exchange(s)" in line for line in lines), lines


def test_too_small_to_credit_a_minute_is_422_on_amount(app: Flask, world: World) -> None:
    agree(world, world.a, world.b, rate="0.333333")
    before = _ledgers(app, world)
    response = pay(world, world.a.members[0], world.a, world.b, world.b.members[0], 1)
    assert response.status_code == 422
    body = problem(response)
    assert "amount" in body["errors"] and "at least 2" in body["errors"]["amount"][0]
    assert _ledgers(app, world) == before


def test_second_leg_refused_payee_over_maximum_leaves_both_ledgers_untouched(
    app: Flask, world: World
) -> None:
    agreement_id = agree(world, world.a, world.b, rate="2", limit=6000)
    ann, ben = world.a.members[0], world.b.members[0]
    capped = world.api(world.b.coordinator).patch(
        f"/api/v1/schemes/{world.b.slug}/members/{ben.member_ids[world.b.slug]}",
        {"max_balance": 50},
    )
    assert capped.status_code == 200, capped.get_json()
    before = _ledgers(app, world)
    for headers in ({}, {"Idempotency-Key": "over-max-1"}):
        response = pay(world, ann, world.a, world.b, ben, 30, headers=headers)  # 60 > 50
        assert response.status_code == 422
        assert problem(response)["code"] == "balance_above_maximum"
    after_a, after_b, exchanges = _ledgers(app, world)
    # Nothing of the first leg remains (the refusal stored for the key is not ledger data).
    assert after_a == before[0]
    assert after_b == before[1] and exchanges == before[2] == 0
    assert balance(world, ann, world.a) == 0 and balance(world, ben, world.b) == 0
    assert listed(world, ann, world.a)[agreement_id]["position"] == 0
    # Exactly to the maximum is fine (limits are inclusive).
    ok = pay(world, ann, world.a, world.b, ben, 25)
    assert ok.status_code == 201
    assert balance(world, ben, world.b) == 50
    verify(app)


def test_payer_below_minimum_is_refused_and_nothing_is_written(app: Flask, world: World) -> None:
    agree(world, world.a, world.b, rate="1")
    before = _ledgers(app, world)
    response = pay(world, world.a.members[0], world.a, world.b, world.b.members[0], 601)
    assert response.status_code == 422
    assert problem(response)["code"] == "insufficient_balance"
    assert _ledgers(app, world) == before


def test_agreement_limit_inclusive_on_both_sides(app: Flask, world: World) -> None:
    # A's limit 5; B's limit 5 × 0.5 = 2.5 → 3.
    agreement_id = agree(world, world.a, world.b, rate="0.5", limit=5)
    ann, ben = world.a.members[0], world.b.members[0]
    assert listed(world, ben, world.b)[agreement_id]["limit"] == 3
    before = _ledgers(app, world)
    # B pays 3: B's position +3 (its limit, allowed) but A's would be −6, past A's 5.
    # The payer's leg is fine; the payee side's limit refuses, and nothing remains.
    refused = pay(world, ben, world.b, world.a, ann, 3)
    assert refused.status_code == 422
    body = problem(refused)
    assert body["code"] == "agreement_limit_exceeded"
    assert _ledgers(app, world) == before

    assert pay(world, ann, world.a, world.b, ben, 5).status_code == 201  # A +5 (= limit)
    over = pay(world, ann, world.a, world.b, ben, 1)
    assert over.status_code == 422 and problem(over)["code"] == "agreement_limit_exceeded"
    assert listed(world, ann, world.a)[agreement_id]["position"] == 5
    assert listed(world, ben, world.b)[agreement_id]["position"] == -3
    # Paying back brings the position down and is allowed.
    back = pay(world, ben, world.b, world.a, ann, 2)  # A credited 4
    assert back.status_code == 201, back.get_json()
    assert listed(world, ann, world.a)[agreement_id]["position"] == 1
    assert listed(world, ben, world.b)[agreement_id]["position"] == -1
    verify(app)


def test_a_zero_limit_allows_no_payment(app: Flask, world: World) -> None:
    agree(world, world.a, world.b, rate="1", limit=0)
    response = pay(world, world.a.members[0], world.a, world.b, world.b.members[0], 1)
    assert problem(response)["code"] == "agreement_limit_exceeded"


def test_without_an_active_agreement_payments_are_refused(app: Flask, world: World) -> None:
    ann, ben = world.a.members[0], world.b.members[0]
    a_coord, b_coord = world.api(world.a.coordinator), world.api(world.b.coordinator)

    def code() -> str:
        response = pay(world, ann, world.a, world.b, ben, 10)
        assert response.status_code == 422, response.get_json()
        return str(problem(response)["code"])

    before = _ledgers(app, world)
    assert code() == "no_agreement"
    proposed = a_coord.post(
        f"/api/v1/schemes/{world.a.slug}/agreements",
        {"partner": world.b.slug, "rate": "1", "limit": 600},
    ).get_json()["id"]
    assert code() == "agreement_not_active"
    b_coord.post(f"/api/v1/schemes/{world.b.slug}/agreements/{proposed}/decline")
    assert code() == "no_agreement"
    agreement_id = agree(world, world.b, world.a, rate="1")
    a_url = f"/api/v1/schemes/{world.a.slug}/agreements/{agreement_id}"
    a_coord.post(f"{a_url}/suspend")
    assert code() == "agreement_not_active"
    a_coord.post(f"{a_url}/resume")
    assert pay(world, ann, world.a, world.b, ben, 10).status_code == 201
    a_coord.post(f"{a_url}/end")
    assert code() == "agreement_not_active"
    after_a, after_b, exchanges = _ledgers(app, world)
    assert exchanges == 1
    assert after_a["transactions"] == before[0]["transactions"] + 1
    assert after_b["transactions"] == before[1]["transactions"] + 1


def test_exchange_switched_off_stops_payments(app: Flask, world: World) -> None:
    agree(world, world.a, world.b, rate="1")
    api = world.api(world.b.coordinator)
    policy = api.get(f"/api/v1/schemes/{world.b.slug}/policy").get_json()
    policy.pop("version")
    policy["exchange"]["enabled"] = False
    assert api.put(f"/api/v1/schemes/{world.b.slug}/policy", policy).status_code == 200
    response = pay(world, world.a.members[0], world.a, world.b, world.b.members[0], 10)
    assert response.status_code == 422
    assert problem(response)["code"] == "exchange_disabled"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"to_scheme": "no-such-scheme"}, "to_scheme"),
        ({"to_scheme": "alpha-bank"}, "to_scheme"),
        ({"to_member_id": 999_999}, "to_member_id"),
        ({"to_member_id": "own-a-id"}, "to_member_id"),
        ({"amount": 0}, "amount"),
        ({"amount": "10"}, "amount"),
        ({"to_scheme": ""}, "to_scheme"),
    ],
)
def test_bad_payment_fields_are_422_on_the_field(
    app: Flask, world: World, change: dict[str, Any], field: str
) -> None:
    agree(world, world.a, world.b, rate="1")
    ann, ben = world.a.members[0], world.b.members[0]
    body: dict[str, Any] = {
        "to_scheme": world.b.slug,
        "to_member_id": ben.member_ids[world.b.slug],
        "amount": 10,
    }
    body.update(change)
    if body["to_member_id"] == "own-a-id":
        body["to_member_id"] = world.a.members[1].member_ids[world.a.slug]  # not in B
    before = _ledgers(app, world)
    response = world.api(ann).post(f"/api/v1/schemes/{world.a.slug}/transfers", body)
    assert response.status_code == 422, response.get_json()
    error = problem(response)
    assert error["code"] == "validation_error" and field in error["errors"], error
    assert _ledgers(app, world) == before


def test_a_member_of_both_schemes_moves_their_own_credits_across(app: Flask, world: World) -> None:
    agreement_id = agree(world, world.a, world.b, rate="2")
    ann = world.a.members[0]
    add_member(app, world.b, ann)
    response = pay(world, ann, world.a, world.b, ann, 45)
    assert response.status_code == 201, response.get_json()
    assert balance(world, ann, world.a) == -45
    assert balance(world, ann, world.b) == 90
    back = pay(world, ann, world.b, world.a, ann, 90)
    assert back.status_code == 201
    assert balance(world, ann, world.a) == 0 and balance(world, ann, world.b) == 0
    assert listed(world, ann, world.a)[agreement_id]["position"] == 0
    assert listed(world, ann, world.b)[agreement_id]["position"] == 0
    verify(app)


def test_idempotent_retry_pays_once(app: Flask, world: World) -> None:
    agree(world, world.a, world.b, rate="2")
    ann, ben = world.a.members[0], world.b.members[0]
    headers = {"Idempotency-Key": "pay-ben-once"}
    first = pay(world, ann, world.a, world.b, ben, 30, headers=headers)
    second = pay(world, ann, world.a, world.b, ben, 30, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.get_json() == second.get_json()
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert balance(world, ben, world.b) == 60 and exchange_rows(app) == 1
    reused = pay(world, ann, world.a, world.b, ben, 31, headers=headers)
    assert problem(reused)["code"] == "idempotency_key_reused"
    verify(app)


def test_a_suspended_partner_scheme_cannot_be_paid(app: Flask, world: World) -> None:
    agree(world, world.a, world.b, rate="1")
    operator = make_operator(app)
    suspended = world.api(operator).post(f"/api/v1/platform/schemes/{world.b.slug}/suspend", {})
    assert suspended.status_code == 200, suspended.get_json()
    before = _ledgers(app, world)
    response = pay(world, world.a.members[0], world.a, world.b, world.b.members[0], 10)
    assert response.status_code == 403
    assert problem(response)["code"] == "scheme_suspended"
    assert _ledgers(app, world) == before


def test_the_payer_learns_what_the_payee_got_and_their_display_name(
    app: Flask, world: World
) -> None:
    agreement_id = agree(world, world.a, world.b, rate="0.333333")
    ann, ben = world.a.members[0], world.b.members[0]
    leg = pay(world, ann, world.a, world.b, ben, 100).get_json()
    assert leg["exchange"]["credited"] == 33 and leg["exchange"]["rate"] == "0.333333"
    assert leg["exchange"]["agreement_id"] == agreement_id
    assert leg["exchange"]["payee_name"] == "Ben Beta"
    # Later reads of the leg show the partner's slug only.
    items = world.api(ann).get(f"/api/v1/schemes/{world.a.slug}/transactions").get_json()["items"]
    assert items[0]["partner"] == world.b.slug and "exchange" not in items[0]
    # With B's directory hidden, the payer learns no name at all.
    api = world.api(world.b.coordinator)
    policy = api.get(f"/api/v1/schemes/{world.b.slug}/policy").get_json()
    policy.pop("version")
    policy["privacy"]["member_directory"] = "hidden"
    assert api.put(f"/api/v1/schemes/{world.b.slug}/policy", policy).status_code == 200
    hidden = pay(world, ann, world.a, world.b, ben, 30).get_json()
    assert hidden["exchange"]["payee_name"] is None
