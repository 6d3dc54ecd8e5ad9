"""Peer transfers, balances, limits, reversals, statements — through the API."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from flask import Flask

from tests.factories import World, fund, problem
from tests.querycount import count_queries


def url(world: World, path: str, scheme: str = "a") -> str:
    slug = world.a.slug if scheme == "a" else world.b.slug
    return f"/api/v1/schemes/{slug}{path}"


def member_id(world: World, index: int, scheme: str = "a") -> int:
    info = world.a if scheme == "a" else world.b
    return info.members[index].member_ids[info.slug]


def balance(world: World, index: int, scheme: str = "a") -> int:
    info = world.a if scheme == "a" else world.b
    response = world.api(info.members[index]).get(url(world, "/balance", scheme))
    return int(response.get_json()["balance"])


def pay(world: World, amount: Any, *, to: int | None = None, **extra: Any) -> Any:
    body = {
        "to_member_id": to if to is not None else member_id(world, 1),
        "amount": amount,
        **extra,
    }
    return world.api(world.a.members[0]).post(url(world, "/transfers"), body)


def b_untouched(world: World) -> None:
    for person in [*world.b.members, world.b.coordinator]:
        api = world.api(person)
        assert api.get(url(world, "/transactions", "b")).get_json()["items"] == []
        assert api.get(url(world, "/balance", "b")).get_json()["balance"] == 0


def test_transfer_moves_minutes_and_returns_the_transaction(app: Flask, world: World) -> None:
    response = pay(world, 90, memo="Lift to the clinic")
    assert response.status_code == 201, response.data
    body = response.get_json()
    assert (
        body["kind"] == "transfer" and body["amount"] == 90 and body["memo"] == "Lift to the clinic"
    )
    assert body["reverses_id"] is None and body["created_at"]
    assert sum(p["amount"] for p in body["postings"]) == 0
    assert {(p["member_id"], p["amount"]) for p in body["postings"]} == {
        (member_id(world, 0), -90),
        (member_id(world, 1), 90),
    }
    # Mutual credit: Ann may go below zero down to the credit line (-600 in the community template).
    assert balance(world, 0) == -90 and balance(world, 1) == 90
    b_untouched(world)


def test_limits_are_inclusive_and_refusals_name_the_rule(app: Flask, world: World) -> None:
    assert pay(world, 600).status_code == 201  # exactly the minimum
    refused = pay(world, 1)
    body = problem(refused)
    assert refused.status_code == 422 and body["code"] == "insufficient_balance"
    assert "−10:01 hours" in body["detail"] and "Alpha Time Bank" in body["detail"]
    assert balance(world, 0) == -600
    # A member's own maximum overrides the policy default.
    coordinator = world.api(world.a.coordinator)
    coordinator.patch(url(world, f"/members/{member_id(world, 1)}"), {"max_balance": 650})
    fund(app, world.a, world.a.members[0], 100)
    assert pay(world, 50).status_code == 201  # Arthur at exactly 650
    over = pay(world, 1)
    assert over.status_code == 422 and problem(over)["code"] == "balance_above_maximum"
    b_untouched(world)


def test_policy_rules_for_peer_transfers(app: Flask, world: World) -> None:
    coordinator = world.api(world.a.coordinator)
    policy = coordinator.get(url(world, "/policy")).get_json()
    policy["peer_transfers"] = {"enabled": True, "max_amount": 120}
    coordinator.put(url(world, "/policy"), policy)
    too_big = pay(world, 121)
    assert too_big.status_code == 422 and problem(too_big)["code"] == "amount_above_maximum"
    assert pay(world, 120).status_code == 201
    policy["peer_transfers"] = {"enabled": False, "max_amount": None}
    coordinator.put(url(world, "/policy"), policy)
    off = pay(world, 10)
    assert off.status_code == 422 and problem(off)["code"] == "peer_transfers_disabled"
    assert balance(world, 0) == -120


@pytest.mark.parametrize(
    ("amount", "field"),
    [
        (0, "amount"),
        (-5, "amount"),
        (1.5, "amount"),
        ("60", "amount"),
        (2**31, "amount"),
        (None, "amount"),
        (True, "amount"),
    ],
)
def test_bad_amounts_are_422_and_write_nothing(
    app: Flask, world: World, amount: Any, field: str
) -> None:
    response = pay(world, amount)
    assert response.status_code == 422
    assert field in problem(response)["errors"]
    assert balance(world, 0) == 0 and balance(world, 1) == 0


def test_bad_payees_are_422_on_the_field(app: Flask, world: World) -> None:
    for to, message in (
        (member_id(world, 0), "yourself"),
        (member_id(world, 0, "b"), "No member"),  # another scheme's member
        (999999, "No member"),
    ):
        response = pay(world, 10, to=to)
        body = problem(response)
        assert response.status_code == 422 and message in body["errors"]["to_member_id"][0]
    for body in (
        {"amount": 10},
        {"to_member_id": "x", "amount": 10},
        {"to_member_id": member_id(world, 1), "amount": 10, "scheme_id": 2},
    ):
        response = world.api(world.a.members[0]).post(url(world, "/transfers"), body)
        assert response.status_code == 422
    long_memo = pay(world, 10, memo="x" * 501)
    assert long_memo.status_code == 422 and "memo" in problem(long_memo)["errors"]
    assert balance(world, 0) == 0
    b_untouched(world)


def test_suspended_payee_cannot_receive(app: Flask, world: World) -> None:
    world.api(world.a.coordinator).patch(
        url(world, f"/members/{member_id(world, 1)}"), {"status": "suspended"}
    )
    response = pay(world, 10)
    assert response.status_code == 422 and "to_member_id" in problem(response)["errors"]


def test_idempotency_key_replays_and_refuses_reuse(app: Flask, world: World) -> None:
    api = world.api(world.a.members[0])
    body = {"to_member_id": member_id(world, 1), "amount": 30}
    headers = {"Idempotency-Key": "pay-arthur-1"}
    first = api.post(url(world, "/transfers"), body, headers=headers)
    second = api.post(url(world, "/transfers"), dict(reversed(list(body.items()))), headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.get_json() == second.get_json()
    assert balance(world, 0) == -30
    reused = api.post(url(world, "/transfers"), {**body, "amount": 31}, headers=headers)
    assert reused.status_code == 422 and problem(reused)["code"] == "idempotency_key_reused"
    # Refusals are stored and replayed too.
    headers2 = {"Idempotency-Key": "too-much"}
    refused = api.post(url(world, "/transfers"), {**body, "amount": 10_000}, headers=headers2)
    assert refused.status_code == 422
    fund(app, world.a, world.a.members[0], 20_000)
    replayed = api.post(url(world, "/transfers"), {**body, "amount": 10_000}, headers=headers2)
    assert replayed.status_code == 422 and replayed.get_json() == refused.get_json()
    # Keys are per user: Arthur may use the same key for his own payment.
    arthur = world.api(world.a.members[1])
    own = arthur.post(
        url(world, "/transfers"),
        {"to_member_id": member_id(world, 0), "amount": 5},
        headers=headers,
    )
    assert own.status_code == 201 and own.get_json()["id"] != first.get_json()["id"]
    too_long = api.post(url(world, "/transfers"), body, headers={"Idempotency-Key": "k" * 256})
    assert too_long.status_code == 422
    b_untouched(world)


def test_reversal_mirrors_the_legs_once(app: Flask, world: World) -> None:
    original = pay(world, 45).get_json()
    coordinator = world.api(world.a.coordinator)
    member = world.api(world.a.members[0])
    forbidden = member.post(url(world, f"/transactions/{original['id']}/reverse"), {})
    assert forbidden.status_code == 403
    response = coordinator.post(
        url(world, f"/transactions/{original['id']}/reverse"), {"memo": "Logged twice"}
    )
    assert response.status_code == 201, response.data
    reversal = response.get_json()
    assert reversal["kind"] == "reversal" and reversal["reverses_id"] == original["id"]
    assert {(p["member_id"], p["amount"]) for p in reversal["postings"]} == {
        (p["member_id"], -p["amount"]) for p in original["postings"]
    }
    assert balance(world, 0) == 0 and balance(world, 1) == 0
    detail = coordinator.get(url(world, f"/transactions/{original['id']}")).get_json()
    assert detail["reversed_by_id"] == reversal["id"]
    twice = coordinator.post(url(world, f"/transactions/{original['id']}/reverse"), {})
    assert twice.status_code == 422 and problem(twice)["code"] == "already_reversed"
    of_reversal = coordinator.post(url(world, f"/transactions/{reversal['id']}/reverse"), {})
    assert (
        of_reversal.status_code == 422 and problem(of_reversal)["code"] == "cannot_reverse_reversal"
    )
    missing = coordinator.post(url(world, "/transactions/999999/reverse"), {})
    assert missing.status_code == 404
    b_untouched(world)


def test_transaction_detail_is_for_parties_and_coordinators(app: Flask, world: World) -> None:
    transaction = pay(world, 15).get_json()
    path = url(world, f"/transactions/{transaction['id']}")
    assert world.api(world.a.members[0]).get(path).status_code == 200
    assert world.api(world.a.members[1]).get(path).status_code == 200
    assert world.api(world.a.coordinator).get(path).status_code == 200
    from tests.factories import add_member, make_user

    stranger = make_user(app)
    add_member(app, world.a, stranger)
    hidden = world.api(stranger).get(path)
    assert hidden.status_code == 404
    assert (
        world.api(world.b.coordinator)
        .get(url(world, f"/transactions/{transaction['id']}", "b"))
        .status_code
        == 404
    )


def test_statement_is_newest_first_and_paginated(app: Flask, world: World) -> None:
    for amount in range(1, 8):
        assert pay(world, amount).status_code == 201
    api = world.api(world.a.members[0])
    seen: list[int] = []
    cursor = None
    while True:
        query = "?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = api.get(url(world, "/transactions" + query)).get_json()
        seen += [t["amount"] for t in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [7, 6, 5, 4, 3, 2, 1]
    # Coordinators read any member's statement; members only their own.
    arthur_id = member_id(world, 1)
    assert (
        len(
            world.api(world.a.coordinator)
            .get(url(world, f"/transactions?member_id={arthur_id}"))
            .get_json()["items"]
        )
        == 7
    )
    forbidden = api.get(url(world, f"/transactions?member_id={arthur_id}"))
    assert forbidden.status_code == 403
    b_untouched(world)


def test_statement_csv(app: Flask, world: World) -> None:
    pay(world, 60, memo="Gardening")
    pay(world, 30)
    response = world.api(world.a.members[0]).get(url(world, "/statement.csv"))
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [(r["minutes"], r["balance_after"], r["memo"]) for r in rows] == [
        ("-60", "-60", "Gardening"),
        ("-30", "-90", ""),
    ]


def test_balance_for_coordinators_and_members(app: Flask, world: World) -> None:
    fund(app, world.a, world.a.members[1], 75)
    coordinator = world.api(world.a.coordinator)
    body = coordinator.get(url(world, f"/balance?member_id={member_id(world, 1)}")).get_json()
    assert body == {
        "member_id": member_id(world, 1),
        "balance": 75,
        "min_balance": -600,
        "max_balance": None,
    }
    member = world.api(world.a.members[0])
    assert member.get(url(world, f"/balance?member_id={member_id(world, 1)}")).status_code == 403
    other_scheme = coordinator.get(url(world, f"/balance?member_id={member_id(world, 0, 'b')}"))
    assert other_scheme.status_code == 404


def test_a_transfer_and_a_statement_page_run_a_fixed_number_of_queries(
    app: Flask, world: World
) -> None:
    from timebank.platform.db import db

    api = world.api(world.a.members[0])
    with app.app_context():
        engine = db.engine

    def transfer_queries() -> Any:
        with count_queries(engine) as queries:
            assert pay(world, 1).status_code == 201
        return queries

    def statement_queries() -> Any:
        with count_queries(engine) as queries:
            assert api.get(url(world, "/transactions?limit=20")).status_code == 200
        return queries

    pay(world, 1)  # warm the in-process policy cache
    first_transfer = transfer_queries()
    first_statement = statement_queries()
    for _ in range(30):
        pay(world, 1)
    later_transfer = transfer_queries()
    later_statement = statement_queries()
    # No more with history (a payee past the hourly mail burst skips one step: fewer).
    assert len(later_transfer) <= len(first_transfer), later_transfer.explain()
    assert len(later_statement) == len(first_statement), later_statement.explain()
    # The caller, the two parties locked, the transaction, its postings, the two
    # balances, the idempotency key (PostgreSQL's RLS set_config runs beneath this count);
    # the payee's credit mail: one read (address, switch, recent mails, payer's name) and
    # the notice's insert, whether it is mailed at once or waits for the digest.
    assert len(later_transfer) <= 8, later_transfer.explain()
    assert len(later_statement) <= 10, later_statement.explain()
