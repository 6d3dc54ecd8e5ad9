"""C0 and C1: one peer transfer, in raw SQL (the floor) and through the posting service.

Both write the same rows to the same tables, under the same triggers and
row-level security, as the application role: a transaction, two postings with
``balance_after``, ``account_version`` and the chain's ``prev_hash`` and ``hash``,
the two accounts' cached balances, versions and head hashes, the accounts locked
``FOR UPDATE`` in id order first.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from flask import Flask

from bench.fixtures import BenchScheme, Person
from bench.stats import Refused
from timebank.tenants.ledger.chain import format_time, posting_hash

_RLS = "SELECT set_config('app.scheme_ids', %s, true), set_config('app.all_schemes', 'off', true)"
_LOCK = (
    "SELECT id, balance, version, min_balance, max_balance, status, kind, head_hash FROM accounts "
    "WHERE scheme_id = %s AND id = ANY(%s) ORDER BY id FOR UPDATE"
)
_INSERT_TRANSACTION = (
    "INSERT INTO transactions (scheme_id, kind, amount, created_by, policy_version) "
    "VALUES (%s, 'transfer', %s, %s, %s) RETURNING id, created_at"
)
_INSERT_POSTINGS = (
    "INSERT INTO postings "
    "(scheme_id, transaction_id, account_id, amount, balance_after, account_version, "
    "prev_hash, hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s), (%s, %s, %s, %s, %s, %s, %s, %s)"
)
_UPDATE_ACCOUNTS = (
    "UPDATE accounts SET balance = moved.balance, version = moved.version, "
    "head_hash = moved.head_hash FROM (VALUES (%s::bigint, %s::bigint, %s::integer, %s::text), "
    "(%s::bigint, %s::bigint, %s::integer, %s::text)) "
    "AS moved(id, balance, version, head_hash) "
    "WHERE accounts.scheme_id = %s AND accounts.id = moved.id"
)


def pick_pair(rng: random.Random, people: list[Person]) -> tuple[Person, Person]:
    payer, payee = rng.sample(people, 2)
    return payer, payee


def sql_client(
    app_url: str, scheme: BenchScheme, policy_min: int | None, policy_max: int | None
) -> Callable[[int], tuple[Callable[[], None], Callable[[], None]]]:
    """C0: a psycopg connection per client; the whole transfer in six round trips."""

    def client(index: int) -> tuple[Callable[[], None], Callable[[], None]]:
        conn = psycopg.connect(app_url)
        rng = random.Random(index)
        scheme_ids = str(scheme.id)
        people = scheme.members

        def transfer() -> None:
            payer, payee = pick_pair(rng, people)
            amount = rng.randint(1, 5)
            legs = {payer.account_id: -amount, payee.account_id: amount}
            with conn.transaction():
                conn.execute(_RLS, (scheme_ids,))
                rows = conn.execute(_LOCK, (scheme.id, sorted(legs))).fetchall()
                if len(rows) != 2:
                    raise RuntimeError("account missing (RLS settings not applied?)")
                after: dict[int, tuple[int, int]] = {}
                heads: dict[int, str] = {}
                for account_id, balance, version, low, high, status, kind, head in rows:
                    heads[account_id] = head
                    delta = legs[account_id]
                    if status != "open":
                        raise _Refusal
                    if kind == "member":
                        low = policy_min if low is None else low
                        high = policy_max if high is None else high
                    new = balance + delta
                    if delta < 0 and low is not None and new < low:
                        raise _Refusal
                    if delta > 0 and high is not None and new > high:
                        raise _Refusal
                    after[account_id] = (new, version + 1)
                transaction_id, created_at = conn.execute(
                    _INSERT_TRANSACTION,
                    (scheme.id, amount, payer.user_id, scheme.policy_version),
                ).fetchone()  # type: ignore[misc]
                at = format_time(created_at)
                posting_params: list[Any] = []
                update_params: list[Any] = []
                for account_id in (payer.account_id, payee.account_id):
                    balance, version = after[account_id]
                    digest = posting_hash(
                        scheme_id=scheme.id,
                        account_id=account_id,
                        account_version=version,
                        transaction_id=transaction_id,
                        kind="transfer",
                        amount=legs[account_id],
                        balance_after=balance,
                        created_at=at,
                        prev_hash=heads[account_id],
                    )
                    posting_params += [
                        scheme.id,
                        transaction_id,
                        account_id,
                        legs[account_id],
                        balance,
                        version,
                        heads[account_id],
                        digest,
                    ]
                    update_params += [account_id, balance, version, digest]
                conn.execute(_INSERT_POSTINGS, posting_params)
                conn.execute(_UPDATE_ACCOUNTS, [*update_params, scheme.id])

        def guarded() -> None:
            try:
                transfer()
            except _Refusal as refusal:
                raise Refused() from refusal

        return guarded, conn.close

    return client


class _Refusal(Exception):
    """Raised inside the transaction block so that it rolls back."""


def service_client(
    app: Flask, scheme: BenchScheme
) -> Callable[[int], tuple[Callable[[], None], Callable[[], None]]]:
    """C1: ``post_transfer`` in-process, each client thread with its own app context."""
    from sqlalchemy import select

    from timebank.platform import tenancy
    from timebank.platform.api.errors import RuleViolation
    from timebank.platform.db import db
    from timebank.platform.schemes.models import Scheme
    from timebank.tenants.ledger.services import post_transfer
    from timebank.tenants.memberships.models import Member

    def client(index: int) -> tuple[Callable[[], None], Callable[[], None]]:
        context = app.app_context()
        context.push()
        rng = random.Random(1000 + index)
        with tenancy.scheme_context(scheme.id):
            row = db.session.get(Scheme, scheme.id)
            members = {
                member.id: member
                for member in db.session.execute(
                    select(Member).where(Member.id.in_([p.member_id for p in scheme.members]))
                ).scalars()
            }
        db.session.commit()
        assert row is not None
        people = scheme.members

        def transfer() -> None:
            payer, payee = pick_pair(rng, people)
            with tenancy.scheme_context(scheme.id):
                try:
                    post_transfer(
                        row,
                        members[payer.member_id],
                        to_member_id=payee.member_id,
                        amount=rng.randint(1, 5),
                        memo=None,
                        actor_user_id=payer.user_id,
                    )
                except RuleViolation as refusal:
                    raise Refused() from refusal

        def release() -> None:
            db.session.remove()
            context.pop()

        return transfer, release

    return client


@contextmanager
def _driver_calls() -> Iterator[dict[str, int]]:
    """Count the statements that reach psycopg (each ``execute`` or ``executemany``).

    Patches the driver's cursor class for the duration (single-threaded use
    only), so it also sees what the application sends beneath SQLAlchemy's
    events: the RLS ``set_config`` and the pool's pre-ping. Not seen: the BEGIN
    psycopg sends before a transaction's first statement and the COMMIT, one
    round trip each per transfer in C0, C1 and C2 alike.
    """
    counts = {"execute": 0, "executemany": 0}
    originals = (psycopg.Cursor.execute, psycopg.Cursor.executemany)

    def execute(self: Any, *args: Any, **kwargs: Any) -> Any:
        counts["execute"] += 1
        return originals[0](self, *args, **kwargs)

    def executemany(self: Any, *args: Any, **kwargs: Any) -> Any:
        counts["executemany"] += 1
        return originals[1](self, *args, **kwargs)

    psycopg.Cursor.execute = execute  # type: ignore[method-assign]
    psycopg.Cursor.executemany = executemany  # type: ignore[method-assign]
    try:
        yield counts
    finally:
        psycopg.Cursor.execute, psycopg.Cursor.executemany = originals  # type: ignore[method-assign]


def _per_operation(operation: Callable[[], None], times: int) -> dict[str, float]:
    """Statements, round trips and this process's CPU time per call (after a warm-up)."""
    for _ in range(5):
        operation()
    began = time.process_time()
    with _driver_calls() as counts:
        for _ in range(times):
            operation()
    cpu = time.process_time() - began
    statements = sum(counts.values()) / times
    return {
        "statements": round(statements, 2),
        "round_trips": round(statements + 2, 2),  # + BEGIN + COMMIT
        "client_cpu_ms": round(cpu / times * 1000, 2),
    }


def measure_c0(app_url: str, scheme: BenchScheme, limits: tuple[int | None, int | None]) -> Any:
    operation, release = sql_client(app_url, scheme, *limits)(98)
    try:
        return _per_operation(operation, 50)
    finally:
        release()


def measure_c1(app: Flask, scheme: BenchScheme) -> dict[str, float]:
    """Round trips and CPU per ``post_transfer`` call."""
    operation, release = service_client(app, scheme)(99)
    try:
        return _per_operation(operation, 50)
    finally:
        release()


def measure_c2(app: Flask, scheme: BenchScheme) -> dict[str, float]:
    """Round trips and CPU per ``POST …/transfers`` (Idempotency-Key), through the test client
    (the whole Flask request in this process; no gunicorn, no socket)."""
    import uuid

    client = app.test_client()
    rng = random.Random(7)

    def operation() -> None:
        payer, payee = pick_pair(rng, scheme.members)
        response = client.post(
            f"/api/v1/schemes/{scheme.slug}/transfers",
            json={"to_member_id": payee.member_id, "amount": 1},
            headers={"Authorization": f"Bearer {payer.token}", "Idempotency-Key": uuid.uuid4().hex},
        )
        if response.status_code != 201:
            raise RuntimeError(f"transfer refused: {response.get_data(as_text=True)[:300]}")

    return _per_operation(operation, 50)
