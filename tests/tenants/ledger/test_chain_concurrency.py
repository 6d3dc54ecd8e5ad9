"""The posting chain under many concurrent writers to one account (PostgreSQL row locks):
no fork, no gap, every hash recomputes, and the hot account's proof verifies."""

from __future__ import annotations

import os
import random
import threading
from datetime import date
from typing import Any

import pytest
from flask import Flask

from tests.factories import World, add_member, fund, make_user
from timebank.platform import tenancy
from timebank.tenants.ledger import chain
from timebank.tenants.ledger.proofs import take_roots
from timebank.tenants.ledger.verify import verify_ledger

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.skipif(not os.environ.get("DATABASE_URL"), reason="needs PostgreSQL row locks"),
]

THREADS, STEPS = 8, 15


def test_many_writers_on_one_account_keep_one_chain(app: Flask, world: World) -> None:
    scheme = world.a
    hot = scheme.members[0]
    people = [scheme.members[1]]
    for _ in range(3):
        person = make_user(app)
        add_member(app, scheme, person)
        people.append(person)
    for person in [hot, *people]:
        fund(app, scheme, person, 10_000)
    hot_id = hot.member_ids[scheme.slug]
    errors: list[BaseException] = []
    made: list[int] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        rng = random.Random(index)
        client = app.test_client()
        try:
            for step in range(STEPS):
                other = rng.choice(people)
                # Half the writers pay into the hot account, half pay out of it.
                payer, payee_id = (
                    (other, hot_id) if index % 2 else (hot, other.member_ids[scheme.slug])
                )
                response = client.post(
                    f"/api/v1/schemes/{scheme.slug}/transfers",
                    json={"to_member_id": payee_id, "amount": rng.randint(1, 30)},
                    headers={**payer.headers, "Idempotency-Key": f"c{index}-{step}"},
                )
                assert response.status_code == 201, response.data
                with lock:
                    made.append(response.get_json()["id"])
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert errors == []
    assert len(set(made)) == THREADS * STEPS

    with app.app_context():
        report = verify_ledger(scheme.slug)
        assert report.breaks == [], report.lines()
        assert take_roots(date(2026, 11, 30))["taken"] == 2
        with tenancy.scheme_context(world.b.id):
            assert verify_ledger(world.b.slug).breaks == []
    proof: dict[str, Any] = (
        world.api(hot).get(f"/api/v1/schemes/{scheme.slug}/statement/proof").get_json()
    )
    assert len(proof["postings"]) == 1 + THREADS * STEPS  # the funding, then every transfer
    assert chain.verify_proof(proof).startswith("valid up to root")
