"""Caps and decisions under concurrent requests (PostgreSQL row locks)."""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask

from tests.factories import Person, SchemeInfo, World, add_member, make_scheme, make_user
from tests.tenants.earning.conftest import (
    assert_ledger_ok,
    balance,
    claim,
    counts,
    new_activity,
    url,
)

pytestmark = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL"), reason="needs PostgreSQL row locks"
)


def run_together(app: Flask, calls: list[Callable[[Any], Any]]) -> list[Any]:
    """Run each call in its own thread with its own client (and app context), all at once."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def worker(index: int, call: Callable[[Any], Any]) -> None:
        client = app.test_client()
        barrier.wait()
        try:
            results[index] = call(client)
        except Exception as error:  # reported by the assertion below
            results[index] = error

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(isinstance(result, Exception) for result in results), results
    return results


def capped_scheme(app: Flask, approval: str) -> tuple[SchemeInfo, Person, list[Person]]:
    scheme = make_scheme(
        app,
        make_user(app, name="Cora Coordinator"),
        policy={
            "claims": {"approval": approval, "cap": {"minutes": 300, "period": "month"}},
        },
    )
    member = make_user(app, name="Mo Member")
    add_member(app, scheme, member)
    deputies = [make_user(app, name=f"Deputy {n}") for n in range(3)]
    for deputy in deputies:
        add_member(app, scheme, deputy, role="coordinator")
    return scheme, member, [scheme.coordinator, *deputies]


def post(path: str, person: Person, body: dict[str, Any] | None = None) -> Callable[[Any], Any]:
    def call(client: Any) -> tuple[int, str | None]:
        response = client.post(path, json=body or {}, headers=person.headers)
        payload = response.get_json()
        return response.status_code, payload.get("code") or payload.get("status")

    return call


def test_concurrent_approvals_never_pass_the_cap(app: Flask, world: World) -> None:
    scheme, member, coordinators = capped_scheme(app, "coordinator")
    activity_id = new_activity(world, scheme, approval="coordinator")
    claim_ids = [claim(world, member, scheme, activity_id, 60).get_json()["id"] for _ in range(10)]
    results = run_together(
        app,
        [
            post(url(scheme, f"claims/{claim_id}/approve"), coordinators[i % len(coordinators)])
            for i, claim_id in enumerate(claim_ids)
        ],
    )
    assert Counter(results) == {(200, "approved"): 5, (422, "cap_exceeded"): 5}
    assert balance(world, scheme, member) == 300
    statuses = Counter(
        c["status"]
        for c in world.api(coordinators[0]).get(url(scheme, "claims")).get_json()["items"]
    )
    assert statuses == {"approved": 5, "pending": 5}
    assert counts(app, world.a.id)["claims"] == 0 and counts(app, world.b.id)["claims"] == 0
    assert_ledger_ok(app)


def test_concurrent_auto_claims_never_pass_the_cap(app: Flask, world: World) -> None:
    scheme, member, _ = capped_scheme(app, "auto")
    activity_id = new_activity(world, scheme, approval="auto")
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    body = {"activity_id": activity_id, "minutes": 45, "performed_on": yesterday}
    results = run_together(app, [post(url(scheme, "claims"), member, body) for _ in range(10)])
    # 6 × 45 = 270 fit; a 7th would make 315 > 300.
    assert Counter(results) == {(201, "approved"): 6, (422, "cap_exceeded"): 4}
    assert balance(world, scheme, member) == 270
    refused = claim(world, member, scheme, activity_id, 45)
    assert refused.status_code == 422
    assert refused.get_json()["remaining"] == 30
    assert claim(world, member, scheme, activity_id, 30).status_code == 201
    assert balance(world, scheme, member) == 300
    assert_ledger_ok(app)


def test_a_claim_is_decided_once_under_concurrent_decisions(app: Flask, world: World) -> None:
    scheme, member, coordinators = capped_scheme(app, "coordinator")
    activity_id = new_activity(world, scheme, approval="coordinator")
    claim_id = claim(world, member, scheme, activity_id, 60).get_json()["id"]
    calls = [
        post(url(scheme, f"claims/{claim_id}/{'approve' if i % 2 else 'reject'}"), coordinator)
        for i, coordinator in enumerate(coordinators * 2)
    ]
    results = run_together(app, calls)
    decided = [r for r in results if r[0] == 200]
    assert len(decided) == 1, results
    assert Counter(r for r in results if r[0] != 200) == {(422, "already_decided"): 7}
    expected = 60 if decided[0][1] == "approved" else 0
    assert balance(world, scheme, member) == expected
    assert_ledger_ok(app)


def test_awards_and_approvals_together_do_not_deadlock(app: Flask, world: World) -> None:
    scheme, member, coordinators = capped_scheme(app, "coordinator")
    others = [make_user(app, name=f"Panel {n}") for n in range(4)]
    for person in others:
        add_member(app, scheme, person)
    activity_id = new_activity(world, scheme, approval="coordinator")
    claim_ids = [claim(world, member, scheme, activity_id, 60).get_json()["id"] for _ in range(4)]
    panel = [p.member_ids[scheme.slug] for p in [member, *others]]
    award_body = {"activity_id": activity_id, "minutes": 30, "member_ids": panel}
    calls = [post(url(scheme, f"claims/{c}/approve"), coordinators[0]) for c in claim_ids]
    calls += [post(url(scheme, "awards"), coordinators[1], award_body) for _ in range(4)]
    results = run_together(app, calls)
    assert Counter(r[0] for r in results) == {200: 4, 201: 4}, results
    assert balance(world, scheme, member) == 4 * 60 + 4 * 30
    assert all(balance(world, scheme, p) == 120 for p in others)
    assert_ledger_ok(app)
