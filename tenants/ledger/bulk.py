"""Many ledger rows in one statement, and the posting chain's hashes (part of the posting service).

One statement per table whatever the number of rows. On PostgreSQL the rows
travel as one array per column (``unnest``): a statement per row costs a
round trip each, and a thousand-row VALUES list with thousands of bound
parameters costs the driver more to build and parse than the server to run.

:func:`chain_rows` gives postings their ``prev_hash`` and ``hash`` (the rules
are in :mod:`.chain`), walking each account on from its ``head_hash``; the
accounts' new heads are written with their balances.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam, insert, text, update

from timebank.platform.db import db
from timebank.tenants.ledger.chain import format_time, posting_hash
from timebank.tenants.ledger.models import Account


class Moved(NamedTuple):
    """An account's new balance, version and head hash."""

    balance: int
    version: int
    head_hash: str


def chain_rows(
    scheme_id: int,
    rows: list[dict[str, Any]],
    heads: dict[int, str],
    transactions: Mapping[int, tuple[str, datetime]],
) -> None:
    """Set ``prev_hash`` and ``hash`` of posting rows (in account-version order per
    account), moving ``heads`` (account id → head hash) on; ``transactions`` maps
    each transaction id to its kind and time."""
    times: dict[int, str] = {}
    for row in rows:
        transaction_id = row["transaction_id"]
        kind, moment = transactions[transaction_id]
        if transaction_id not in times:
            times[transaction_id] = format_time(moment)
        previous = heads[row["account_id"]]
        row["prev_hash"] = previous
        row["hash"] = heads[row["account_id"]] = posting_hash(
            scheme_id=scheme_id,
            account_id=row["account_id"],
            account_version=row["account_version"],
            transaction_id=transaction_id,
            kind=kind,
            amount=row["amount"],
            balance_after=row["balance_after"],
            created_at=times[transaction_id],
            prev_hash=previous,
        )


def bulk_insert(table: Any, rows: list[dict[str, Any]]) -> None:
    session = db.session()
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql":
        session.execute(insert(table), rows)
        return
    names = tuple(rows[0])
    statement = _unnest_inserts.get((table.name, names))
    if statement is None:
        arrays = ", ".join(
            f"CAST(:{name} AS {table.c[name].type.compile(dialect)}[])" for name in names
        )
        statement = text(
            f"INSERT INTO {table.name} ({', '.join(names)}) SELECT * FROM unnest({arrays})"
        )
        _unnest_inserts[(table.name, names)] = statement
    session.connection().execute(statement, {name: [row[name] for row in rows] for name in names})


_unnest_inserts: dict[tuple[str, tuple[str, ...]], Any] = {}

# PostgreSQL: set (balance, version, head_hash) of many accounts from four arrays.
SET_BALANCES = (
    "UPDATE accounts SET balance = moved.balance, version = moved.version,"
    " head_hash = moved.head_hash"
    " FROM unnest(CAST(:moved_ids AS BIGINT[]), CAST(:moved_balances AS BIGINT[]),"
    " CAST(:moved_versions AS INTEGER[]), CAST(:moved_heads AS TEXT[]))"
    " AS moved(id, balance, version, head_hash)"
    " WHERE accounts.scheme_id = :scheme_id AND accounts.id = moved.id"
)


def bulk_set_balances(scheme_id: int, moved: dict[int, Moved]) -> None:
    """Set ``(balance, version, head_hash)`` of many accounts (already locked by the caller)."""
    session = db.session()
    table = Account.__table__
    if session.get_bind().dialect.name == "postgresql":
        session.connection().execute(
            text(SET_BALANCES),
            {
                "scheme_id": scheme_id,
                "moved_ids": list(moved),
                "moved_balances": [m.balance for m in moved.values()],
                "moved_versions": [m.version for m in moved.values()],
                "moved_heads": [m.head_hash for m in moved.values()],
            },
        )
        return
    session.execute(
        update(table)
        .where(table.c.scheme_id == scheme_id, table.c.id == bindparam("account_id"))
        .values(
            balance=bindparam("new_balance"),
            version=bindparam("new_version"),
            head_hash=bindparam("new_head"),
        ),
        [
            {
                "account_id": i,
                "new_balance": m.balance,
                "new_version": m.version,
                "new_head": m.head_hash,
            }
            for i, m in moved.items()
        ],
    )
