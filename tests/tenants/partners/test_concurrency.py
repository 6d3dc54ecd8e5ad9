"""Counters and redemptions at once (PostgreSQL row locks): one honour per code, stock and
monthly allowances never overshot."""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from tests.factories import Person, World, add_member, fund, make_user
from tests.tenants.partners.support import (
    add_offer,
    invite_and_accept,
    make_partner,
    partner_balance,
    redeem,
)
from tests.tenants.spending.support import balance, snapshot, verify

pytestmark = [
    pytest.mark.skipif(not os.environ.get("DATABASE_URL"), reason="needs PostgreSQL row locks"),
    pytest.mark.postgres,
    pytest.mark.slow,
]


def _race(app: Flask, calls: list[Callable[[Any], Any]]) -> list[Any]:
    """Run each call in its own thread, app context and test client, all at once."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        with app.app_context():
            client = app.test_client()
            barrier.wait()
            try:
                results[index] = calls[index](client)
            except Exception as error:  # reported by the assertion below
                results[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def _post(path: str, person: Person, body: dict[str, Any]) -> Callable[[Any], Any]:
    def call(client: Any) -> tuple[int, str | None]:
        response = client.post(path, json=body, headers=person.headers)
        payload = response.get_json()
        return response.status_code, payload.get("code") if response.status_code >= 400 else None

    return call


def _members(app: Flask, world: World, count: int, minutes: int) -> list[Person]:
    people = []
    for _ in range(count):
        person = make_user(app)
        add_member(app, world.a, person)
        fund(app, world.a, person, minutes)
        people.append(person)
    return people


def test_two_counters_honouring_one_code_honour_it_once(app: Flask, world: World) -> None:
    store = make_partner(world, world.a)
    second_counter = make_user(app, name="Sue Second")
    invite_and_accept(world, world.a, store.id, second_counter)
    offer = add_offer(world, store, price=60)
    ann = world.a.members[0]
    fund(app, world.a, ann, 120)
    code = redeem(world, ann, world.a, offer["id"]).get_json()["code"]
    before = snapshot(app, world.a)
    other_before = snapshot(app, world.b)
    staff = [store.staff, second_counter] * 3
    results = _race(app, [_post(store.url("honour"), s, {"code": code}) for s in staff])
    assert Counter(results) == {(200, None): 1, (422, "code_used"): 5}, results
    after = snapshot(app, world.a)
    assert after["balances"] == before["balances"]
    assert after["transactions"] == before["transactions"]
    assert snapshot(app, world.b) == other_before
    assert verify(app) == []


def test_stock_holds_under_concurrent_redemptions(app: Flask, world: World) -> None:
    store = make_partner(world, world.a)
    offer = add_offer(world, store, price=60, stock=2)
    people = _members(app, world, 6, 120)
    path = f"/api/v1/schemes/{world.a.slug}/redemptions"
    results = _race(
        app, [_post(path, p, {"reward_id": offer["id"], "quantity": 1}) for p in people]
    )
    assert Counter(results) == {(201, None): 2, (422, "out_of_stock"): 4}, results
    assert partner_balance(app, world.a, store.id) == 120
    assert sum(balance(world, p, world.a) for p in people) == 6 * 120 - 120
    assert verify(app) == []


def test_monthly_allowance_holds_under_concurrent_redemptions(app: Flask, world: World) -> None:
    store = make_partner(world, world.a)
    offer = add_offer(world, store, price=30, monthly_allowance=3)
    people = _members(app, world, 7, 120)
    path = f"/api/v1/schemes/{world.a.slug}/redemptions"
    results = _race(
        app, [_post(path, p, {"reward_id": offer["id"], "quantity": 1}) for p in people]
    )
    assert Counter(results) == {(201, None): 3, (422, "monthly_allowance_reached"): 4}, results
    assert partner_balance(app, world.a, store.id) == 90
    assert verify(app) == []


def test_confirming_one_charge_twice_at_once_moves_credits_once(app: Flask, world: World) -> None:
    college = make_partner(world, world.a, name="Northside College")
    course = add_offer(world, college, price=300)
    ann = world.a.members[0]
    fund(app, world.a, ann, 900)
    card = world.api(ann).get(f"/api/v1/schemes/{world.a.slug}/card").get_json()
    charge = world.api(college.staff).post(
        college.url("charges"), {"card": card["code"], "reward_id": course["id"]}
    )
    assert charge.status_code == 201, charge.get_json()
    path = f"/api/v1/schemes/{world.a.slug}/charges/{charge.get_json()['id']}/confirm"
    results = _race(app, [_post(path, ann, {}) for _ in range(4)])
    assert Counter(results) == {(200, None): 1, (422, "already_decided"): 3}, results
    assert balance(world, ann, world.a) == 600
    assert partner_balance(app, world.a, college.id) == 300
    assert verify(app) == []
