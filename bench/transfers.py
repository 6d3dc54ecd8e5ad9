"""C0 and C1: one peer transfer, in raw SQL (the floor) and through the posting service.

Both write the same rows to the same tables, under the same triggers and
row-level security, as the application role: a transaction, two postings with
``balance_after`` and ``account_version``, the two accounts' cached balances
and versions, the accounts locked ``FOR UPDATE`` in id order first.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import psycopg
from flask import Flask

from bench.fixtures import BenchScheme, Person
from bench.stats import Refused

# The round trips of C0, in order: set_config, lock, insert transaction,
# insert postings, update balances, commit.
C0_STATEMENTS = 6

_RLS = "SELECT set_config('app.scheme_ids', %s, true), set_config('app.all_schemes', 'off', true)"
_LOCK = (
    "SELECT id, balance, version, min_balance, max_balance, status, kind FROM accounts "
    "WHERE scheme_id = %s AND id = ANY(%s) ORDER BY id FOR UPDATE"
)
_INSERT_TRANSACTION = (
    "INSERT INTO transactions (scheme_id, kind, amount, created_by, policy_version) "
    "VALUES (%s, 'transfer', %s, %s, %s) RETURNING id"
)
_INSERT_POSTINGS = (
    "INSERT INTO postings "
    "(scheme_id, transaction_id, account_id, amount, balance_after, account_version) "
    "VALUES (%s, %s, %s, %s, %s, %s), (%s, %s, %s, %s, %s, %s)"
)
_UPDATE_ACCOUNTS = (
    "UPDATE accounts SET balance = moved.balance, version = moved.version "
    "FROM (VALUES (%s::bigint, %s::bigint, %s::integer), (%s::bigint, %s::bigint, %s::integer)) "
    "AS moved(id, balance, version) WHERE accounts.scheme_id = %s AND accounts.id = moved.id"
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
                for account_id, balance, version, low, high, status, kind in rows:
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
                transaction_id = conn.execute(
                    _INSERT_TRANSACTION,
                    (scheme.id, amount, payer.user_id, scheme.policy_version),
                ).fetchone()[0]  # type: ignore[index]
                posting_params: list[Any] = []
                update_params: list[Any] = []
                for account_id in (payer.account_id, payee.account_id):
                    balance, version = after[account_id]
                    posting_params += [
                        scheme.id,
                        transaction_id,
                        account_id,
                        legs[account_id],
                        balance,
                        version,
                    ]
                    update_params += [account_id, balance, version]
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


def count_service_statements(app: Flask, scheme: BenchScheme, transfers: int = 20) -> float:
    """SQL statements (BEGIN/COMMIT excluded) per ``post_transfer`` call, averaged."""
    from sqlalchemy import event

    from timebank.platform.db import db

    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    with app.app_context():
        engine = db.engine
    operation, release = service_client(app, scheme)(99)
    event.listen(engine, "before_cursor_execute", record)
    try:
        for _ in range(transfers):
            operation()
    finally:
        event.remove(engine, "before_cursor_execute", record)
        release()
    return round(len(seen) / transfers, 2)


def count_api_statements(app: Flask, scheme: BenchScheme, requests: int = 20) -> float:
    """SQL statements per ``POST …/transfers`` (with an Idempotency-Key), via the test client."""
    import uuid

    from sqlalchemy import event

    from timebank.platform.db import db

    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    client = app.test_client()
    rng = random.Random(7)
    event.listen(engine, "before_cursor_execute", record)
    try:
        for _ in range(requests):
            payer, payee = pick_pair(rng, scheme.members)
            response = client.post(
                f"/api/v1/schemes/{scheme.slug}/transfers",
                json={"to_member_id": payee.member_id, "amount": 1},
                headers={
                    "Authorization": f"Bearer {payer.token}",
                    "Idempotency-Key": uuid.uuid4().hex,
                },
            )
            if response.status_code != 201:
                raise RuntimeError(f"transfer refused: {response.get_data(as_text=True)[:300]}")
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return round(len(seen) / requests, 2)
