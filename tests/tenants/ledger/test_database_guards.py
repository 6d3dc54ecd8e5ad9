"""The ledger's invariants are kept by the database too, and `ledger verify` finds breaks."""

from __future__ import annotations

import os
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from tests.conftest import Database
from tests.factories import World, fund


def _paid(app: Flask, world: World) -> int:
    fund(app, world.a, world.a.members[0], 100)
    response = world.api(world.a.members[0]).post(
        f"/api/v1/schemes/{world.a.slug}/transfers",
        {"to_member_id": world.a.members[1].member_ids[world.a.slug], "amount": 40},
    )
    return int(response.get_json()["id"])


def _owner_engine(app: Flask, database: Database) -> Any:
    # The table owner (not the RLS-bound app role): only the triggers stand in the way.
    url = (
        database.owner_url_string() if database.postgres else app.config["SQLALCHEMY_DATABASE_URI"]
    )
    return create_engine(url)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE postings SET amount = amount + 1 WHERE transaction_id = :t",
        "DELETE FROM postings WHERE transaction_id = :t",
        "UPDATE transactions SET amount = 1 WHERE id = :t",
        "DELETE FROM transactions WHERE id = :t",
    ],
)
def test_postings_and_transactions_are_immutable(
    app: Flask, world: World, database: Database, statement: str
) -> None:
    transaction_id = _paid(app, world)
    engine = _owner_engine(app, database)
    try:
        with pytest.raises((IntegrityError, DBAPIError), match="immutable"), engine.begin() as conn:
            conn.execute(text(statement), {"t": transaction_id})
    finally:
        engine.dispose()


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL"),
    reason="SQLite has no deferred triggers: the posting service and verify check sums there",
)
def test_unbalanced_postings_are_refused_at_commit(
    app: Flask, world: World, database: Database
) -> None:
    transaction_id = _paid(app, world)
    engine = _owner_engine(app, database)
    try:
        with pytest.raises(IntegrityError, match="sum to"), engine.begin() as conn:
            account = conn.execute(
                text("SELECT account_id FROM postings WHERE transaction_id = :t LIMIT 1"),
                {"t": transaction_id},
            ).scalar_one()
            conn.execute(
                text(
                    "INSERT INTO postings (scheme_id, transaction_id, account_id, amount, balance_after, "
                    "account_version, prev_hash, hash) VALUES (:s, :t, :a, 5, 0, 999, '', '')"
                ),
                {"s": world.a.id, "t": transaction_id, "a": account},
            )
    finally:
        engine.dispose()


def test_check_constraints_refuse_bad_rows(app: Flask, world: World, database: Database) -> None:
    transaction_id = _paid(app, world)
    engine = _owner_engine(app, database)
    try:
        for statement in (
            "INSERT INTO transactions (scheme_id, kind, amount, created_at) VALUES (:s, 'transfer', 0, CURRENT_TIMESTAMP)",
            "INSERT INTO transactions (scheme_id, kind, amount, created_at) VALUES (:s, 'magic', 5, CURRENT_TIMESTAMP)",
            "INSERT INTO transactions (scheme_id, kind, amount, created_at, reverses_id) VALUES (:s, 'transfer', 5, CURRENT_TIMESTAMP, :t)",
        ):
            with pytest.raises(IntegrityError), engine.begin() as conn:
                if not database.postgres:
                    statement = statement.replace("(scheme_id,", "(id, scheme_id,").replace(
                        "VALUES (:s", "VALUES (99999, :s"
                    )
                conn.execute(text(statement), {"s": world.a.id, "t": transaction_id})
    finally:
        engine.dispose()


def test_verify_reports_ok_then_finds_a_tampered_balance(
    app: Flask, world: World, database: Database
) -> None:
    _paid(app, world)
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["ledger", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "ledger OK" in ok.output and "balances sum to zero" in ok.output
    engine = _owner_engine(app, database)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE accounts SET balance = balance + 7 WHERE scheme_id = :s AND kind = 'pot'"
                ),
                {"s": world.a.id},
            )
    finally:
        engine.dispose()
    broken = runner.invoke(args=["ledger", "verify"])
    assert broken.exit_code == 1
    assert "BREAK: alpha-bank: account balances sum to 7" in broken.output
    assert "cached balance 7 != postings 0" in broken.output
    only_b = runner.invoke(args=["ledger", "verify", "--scheme", world.b.slug])
    assert only_b.exit_code == 0, only_b.output
