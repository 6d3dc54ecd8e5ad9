"""Concurrent payments in both directions on PostgreSQL: limits hold, nothing lost, no deadlock."""

from __future__ import annotations

import os
import random
import threading
from collections import Counter
from fractions import Fraction
from typing import Any

import pytest
from flask import Flask

from tests.factories import Person, SchemeInfo, World, make_scheme, make_user
from tests.platform.exchange.support import agree, balance, counts, listed, verify

pytestmark = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL"), reason="needs PostgreSQL row locks"
)

RATE = "0.333333"
LIMIT_A = 300  # B's limit: 300 × 0.333333 = 99.9999 → 100
ALLOWED_REFUSALS = {"agreement_limit_exceeded", "insufficient_balance", "validation_error"}


def _credited(amount: int, forward: bool) -> int:
    rate = Fraction(RATE) if forward else 1 / Fraction(RATE)
    return int(amount * rate + Fraction(1, 2))


def _run(
    world: World, plans: list[list[tuple[Person, SchemeInfo, SchemeInfo, Person, int]]]
) -> list[tuple[bool, int, int, str | None]]:
    """Run each plan in its own thread, all starting together; (forward, amount, status, code)."""
    results: list[tuple[bool, int, int, str | None]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(plans))
    errors: list[BaseException] = []

    def worker(plan: list[tuple[Person, SchemeInfo, SchemeInfo, Person, int]]) -> None:
        try:
            client = world.app.test_client()
            barrier.wait()
            for payer, src, dst, payee, amount in plan:
                response = client.post(
                    f"/api/v1/schemes/{src.slug}/transfers",
                    json={
                        "to_scheme": dst.slug,
                        "to_member_id": payee.member_ids[dst.slug],
                        "amount": amount,
                    },
                    headers=payer.headers,
                )
                body: dict[str, Any] = response.get_json() or {}
                with lock:
                    results.append((src is world.a, amount, response.status_code, body.get("code")))
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(plan,)) for plan in plans]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    return results


def _check(
    app: Flask, world: World, agreement_id: int, results: list[tuple[bool, int, int, str | None]]
) -> tuple[int, int]:
    statuses = Counter(status for _, _, status, _ in results)
    assert set(statuses) <= {201, 422}, statuses  # no 5xx, no 409: no deadlock reached anyone
    codes = Counter(code for _, _, status, code in results if status == 422)
    assert set(codes) <= ALLOWED_REFUSALS, codes
    position_a = sum(
        (a if forward else -_credited(a, False))
        for forward, a, status, _ in results
        if status == 201
    )
    position_b = sum(
        (-_credited(a, True) if forward else a)
        for forward, a, status, _ in results
        if status == 201
    )
    listed_a = listed(world, world.a.coordinator, world.a)[agreement_id]
    listed_b = listed(world, world.b.coordinator, world.b)[agreement_id]
    # Nothing lost, nothing doubled: the positions are exactly the accepted payments.
    assert listed_a["position"] == position_a
    assert listed_b["position"] == position_b
    assert abs(position_a) <= listed_a["limit"] == LIMIT_A
    assert abs(position_b) <= listed_b["limit"] == 100
    verify(app)  # mirror, both legs of every exchange, clearing balances, sums to zero
    return position_a, position_b


@pytest.mark.slow
def test_concurrent_payments_both_ways_hold_limits_and_lose_nothing(
    app: Flask, world: World
) -> None:
    third = make_scheme(app, make_user(app), slug="gamma-bank")
    before_third = counts(app, third)
    agreement_id = agree(world, world.a, world.b, rate=RATE, limit=LIMIT_A)
    ann, arthur = world.a.members
    ben, bella = world.b.members
    a_people, b_people = [ann, arthur, world.a.coordinator], [ben, bella, world.b.coordinator]

    # Phase 1: everyone in A pays B at once, far past the limit: exactly up to it is accepted.
    rng = random.Random(6)
    rush = [
        [(payer, world.a, world.b, rng.choice(b_people), rng.randint(3, 40)) for _ in range(12)]
        for payer in a_people * 2
    ]
    results = _run(world, rush)
    position_a, _ = _check(app, world, agreement_id, results)
    assert any(code == "agreement_limit_exceeded" for *_, code in results)
    assert position_a > LIMIT_A - 40

    # Phase 2: both directions at once, the same members paying each other crosswise.
    plans = []
    for index in range(8):
        forward = index % 2 == 0
        src, dst = (world.a, world.b) if forward else (world.b, world.a)
        payers = a_people if forward else b_people
        payees = b_people if forward else a_people
        plans.append(
            [
                (payers[(index + k) % 3], src, dst, payees[k % 3], rng.randint(1, 60))
                for k in range(15)
            ]
        )
    more = _run(world, plans)
    _check(app, world, agreement_id, results + more)
    assert any(forward and status == 201 for forward, _, status, _ in more)
    assert any(not forward and status == 201 for forward, _, status, _ in more)

    # Balances: the members' credits are exactly what moved (schemes sum to zero, verified),
    # and a third scheme saw nothing.
    total_a = sum(balance(world, person, world.a) for person in a_people)
    total_b = sum(balance(world, person, world.b) for person in b_people)
    assert total_a == -listed(world, ann, world.a)[agreement_id]["position"]
    assert total_b == -listed(world, ben, world.b)[agreement_id]["position"]
    assert counts(app, third) == before_third
