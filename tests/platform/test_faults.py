"""Honest answers under faults: a lost database connection is a 503, never a 500.

On PostgreSQL the fault is real: an owner connection terminates the backend of
the request's own connection (``pg_terminate_backend``) just before the ledger
insert. On SQLite the same statement fails with the driver's
``OperationalError`` ("disk I/O error"), the embedded database's way of being lost.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, event, func, select, text

from tests.conftest import Database
from tests.factories import PASSWORD, World, fund, problem
from timebank.platform import tenancy
from timebank.platform.api.idempotency import IdempotencyKey
from timebank.platform.db import db
from timebank.tenants.ledger.models import Transaction


class ConnectionKiller:
    """Kills the request's database connection at the next statement that matches."""

    def __init__(self, app: Flask, database: Database, marker: str) -> None:
        self.app = app
        self.database = database
        self.marker = marker
        self.armed = False
        self.fired = 0
        self.owner = create_engine(database.owner_url_string()) if database.postgres else None

    def __call__(
        self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        if not self.armed or self.marker not in statement:
            return
        self.armed = False
        self.fired += 1
        if self.owner is None:
            raise sqlite3.OperationalError("disk I/O error")
        pid = cursor.connection.info.backend_pid
        with self.owner.connect() as owner:
            killed = owner.execute(
                text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid}
            ).scalar_one()
        assert killed

    def dispose(self) -> None:
        if self.owner is not None:
            self.owner.dispose()


@pytest.fixture
def killer(app: Flask, database: Database) -> Iterator[ConnectionKiller]:
    killer = ConnectionKiller(app, database, "INSERT INTO transactions")
    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", killer)
    yield killer
    event.remove(engine, "before_cursor_execute", killer)
    killer.dispose()


def _transfer_url(world: World) -> str:
    return f"/api/v1/schemes/{world.a.slug}/transfers"


def _counts(app: Flask, scheme_id: int) -> tuple[int, int]:
    with app.app_context(), tenancy.scheme_context(scheme_id):
        transactions = db.session.execute(select(func.count()).select_from(Transaction))
        keys = db.session.execute(select(func.count()).select_from(IdempotencyKey))
        result = (int(transactions.scalar_one()), int(keys.scalar_one()))
        db.session.rollback()
        return result


def test_lost_connection_is_a_503_problem_and_the_retry_runs(
    app: Flask, world: World, killer: ConnectionKiller
) -> None:
    fund(app, world.a, world.a.members[0], 120)
    before_a, before_b = _counts(app, world.a.id), _counts(app, world.b.id)
    api = world.api(world.a.members[0])
    body = {"to_member_id": world.a.members[1].member_ids[world.a.slug], "amount": 30}
    headers = {"Idempotency-Key": "lost-connection-1"}

    killer.armed = True
    lost = api.post(_transfer_url(world), body, headers=headers)
    assert killer.fired == 1
    assert lost.status_code == 503, lost.data
    assert lost.mimetype == "application/problem+json"
    assert problem(lost)["code"] == "database_unavailable"
    assert lost.headers["Retry-After"]
    # Nothing written: no transaction, nothing stored under the key.
    assert _counts(app, world.a.id) == before_a
    assert _counts(app, world.b.id) == before_b

    retry = api.post(_transfer_url(world), body, headers=headers)
    assert retry.status_code == 201, retry.data
    assert "Idempotent-Replayed" not in retry.headers
    replay = api.post(_transfer_url(world), body, headers=headers)
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_json() == retry.get_json()
    transactions, keys = _counts(app, world.a.id)
    assert (transactions, keys) == (before_a[0] + 1, before_a[1] + 1)
    assert _counts(app, world.b.id) == before_b
    balance = api.get(f"/api/v1/schemes/{world.a.slug}/balance").get_json()["balance"]
    assert balance == 90


def test_lost_connection_on_a_page_is_a_503_page(
    app: Flask, world: World, killer: ConnectionKiller
) -> None:
    fund(app, world.a, world.a.members[0], 120)
    before = _counts(app, world.a.id)
    client = app.test_client()
    signed_in = client.post(
        "/login", data={"email": world.a.members[0].email, "password": PASSWORD}
    )
    assert signed_in.status_code == 302
    killer.armed = True
    response = client.post(
        f"/s/{world.a.slug}/pay",
        data={
            "to": world.a.members[1].member_ids[world.a.slug],
            "amount": "0:30",
            "idempotency_key": "page-key-1",
        },
    )
    assert killer.fired == 1
    assert response.status_code == 503
    assert b"not available just now" in response.data
    assert _counts(app, world.a.id) == before
