"""The benchmark runs end to end (``--quick``) and reports every section.

Only the harness is checked here — that each measurement ran, wrote sane
figures and left nothing behind — never how fast anything was.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL"), reason="the bench runs against PostgreSQL"
    ),
]


def _database_exists(name: str) -> bool:
    url = make_url(os.environ["DATABASE_URL"]).set(
        drivername="postgresql+psycopg", database="postgres"
    )
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return (
                conn.execute(
                    text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
                ).first()
                is not None
            )
    finally:
        engine.dispose()


def test_quick_bench_reports_every_section(tmp_path: Path) -> None:
    output = tmp_path / "latest.json"
    name = f"timebank_bench_smoke_{os.getpid()}"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "--database-name",
            name,
            "--output",
            str(output),
        ],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    assert "Transfers (closed loop)" in completed.stdout
    results = json.loads(output.read_text())

    assert results["errors"] == {}, results["errors"]
    assert results["quick"] is True
    settings = results["settings"]
    assert settings["cores"] >= 1 and settings["postgresql"]["version"]
    assert settings["gunicorn"]["worker_class"] == "sync"  # deploy/gunicorn.conf.py

    transfers = results["transfers"]
    for case in ("C0", "C1", "C2"):
        runs = transfers["runs"][case]
        assert [run["concurrency"] for run in runs] == settings["concurrency_levels"]
        for run in runs:
            assert run["ops"] > 0 and run["failed"] == 0, (case, run)
            assert 0 < run["p50_ms"] <= run["p95_ms"] <= run["p99_ms"], (case, run)
    assert set(transfers["ratios"]) == {"C1/C0", "C2/C0"}
    assert all(value > 0 for value in transfers["ratios"].values())
    per_transfer = results["statements_per_transfer"]
    assert per_transfer["C0"]["statements"] == 5  # set_config, lock, 2 inserts, update
    # C1: set_config, lock, one statement writing the transaction, postings and balances,
    # then the payee's credit-mail setting read and its notice written (#16's mails when
    # paid; a member past the hourly burst adds a count now and then: hence "about");
    # C2 adds the caller's look-up, the idempotency key and (since the wave-2 merges) one
    # more read on the request path, to be found and folded (session note of 2026-12-02).
    assert 5 <= per_transfer["C1"]["statements"] < 5.5
    assert 8 <= per_transfer["C2"]["statements"] < 8.5
    for case in ("C1", "C2"):
        assert per_transfer[case]["client_cpu_ms"] > 0

    open_loop = results["c2_open_loop_70"]
    assert open_loop["requests"] > 0 and open_loop["statuses"].get("201", 0) > 0

    ledger = results["ledger_size"]
    for label in ("small", "large"):
        check = ledger["built"][label]["check"]
        assert check["sound"], check
        assert check["postings"] == ledger["postings"][label]
    assert set(ledger["ratio_p50"]) == {"balance", "statement"}
    # Every member's first statement page is full in both ledgers: like is compared with like.
    assert ledger["first_page_items"] == {"small": 50, "large": 50}
    assert set(ledger["statuses"]) == {"200"}

    tenants = results["tenant_count"]
    assert tenants["few"]["schemes"] == 10
    assert tenants["many"]["schemes"] == 50
    assert tenants["few"]["get_balance"]["statuses"] == {
        "200": tenants["few"]["get_balance"]["count"]
    }
    assert set(tenants["many"]["post_transfer"]["statuses"]) == {"201"}

    award = results["bulk_award"]
    if award["available"]:
        assert award["members"] == 20 and len(award["runs_s"]) == 3
    else:
        assert award["reason"]
    member_import = results["member_import"]
    if member_import["available"]:
        assert member_import["invited"] == member_import["rows"] == 100
        assert member_import["status"] == "done"
    else:
        assert member_import["reason"]

    search = results["listing_search"]
    assert search["one_scheme"]["fill"]["rows"] == 2_000
    assert search["many_schemes"]["schemes"] == 20
    for case in ("one_scheme", "many_schemes"):
        for query in ("newest", "text", "text_kind_category", "expiring"):
            figures = search[case][query]
            assert figures["statuses"] == {"200": figures["api"]["count"]}, figures
            assert 0 < figures["api"]["p50_ms"] <= figures["api"]["p99_ms"]
            assert 0 < figures["raw_sql"]["p50_ms"] <= figures["raw_sql"]["p99_ms"]
            assert figures["raw_sql"]["rows"] > 0

    memory = results["worker_memory"]
    assert len(memory["workers"]) == settings["gunicorn"]["workers"]
    assert memory["peak_mb"] > 0
    assert set(results["targets"]) and all("met" in t for t in results["targets"].values())

    assert not _database_exists(name)  # the bench drops its database
