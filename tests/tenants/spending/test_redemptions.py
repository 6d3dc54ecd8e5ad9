"""Redemptions: spending credits on rewards, codes, fulfilment, cancellation with one refund."""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from tests.factories import Person, World, add_member, fund, make_user, problem
from tests.tenants.spending.support import (
    balance,
    create_reward,
    redeem,
    scheme_account_balance,
    snapshot,
    transactions_of_kind,
    url,
    verify,
)
from timebank.tenants.spending.services import CODE_ALPHABET, CODE_LENGTH

NEEDS_POSTGRES = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL"), reason="needs PostgreSQL row locks"
)


def test_redeeming_moves_credits_and_stock_and_gives_a_code(app: Flask, world: World) -> None:
    ann = world.a.members[0]
    fund(app, world.a, ann, 600)
    reward = create_reward(world, world.a, name="Course", price=150, stock=3)
    other_before = snapshot(app, world.b)

    response = redeem(world, ann, world.a, reward["id"], quantity=2)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert {"id", "code", "transaction_id", "status"} <= set(body)
    assert body["status"] == "pending" and body["total"] == 300 and body["quantity"] == 2
    assert len(body["code"]) == CODE_LENGTH and set(body["code"]) <= set(CODE_ALPHABET)
    assert balance(world, ann, world.a) == 300
    assert scheme_account_balance(app, world.a, "redemption") == 300
    stock = world.api(ann).get(url(world.a, f"rewards/{reward['id']}")).get_json()["stock"]
    assert stock == 1

    transaction = world.api(ann).get(url(world.a, f"transactions/{body['transaction_id']}"))
    assert transaction.status_code == 200
    spend = transaction.get_json()
    assert spend["kind"] == "spend" and spend["amount"] == 300
    assert sorted((p["account"], p["amount"]) for p in spend["postings"]) == [
        ("member", -300),
        ("redemption", 300),
    ]
    assert snapshot(app, world.b) == other_before
    assert verify(app) == []


def test_codes_are_unique(app: Flask, world: World) -> None:
    ann = world.a.members[0]
    fund(app, world.a, ann, 6000)
    reward = create_reward(world, world.a, price=10)
    codes = {redeem(world, ann, world.a, reward["id"]).get_json()["code"] for _ in range(20)}
    assert len(codes) == 20


def test_refusals_name_their_rule_and_write_nothing(app: Flask, world: World) -> None:
    ann, arthur = world.a.members
    fund(app, world.a, ann, 600)
    scarce = create_reward(world, world.a, name="Scarce", price=60, stock=1)
    limited = create_reward(
        world,
        world.a,
        name="Limited",
        price=60,
        per_member_limit={"quantity": 2, "period": "month"},
    )
    dear = create_reward(world, world.a, name="Dear", price=2000)
    staff = create_reward(
        world, world.a, name="Staff only", price=10, eligible_roles=["coordinator"]
    )
    assert redeem(world, ann, world.a, scarce["id"]).status_code == 201
    assert redeem(world, ann, world.a, limited["id"], quantity=2).status_code == 201
    before = snapshot(app, world.a)
    other_before = snapshot(app, world.b)

    cases: list[tuple[dict[str, Any], str]] = [
        ({"reward_id": scarce["id"], "quantity": 1}, "out_of_stock"),
        ({"reward_id": limited["id"], "quantity": 1}, "reward_limit_reached"),
        ({"reward_id": dear["id"], "quantity": 1}, "insufficient_balance"),
        ({"reward_id": staff["id"], "quantity": 1}, "reward_not_eligible"),
    ]
    for body, code in cases:
        response = world.api(ann).post(url(world.a, "redemptions"), body)
        assert response.status_code == 422, (code, response.get_json())
        assert problem(response)["code"] == code
    # A limit is per member: Arthur may still have his two.
    fund(app, world.a, arthur, 120)
    assert redeem(world, arthur, world.a, limited["id"], quantity=2).status_code == 201
    after = snapshot(app, world.a)
    assert after["redemptions"] == before["redemptions"] + 1
    assert snapshot(app, world.b) == other_before


def test_bad_redemption_input_is_422_on_the_field_and_writes_nothing(
    app: Flask, world: World
) -> None:
    ann = world.a.members[0]
    fund(app, world.a, ann, 600)
    reward = create_reward(world, world.a, price=60, stock=5)
    withdrawn = create_reward(world, world.a, name="Gone", price=60)
    world.api(world.a.coordinator).patch(
        url(world.a, f"rewards/{withdrawn['id']}"), {"active": False}
    )
    b_reward = create_reward(world, world.b, name="Beta reward", price=60)
    before = snapshot(app, world.a)
    other_before = snapshot(app, world.b)
    cases: list[tuple[Any, str]] = [
        ({"reward_id": reward["id"], "quantity": 0}, "quantity"),
        ({"reward_id": reward["id"], "quantity": -1}, "quantity"),
        ({"reward_id": reward["id"], "quantity": "2"}, "quantity"),
        ({"reward_id": 999999, "quantity": 1}, "reward_id"),
        ({"reward_id": b_reward["id"], "quantity": 1}, "reward_id"),
        ({"reward_id": withdrawn["id"], "quantity": 1}, "reward_id"),
        ({"quantity": 1}, "reward_id"),
        ({"reward_id": reward["id"], "quantity": 1, "member_id": 1}, "member_id"),
    ]
    for body, field in cases:
        response = world.api(ann).post(url(world.a, "redemptions"), body)
        assert response.status_code == 422, (body, response.get_json())
        details = problem(response)
        assert details["code"] == "validation_error" and field in details["errors"], details
    malformed = world.api(ann).client.post(
        url(world.a, "redemptions"),
        data="{not json",
        content_type="application/json",
        headers=ann.headers,
    )
    assert malformed.status_code == 400 and problem(malformed)["code"] == "malformed_json"
    assert snapshot(app, world.a) == before
    assert snapshot(app, world.b) == other_before


def test_rewards_disabled_by_policy(app: Flask, world: World) -> None:
    ann = world.a.members[0]
    fund(app, world.a, ann, 600)
    coordinator = world.api(world.a.coordinator)
    policy = coordinator.get(url(world.a, "policy")).get_json()
    policy["rewards"]["enabled"] = False
    assert coordinator.put(url(world.a, "policy"), policy).status_code == 200
    reward_id = coordinator.get(url(world.a, "rewards")).get_json()["items"][0]["id"]
    before = snapshot(app, world.a)
    response = redeem(world, ann, world.a, reward_id)
    assert response.status_code == 422 and problem(response)["code"] == "rewards_disabled"
    assert snapshot(app, world.a) == before


def test_fulfil_then_no_cancel(app: Flask, world: World) -> None:
    ann = world.a.members[0]
    fund(app, world.a, ann, 600)
    reward = create_reward(world, world.a, price=60, stock=2)
    redemption = redeem(world, ann, world.a, reward["id"]).get_json()
    member_try = world.api(ann).post(url(world.a, f"redemptions/{redemption['id']}/fulfil"))
    assert member_try.status_code == 403
    coordinator = world.api(world.a.coordinator)
    done = coordinator.post(url(world.a, f"redemptions/{redemption['id']}/fulfil"))
    assert done.status_code == 200 and done.get_json()["status"] == "fulfilled"
    again = coordinator.post(url(world.a, f"redemptions/{redemption['id']}/fulfil"))
    assert again.status_code == 422 and problem(again)["code"] == "already_decided"
    cancel = coordinator.post(url(world.a, f"redemptions/{redemption['id']}/cancel"))
    assert cancel.status_code == 422 and problem(cancel)["code"] == "already_decided"
    assert balance(world, ann, world.a) == 540


def test_cancelling_refunds_once_and_restores_stock(app: Flask, world: World) -> None:
    ann = world.a.members[0]
    fund(app, world.a, ann, 600)
    reward = create_reward(world, world.a, price=100, stock=2)
    redemption = redeem(world, ann, world.a, reward["id"], quantity=2).get_json()
    assert balance(world, ann, world.a) == 400
    coordinator = world.api(world.a.coordinator)

    first = coordinator.post(url(world.a, f"redemptions/{redemption['id']}/cancel"), {})
    assert first.status_code == 200, first.get_json()
    body = first.get_json()
    assert body["status"] == "cancelled" and body["refund_transaction_id"]
    refund = coordinator.get(url(world.a, f"transactions/{body['refund_transaction_id']}"))
    assert refund.get_json()["kind"] == "reversal"
    assert refund.get_json()["reverses_id"] == redemption["transaction_id"]

    second = coordinator.post(url(world.a, f"redemptions/{redemption['id']}/cancel"), {})
    assert second.status_code == 422 and problem(second)["code"] == "already_cancelled"
    assert balance(world, ann, world.a) == 600
    assert len(transactions_of_kind(app, world.a, "reversal")) == 1
    stock = coordinator.get(url(world.a, f"rewards/{reward['id']}")).get_json()["stock"]
    assert stock == 2
    # A cancelled redemption no longer counts and its stock can be redeemed again.
    assert redeem(world, ann, world.a, reward["id"], quantity=2).status_code == 201
    assert verify(app) == []


def test_cancel_takes_a_ledger_reversal_as_the_refund(app: Flask, world: World) -> None:
    ann = world.a.members[0]
    fund(app, world.a, ann, 600)
    reward = create_reward(world, world.a, price=100, stock=1)
    redemption = redeem(world, ann, world.a, reward["id"]).get_json()
    coordinator = world.api(world.a.coordinator)
    reversed_ = coordinator.post(
        url(world.a, f"transactions/{redemption['transaction_id']}/reverse")
    )
    assert reversed_.status_code == 201
    cancelled = coordinator.post(url(world.a, f"redemptions/{redemption['id']}/cancel"))
    assert cancelled.status_code == 200, cancelled.get_json()
    assert cancelled.get_json()["refund_transaction_id"] == reversed_.get_json()["id"]
    assert balance(world, ann, world.a) == 600
    assert len(transactions_of_kind(app, world.a, "reversal")) == 1


def test_listing_redemptions(app: Flask, world: World) -> None:
    ann, arthur = world.a.members
    for person in (ann, arthur):
        fund(app, world.a, person, 600)
    reward = create_reward(world, world.a, price=10)
    mine = redeem(world, ann, world.a, reward["id"]).get_json()
    theirs = redeem(world, arthur, world.a, reward["id"]).get_json()
    coordinator = world.api(world.a.coordinator)
    coordinator.post(url(world.a, f"redemptions/{theirs['id']}/fulfil"))

    own = world.api(ann).get(url(world.a, "redemptions")).get_json()["items"]
    assert [r["id"] for r in own] == [mine["id"]]
    peek = world.api(ann).get(
        url(world.a, f"redemptions?member_id={arthur.member_ids['alpha-bank']}")
    )
    assert peek.status_code == 403
    everyone = coordinator.get(url(world.a, "redemptions")).get_json()["items"]
    assert [r["id"] for r in everyone] == [theirs["id"], mine["id"]]
    pending = coordinator.get(url(world.a, "redemptions?status=pending")).get_json()["items"]
    assert [r["id"] for r in pending] == [mine["id"]]
    bad = coordinator.get(url(world.a, "redemptions?status=lost"))
    assert bad.status_code == 422 and "status" in problem(bad)["errors"]
    in_b = world.api(world.b.coordinator).get(url(world.b, "redemptions")).get_json()["items"]
    assert in_b == []
    foreign = world.api(world.b.coordinator).post(url(world.b, f"redemptions/{mine['id']}/cancel"))
    assert foreign.status_code == 404


def test_a_retried_redemption_is_replayed_not_repeated(app: Flask, world: World) -> None:
    ann = world.a.members[0]
    fund(app, world.a, ann, 600)
    reward = create_reward(world, world.a, price=100, stock=5)
    headers = {"Idempotency-Key": "redeem-once"}
    body = {"reward_id": reward["id"], "quantity": 1}
    first = world.api(ann).post(url(world.a, "redemptions"), body, headers=headers)
    second = world.api(ann).post(url(world.a, "redemptions"), body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.get_json() == second.get_json()
    assert balance(world, ann, world.a) == 500
    reused = world.api(ann).post(
        url(world.a, "redemptions"), {"reward_id": reward["id"], "quantity": 2}, headers=headers
    )
    assert reused.status_code == 422 and problem(reused)["code"] == "idempotency_key_reused"


# --- concurrency (PostgreSQL) -------------------------------------------------


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


def _redeem_call(person: Person, slug: str, reward_id: int) -> Callable[[Any], Any]:
    def call(client: Any) -> tuple[int, str | None]:
        response = client.post(
            f"/api/v1/schemes/{slug}/redemptions",
            json={"reward_id": reward_id, "quantity": 1},
            headers=person.headers,
        )
        body = response.get_json()
        return response.status_code, body.get("code") if response.status_code != 201 else None

    return call


@NEEDS_POSTGRES
@pytest.mark.slow
def test_concurrent_redemptions_of_the_last_one_let_exactly_one_through(
    app: Flask, world: World
) -> None:
    people = list(world.a.members)
    for _ in range(6):
        person = make_user(app)
        add_member(app, world.a, person)
        people.append(person)
    for person in people:
        fund(app, world.a, person, 600)
    reward = create_reward(world, world.a, name="Last laptop", price=300, stock=1)
    other_before = snapshot(app, world.b)

    results = _race(app, [_redeem_call(p, world.a.slug, reward["id"]) for p in people])
    assert Counter(results) == {(201, None): 1, (422, "out_of_stock"): len(people) - 1}, results
    after = snapshot(app, world.a)
    assert after["stock"][reward["id"]] == 0
    assert after["redemptions"] == 1
    assert sum(balance(world, p, world.a) for p in people) == 600 * len(people) - 300
    assert scheme_account_balance(app, world.a, "redemption") == 300
    assert snapshot(app, world.b) == other_before
    assert verify(app) == []


@NEEDS_POSTGRES
@pytest.mark.slow
def test_concurrent_redemptions_by_one_member_respect_the_limit(app: Flask, world: World) -> None:
    ann = world.a.members[0]
    fund(app, world.a, ann, 600)
    reward = create_reward(
        world, world.a, price=60, per_member_limit={"quantity": 1, "period": "year"}
    )
    results = _race(app, [_redeem_call(ann, world.a.slug, reward["id"]) for _ in range(6)])
    assert Counter(results) == {(201, None): 1, (422, "reward_limit_reached"): 5}, results
    assert balance(world, ann, world.a) == 540


@NEEDS_POSTGRES
@pytest.mark.slow
def test_concurrent_cancels_refund_exactly_once(app: Flask, world: World) -> None:
    ann = world.a.members[0]
    fund(app, world.a, ann, 600)
    reward = create_reward(world, world.a, price=250, stock=1)
    redemption = redeem(world, ann, world.a, reward["id"]).get_json()
    coordinator = world.a.coordinator
    path = url(world.a, f"redemptions/{redemption['id']}/cancel")

    def cancel(client: Any) -> tuple[int, str | None]:
        response = client.post(path, json={}, headers=coordinator.headers)
        body = response.get_json()
        return response.status_code, body["status"] if response.status_code == 200 else body["code"]

    results = _race(app, [cancel for _ in range(6)])
    assert Counter(results) == {(200, "cancelled"): 1, (422, "already_cancelled"): 5}, results
    assert balance(world, ann, world.a) == 600
    assert len(transactions_of_kind(app, world.a, "reversal")) == 1
    assert snapshot(app, world.a)["stock"][reward["id"]] == 1
    assert verify(app) == []
