"""Time a year's impact report over 1,000,000 postings (PostgreSQL; not a test).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres python -m bench.impact
    python -m bench.impact --postings 100000 --members 200      # smaller, quicker

A fresh database (``timebank_bench_impact_<pid>``, dropped at the end unless
``--keep-db``), migrated as its owner; the report runs as ``timebank_app`` (row-level
security applies). One scheme with ``--members`` members; ``--postings`` / 2
transactions over the last 365 days written in bulk SQL as the owner: a third
``earn`` (each with its approved claim, so activities have minutes), two thirds
``transfer`` between members, with exact ``balance_after`` chains. Then it times:

- ``live``: the year's report with no summaries (every figure from the ledger);
- ``job``: the daily summary job over the whole year (first run: every day);
- ``summarised``: the year's report read from the summary tables (today live), the
  median of ``--repeat`` runs — the figure with the < 1 s target;
- ``quarter``: a quarter's report, summarised;
- ``breakdowns``: the year's breakdowns by partner, group and age band alone, summarised
  (included in ``summarised``). The seed puts every
  member in a group, every other member in a second, and an age band on a third of them.

Prints a table and writes ``bench/results/impact-latest.json`` (``--output``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg

from bench.database import BenchDatabase
from bench.fixtures import (
    BenchScheme,
    add_members,
    bench_app,
    create_bench_scheme,
    rechain,
    settle,
)

RESULTS = Path(__file__).parent / "results"


def seed(owner_url: str, scheme: BenchScheme, postings: int) -> dict[str, Any]:
    """``postings`` / 2 transactions (earn and transfer) over the last year, in bulk."""
    transactions = postings // 2
    with psycopg.connect(owner_url) as conn:
        conn.execute("SELECT set_config('app.all_schemes', 'on', false)")
        conn.execute("SET LOCAL session_replication_role = replica")  # superuser: no row triggers
        conn.execute("SET LOCAL work_mem = '256MB'")
        members = [
            row[0]
            for row in conn.execute(
                "SELECT id FROM accounts WHERE scheme_id = %s AND kind = 'member' ORDER BY id",
                (scheme.id,),
            )
        ]
        issuance = conn.execute(
            "SELECT id FROM accounts WHERE scheme_id = %s AND kind = 'issuance'", (scheme.id,)
        ).fetchone()[0]  # type: ignore[index]
        activities = [
            row[0]
            for row in conn.execute(
                "SELECT id FROM activities WHERE scheme_id = %s ORDER BY id", (scheme.id,)
            )
        ]

        def reserve(table: str, count: int) -> int:
            return int(
                conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"nextval(pg_get_serial_sequence('{table}', 'id')) + %s) - %s",
                    (count, count),
                ).fetchone()[0]  # type: ignore[index]
            )

        tx_base = reserve("transactions", transactions)
        posting_base = reserve("postings", 2 * transactions)
        claim_base = reserve("claims", transactions // 3 + 1)
        conn.execute(
            """
            CREATE TEMP TABLE gen_tx ON COMMIT DROP AS
            SELECT n, %(tx_base)s + n AS tx_id,
                   CASE WHEN n %% 3 = 0 THEN 'earn' ELSE 'transfer' END AS kind,
                   CASE WHEN n %% 3 = 0 THEN %(issuance)s::bigint
                        ELSE acc[1 + (n * 7919) %% m] END AS payer,
                   CASE WHEN n %% 3 = 0 THEN acc[1 + (n * 7919) %% m]
                        ELSE acc[1 + ((n * 7919) %% m + 1 + (n * 31) %% (m - 1)) %% m] END AS payee,
                   15 + (n %% 8) * 15 AS amount,
                   now() - make_interval(secs => 365 * 86400.0 * (%(count)s - n) / %(count)s)
                     AS created
              FROM generate_series(0::bigint, %(count)s - 1) n,
                   (SELECT %(accounts)s::bigint[] AS acc, %(m)s::bigint AS m) p
            """,
            {
                "tx_base": tx_base,
                "issuance": issuance,
                "count": transactions,
                "accounts": members,
                "m": len(members),
            },
        )
        params = {
            "scheme": scheme.id,
            "actor": scheme.coordinator.user_id,
            "policy": scheme.policy_version,
            "posting_base": posting_base,
            "claim_base": claim_base,
            "activities": activities,
            "k": len(activities),
        }
        conn.execute(
            """
            INSERT INTO transactions
                (scheme_id, id, kind, amount, created_by, created_at, policy_version)
            SELECT %(scheme)s, tx_id, kind, amount, %(actor)s, created, %(policy)s FROM gen_tx
            """,
            params,
        )
        conn.execute(
            """
            INSERT INTO postings
                (scheme_id, id, transaction_id, account_id, amount, balance_after, account_version,
                 prev_hash, hash)
            SELECT %(scheme)s, %(posting_base)s + row_number() OVER (ORDER BY l.tx_id, l.leg) - 1,
                   l.tx_id, l.account_id, l.amount,
                   acc.balance + sum(l.amount) OVER chain,
                   acc.version + row_number() OVER chain, '', ''
              FROM (SELECT tx_id, 0 AS leg, payer AS account_id, -amount AS amount FROM gen_tx
                    UNION ALL
                    SELECT tx_id, 1, payee, amount FROM gen_tx) l
              JOIN accounts acc ON acc.scheme_id = %(scheme)s AND acc.id = l.account_id
            WINDOW chain AS (PARTITION BY l.account_id ORDER BY l.tx_id, l.leg
                             ROWS UNBOUNDED PRECEDING)
            """,
            params,
        )
        conn.execute(
            """
            INSERT INTO claims
                (scheme_id, id, member_id, activity_id, minutes, credited_minutes, performed_on,
                 status, transaction_id, entered_by, decided_by, decided_at, created_at)
            SELECT %(scheme)s, %(claim_base)s + row_number() OVER (ORDER BY g.tx_id) - 1,
                   a.member_id, (%(activities)s::bigint[])[1 + g.n %% %(k)s], g.amount, g.amount,
                   g.created::date, 'approved', g.tx_id, %(actor)s, %(actor)s, g.created, g.created
              FROM gen_tx g JOIN accounts a ON a.scheme_id = %(scheme)s AND a.id = g.payee
             WHERE g.kind = 'earn'
            """,
            params,
        )
        rechain(conn, scheme.id)  # the postings' hash chains (migration 0013)
        # Ten groups (every member in one, every other member in a second) and an age band
        # for a third of the members: the report's breakdowns by group and age band.
        group_base = reserve("groups", 10)
        params |= {
            "group_base": group_base,
            "link_base": reserve("group_members", 2 * len(members)),
        }
        conn.execute(
            """
            INSERT INTO groups (scheme_id, id, name, kind)
            SELECT %(scheme)s, %(group_base)s + g, 'Group ' || g, 'other'
              FROM generate_series(0, 9) g
            """,
            params,
        )
        conn.execute(
            """
            INSERT INTO group_members (scheme_id, id, group_id, member_id)
            SELECT %(scheme)s, %(link_base)s + row_number() OVER (ORDER BY l.g, l.id) - 1,
                   %(group_base)s + l.g, l.id
              FROM (SELECT id, number %% 10 AS g FROM members WHERE scheme_id = %(scheme)s
                    UNION ALL
                    SELECT id, (number + 3) %% 10 FROM members
                     WHERE scheme_id = %(scheme)s AND number %% 2 = 0) l
            """,
            params,
        )
        conn.execute(
            """
            UPDATE members SET age_band = (ARRAY['under_11', '11_15', '16_17', 'adult'])[1 + number %% 4]
             WHERE scheme_id = %(scheme)s AND number %% 3 = 0
            """,
            params,
        )
        conn.execute(
            """
            UPDATE accounts a SET balance = last.balance_after, version = last.account_version
              FROM (SELECT DISTINCT ON (account_id) account_id, balance_after, account_version
                      FROM postings WHERE scheme_id = %(scheme)s
                     ORDER BY account_id, account_version DESC) last
             WHERE a.scheme_id = %(scheme)s AND a.id = last.account_id
            """,
            params,
        )
        conn.commit()
        count = conn.execute(
            "SELECT count(*) FROM postings WHERE scheme_id = %s", (scheme.id,)
        ).fetchone()[0]  # type: ignore[index]
    return {"postings": int(count), "transactions": transactions, "members": len(members)}


def timed(fn: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def measure(app: Any, scheme_id: int, repeat: int) -> dict[str, Any]:
    from timebank.platform import tenancy
    from timebank.platform.db import db
    from timebank.platform.schemes.models import Scheme
    from timebank.tenants.reports import impact, summaries

    results: dict[str, Any] = {}
    with app.app_context(), tenancy.scheme_context(scheme_id):
        scheme = db.session.get(Scheme, scheme_id)
        assert scheme is not None
        today = summaries.local_today(scheme)
        year = (today - timedelta(days=364), today)
        quarter = (today - timedelta(days=90), today)
        seconds, live = timed(lambda: impact.scheme_report(scheme, *year))
        results["live_s"] = round(seconds, 3)
        db.session.rollback()
        seconds, days = timed(lambda: summaries.summarise(scheme))
        db.session.commit()
        results["job_s"] = round(seconds, 3)
        results["job_days"] = days
        runs = []
        for _ in range(repeat):
            seconds, summarised = timed(lambda: impact.scheme_report(scheme, *year))
            db.session.rollback()
            runs.append(seconds)
        results["summarised_s"] = {
            "median": round(statistics.median(runs), 3),
            "min": round(min(runs), 3),
            "max": round(max(runs), 3),
        }
        quarter_runs = []
        for _ in range(repeat):
            seconds, _report = timed(lambda: impact.scheme_report(scheme, *quarter))
            db.session.rollback()
            quarter_runs.append(seconds)
        results["quarter_s"] = round(statistics.median(quarter_runs), 3)
        same = {name: getattr(live, name) for name in impact.TOTALLED} == {
            name: getattr(summarised, name) for name in impact.TOTALLED
        }
        active = summaries.period_figures(scheme, *year).active  # read by the report anyway
        breakdown_runs = []
        for _ in range(repeat):
            seconds, _split = timed(
                lambda: impact.add_breakdowns(scheme, impact.Report(*year), active)
            )
            db.session.rollback()
            breakdown_runs.append(seconds)
        results["breakdowns_s"] = round(statistics.median(breakdown_runs), 3)
        results["breakdown_rows"] = {
            "partners": len(summarised.by_partner),
            "groups": len(summarised.by_group),
            "age_bands": len(summarised.by_age_band),
        }
        results["summarised_equals_live"] = (
            same
            and live.by_activity == summarised.by_activity
            and (live.by_partner, live.by_group, live.by_age_band)
            == (summarised.by_partner, summarised.by_group, summarised.by_age_band)
        )
        results["figures"] = {name: getattr(summarised, name) for name in impact.TOTALLED}
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postings", type=int, default=1_000_000)
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--database-name", default=f"timebank_bench_impact_{os.getpid()}")
    parser.add_argument("--output", type=Path, default=RESULTS / "impact-latest.json")
    options = parser.parse_args(argv)
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgresql"):
        raise SystemExit("bench.impact needs DATABASE_URL=postgresql://…")
    database = BenchDatabase.from_environment(url, options.database_name)
    database.claim()
    try:
        database.recreate()
        app = bench_app(database.sqlalchemy_url("app"), tempfile.mkdtemp(), pool_size=2)
        scheme = create_bench_scheme(app, "impact-bench")
        owner = database.psycopg_url("owner")
        add_members(app, scheme, options.members, tokens=False, owner_url=owner)
        seconds, seeded = timed(lambda: seed(owner, scheme, options.postings))
        settle(owner)
        results = {
            "seeded": seeded,
            "seed_s": round(seconds, 1),
            **measure(app, scheme.id, options.repeat),
        }
        results["load_average"] = os.getloadavg()
    finally:
        if not options.keep_db:
            database.drop()
        database.release()
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps(results, indent=2, default=str))
    print(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
