"""The ledger under concurrent load on PostgreSQL: limits hold, nothing is lost or
doubled, one idempotency key makes one transaction, no deadlock reaches a client."""

from __future__ import annotations

import os
import random
import threading
from collections import Counter
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from tests.factories import World, add_member, fund, make_user

pytestmark = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL"), reason="needs PostgreSQL row locks"
)

LOW, HIGH = -100, 200


def _run_threads(count: int, target: Any) -> list[BaseException]:
    errors: list[BaseException] = []

    def wrapped(index: int) -> None:
        try:
            target(index)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=wrapped, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


def test_hot_accounts_with_tight_limits(app: Flask, world: World) -> None:
    from timebank.platform import tenancy
    from timebank.platform.db import db
    from timebank.tenants.ledger.models import Account, Posting, Transaction
    from timebank.tenants.ledger.verify import verify_ledger

    scheme = world.a
    people = list(scheme.members)
    for _ in range(2):
        person = make_user(app)
        add_member(app, scheme, person)
        people.append(person)
    coordinator = world.api(scheme.coordinator)
    for person in people:
        fund(app, scheme, person, 100)
        response = coordinator.patch(
            f"/api/v1/schemes/{scheme.slug}/members/{person.member_ids[scheme.slug]}",
            {"min_balance": LOW, "max_balance": HIGH},
        )
        assert response.status_code == 200
    acknowledged: list[int] = []
    refusals: Counter[str] = Counter()
    lock = threading.Lock()

    def worker(index: int) -> None:
        rng = random.Random(index)
        client = app.test_client()
        for step in range(30):
            payer, payee = rng.sample(people, 2)
            response = client.post(
                f"/api/v1/schemes/{scheme.slug}/transfers",
                json={
                    "to_member_id": payee.member_ids[scheme.slug],
                    "amount": rng.randint(10, 120),
                },
                headers={**payer.headers, "Idempotency-Key": f"t{index}-{step}"},
            )
            with lock:
                if response.status_code == 201:
                    acknowledged.append(response.get_json()["id"])
                else:
                    assert response.status_code == 422, (response.status_code, response.data)
                    refusals[response.get_json()["code"]] += 1

    errors = _run_threads(8, worker)
    assert errors == []
    assert acknowledged, "some transfers must succeed"
    assert set(refusals) <= {"insufficient_balance", "balance_above_maximum"}
    assert len(set(acknowledged)) == len(acknowledged)

    with app.app_context(), tenancy.scheme_context(scheme.id):
        accounts = (
            db.session.execute(select(Account).where(Account.kind == "member")).scalars().all()
        )
        for account in accounts:
            if account.member_id in {p.member_ids[scheme.slug] for p in people}:
                assert LOW <= account.balance <= HIGH
        transfers = set(
            db.session.execute(
                select(Transaction.id).where(Transaction.kind == "transfer")
            ).scalars()
        )
        assert transfers == set(acknowledged)
        legs = Counter(
            db.session.execute(
                select(Posting.transaction_id).where(Posting.transaction_id.in_(acknowledged))
            ).scalars()
        )
        assert all(count == 2 for count in legs.values()) and len(legs) == len(acknowledged)
        report = verify_ledger(scheme.slug)
    assert report.breaks == [], report.lines()
    # Every acknowledged transfer is in both parties' statements exactly once.
    seen: Counter[int] = Counter()
    for person in people:
        cursor = None
        while True:
            query = "?limit=200" + (f"&cursor={cursor}" if cursor else "")
            page = (
                world.api(person)
                .get(f"/api/v1/schemes/{scheme.slug}/transactions{query}")
                .get_json()
            )
            seen.update(t["id"] for t in page["items"] if t["kind"] == "transfer")
            cursor = page["next_cursor"]
            if not cursor:
                break
    assert seen == Counter({transaction_id: 2 for transaction_id in acknowledged})
    # Scheme B saw nothing.
    with app.app_context(), tenancy.scheme_context(world.b.id):
        assert db.session.execute(select(func.count()).select_from(Transaction)).scalar_one() == 0


def test_one_idempotency_key_sent_concurrently_makes_one_transaction(
    app: Flask, world: World
) -> None:
    from timebank.platform import tenancy
    from timebank.platform.db import db
    from timebank.tenants.ledger.models import Transaction

    scheme = world.a
    payer, payee = scheme.members
    barrier = threading.Barrier(6)
    responses: list[Any] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post(
            f"/api/v1/schemes/{scheme.slug}/transfers",
            json={"to_member_id": payee.member_ids[scheme.slug], "amount": 25},
            headers={**payer.headers, "Idempotency-Key": "same-key"},
        )
        with lock:
            responses.append(response)

    assert _run_threads(6, worker) == []
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, statuses
    bodies = {r.get_data(as_text=True) for r in responses if r.status_code == 201}
    assert len(bodies) == 1
    with app.app_context(), tenancy.scheme_context(scheme.id):
        count = db.session.execute(
            select(func.count()).select_from(Transaction).where(Transaction.kind == "transfer")
        ).scalar_one()
    assert count == 1
    balance = world.api(payer).get(f"/api/v1/schemes/{scheme.slug}/balance").get_json()["balance"]
    assert balance == -25


def test_concurrent_reversals_reverse_once(app: Flask, world: World) -> None:
    scheme = world.a
    payer, payee = scheme.members
    fund(app, scheme, payer, 200)
    transaction = (
        world.api(payer)
        .post(
            f"/api/v1/schemes/{scheme.slug}/transfers",
            json={"to_member_id": payee.member_ids[scheme.slug], "amount": 50},
        )
        .get_json()
    )
    barrier = threading.Barrier(5)
    codes: list[Any] = []

    def worker(index: int) -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post(
            f"/api/v1/schemes/{scheme.slug}/transactions/{transaction['id']}/reverse",
            json={},
            headers=scheme.coordinator.headers,
        )
        codes.append(
            response.status_code if response.status_code == 201 else response.get_json()["code"]
        )

    assert _run_threads(5, worker) == []
    assert Counter(codes) == Counter({201: 1, "already_reversed": 4})
    balance = world.api(payer).get(f"/api/v1/schemes/{scheme.slug}/balance").get_json()["balance"]
    assert balance == 200
