"""What the posting chain costs a transfer: C1 (the posting service in-process) with and
without the chain, in interleaved rounds of the same run.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres python -m bench.chain_cost

"Without" swaps the posting service's PostgreSQL write for the statement it used
before the chain (no hashes, no head hash: the columns' NOT NULL is dropped in this
throw-away database only); everything else (locking, limits, the unit of work) is
the same code. Rounds alternate the order (with, without; without, with; …) so that
drift in the machine's load falls on both alike; the median round of each is compared.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import text

from bench.database import BenchDatabase
from bench.fixtures import add_members, bench_app, create_bench_scheme, fund
from bench.stats import Refused, closed_loop
from bench.transfers import service_client
from timebank.platform.db import db
from timebank.tenants.ledger import posting

# The posting service's one-statement write as it was before the chain.
_UNCHAINED = text(
    "WITH t AS ("
    " INSERT INTO transactions (scheme_id, kind, amount, memo, created_by, created_at,"
    " idempotency_key, policy_version, reverses_id, partner_scheme_id, exchange_id)"
    " VALUES (:scheme_id, :kind, :amount, :memo, :created_by, :created_at,"
    " :idempotency_key, :policy_version, :reverses_id, :partner_scheme_id, :exchange_id)"
    " RETURNING id"
    "), p AS ("
    " INSERT INTO postings"
    " (scheme_id, transaction_id, account_id, amount, balance_after, account_version)"
    " SELECT :scheme_id, t.id, leg.account_id, leg.amount, leg.balance_after, leg.version"
    " FROM t, unnest(CAST(:leg_accounts AS BIGINT[]), CAST(:leg_amounts AS BIGINT[]),"
    " CAST(:leg_balances AS BIGINT[]), CAST(:leg_versions AS INTEGER[]))"
    " WITH ORDINALITY AS leg(account_id, amount, balance_after, version, n)"
    " ORDER BY leg.n"
    "), a AS ("
    " UPDATE accounts SET balance = moved.balance, version = moved.version"
    " FROM unnest(CAST(:moved_ids AS BIGINT[]), CAST(:moved_balances AS BIGINT[]),"
    " CAST(:moved_versions AS INTEGER[])) AS moved(id, balance, version)"
    " WHERE accounts.scheme_id = :scheme_id AND accounts.id = moved.id"
    ") SELECT id FROM t"
)


def _unchained_write(
    values: dict[str, Any],
    postings: list[dict[str, Any]],
    moved: dict[int, tuple[int, int]],
    heads: dict[int, str],
) -> Any:
    session = db.session()
    session.flush()
    values["id"] = (
        session.connection()
        .execute(
            _UNCHAINED,
            {
                **values,
                "leg_accounts": [row["account_id"] for row in postings],
                "leg_amounts": [row["amount"] for row in postings],
                "leg_balances": [row["balance_after"] for row in postings],
                "leg_versions": [row["account_version"] for row in postings],
                "moved_ids": list(moved),
                "moved_balances": [balance for balance, _ in moved.values()],
                "moved_versions": [version for _, version in moved.values()],
            },
        )
        .scalar_one()
    )
    transaction = posting.Transaction(**values)
    posting.make_transient_to_detached(transaction)
    session.add(transaction)
    return transaction, posting._with_heads(moved, heads)


@contextmanager
def chain_off() -> Iterator[None]:
    original = posting._write
    posting._write = _unchained_write  # type: ignore[assignment]
    try:
        yield
    finally:
        posting._write = original  # type: ignore[assignment]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--levels", default="1,4")
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--sequential", type=int, default=300, help="transfers per CPU round")
    parser.add_argument("--database-name", default=f"timebank_chain_bench_{os.getpid()}")
    parser.add_argument("--output", type=Path, default=Path("bench/results/chain_cost.json"))
    options = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://", "postgresql+psycopg://")):
        sys.exit("bench.chain_cost: set DATABASE_URL to a PostgreSQL server")
    database = BenchDatabase.from_environment(url, options.database_name)
    database.claim()
    database.recreate()
    try:
        results = _run(options, database)
    finally:
        database.drop()
        database.release()
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps(results, indent=2) + "\n")
    for level, figures in results["levels"].items():
        print(
            f"x{level}: with chain {figures['with_median']:.0f}/s, without "
            f"{figures['without_median']:.0f}/s, ratio {figures['ratio']:.3f} "
            f"({figures['fewer_percent']:+.1f}% fewer)"
        )


def _run(options: argparse.Namespace, database: BenchDatabase) -> dict[str, Any]:
    with psycopg.connect(database.psycopg_url("owner"), autocommit=True) as conn:
        conn.execute(
            "ALTER TABLE postings ALTER COLUMN prev_hash DROP NOT NULL,"
            " ALTER COLUMN hash DROP NOT NULL"
        )
    outbox = tempfile.mkdtemp(prefix="timebank-chain-bench-")
    levels = [int(level) for level in options.levels.split(",")]
    app = bench_app(database.sqlalchemy_url("app"), outbox, max(levels) + 2)
    scheme = create_bench_scheme(app, "chain-bench")
    add_members(app, scheme, options.members)
    fund(app, scheme, scheme.members, 600)
    client = service_client(app, scheme)
    out: dict[str, Any] = {
        "how": __doc__,
        "options": vars(options) | {"output": None},
        "levels": {},
    }
    for level in levels:
        rounds: dict[str, list[float]] = {"with": [], "without": []}
        for number in range(options.rounds):
            order = ("with", "without") if number % 2 == 0 else ("without", "with")
            for variant in order:
                if variant == "with":
                    result = closed_loop(client, level, options.duration, options.warmup)
                else:
                    with chain_off():
                        result = closed_loop(client, level, options.duration, options.warmup)
                rounds[variant].append(result["throughput"])
                print(
                    f"[chain] x{level} round {number + 1} {variant}: "
                    f"{result['throughput']:.0f}/s (load {os.getloadavg()[0]:.2f})",
                    file=sys.stderr,
                    flush=True,
                )
        with_median = statistics.median(rounds["with"])
        without_median = statistics.median(rounds["without"])
        out["levels"][str(level)] = {
            "rounds": rounds,
            "with_median": with_median,
            "without_median": without_median,
            "ratio": with_median / without_median,
            "fewer_percent": 100 * (1 - with_median / without_median),
        }
    out["sequential"] = _sequential(client, options)
    return out


def _sequential(client: Any, options: argparse.Namespace) -> dict[str, Any]:
    """One client, transfers back to back: this thread's CPU time and the wall time per
    transfer. CPU time is what a loaded machine disturbs least (it excludes waiting)."""
    transfer, release = client(99)
    rounds: dict[str, list[tuple[float, float]]] = {"with": [], "without": []}
    try:
        for number in range(options.rounds):
            order = ("with", "without") if number % 2 == 0 else ("without", "with")
            for variant in order:
                with chain_off() if variant == "without" else _nothing():
                    cpu, wall = time.thread_time(), time.perf_counter()
                    for _ in range(options.sequential):
                        with suppress(Refused):
                            transfer()
                    cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
                rounds[variant].append(
                    (1000 * cpu / options.sequential, 1000 * wall / options.sequential)
                )
                print(
                    f"[chain] sequential round {number + 1} {variant}: "
                    f"{rounds[variant][-1][0]:.3f} ms CPU, {rounds[variant][-1][1]:.3f} ms wall",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        release()
    cpu_with = statistics.median(c for c, _ in rounds["with"])
    cpu_without = statistics.median(c for c, _ in rounds["without"])
    wall_with = statistics.median(w for _, w in rounds["with"])
    wall_without = statistics.median(w for _, w in rounds["without"])
    print(
        f"sequential: CPU {cpu_with:.3f} vs {cpu_without:.3f} ms per transfer "
        f"({100 * (cpu_with / cpu_without - 1):+.1f}%), wall {wall_with:.3f} vs "
        f"{wall_without:.3f} ms ({100 * (wall_with / wall_without - 1):+.1f}%)"
    )
    return {
        "rounds_ms_cpu_wall": rounds,
        "cpu_ms_with": cpu_with,
        "cpu_ms_without": cpu_without,
        "wall_ms_with": wall_with,
        "wall_ms_without": wall_without,
    }


@contextmanager
def _nothing() -> Iterator[None]:
    yield


if __name__ == "__main__":
    main()
