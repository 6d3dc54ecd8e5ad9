"""``python -m bench``: options, the order of the runs, the table and the JSON."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import report, sections
from bench.database import BenchDatabase

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"
SECTIONS = ("tenants", "transfers", "ledger", "award", "import", "search")

# Sizes of a full run and of ``--quick`` (a smoke run of a minute or so).
FULL = {
    "levels": "1,4,8,16",
    "duration": 8.0,
    "warmup": 1.5,
    "members": 200,
    "samples": 200,
    "ledger_small": 1_000,
    "ledger_large": 1_000_000,
    "ledger_members": 10,
    "schemes_small": 10,
    "schemes_large": 10_000,
    "award_members": 1_000,
    "import_rows": 10_000,
    "open_loop_seconds": 10.0,
    "search_listings": 100_000,
    "search_schemes": 1_000,
    "search_per_scheme": 1_000,
}
QUICK = {
    "levels": "1,4",
    "duration": 1.0,
    "warmup": 0.3,
    "members": 20,
    "samples": 20,
    "ledger_small": 1_000,
    "ledger_large": 10_000,
    "ledger_members": 10,
    "schemes_small": 10,
    "schemes_large": 50,
    "award_members": 20,
    "import_rows": 100,
    "open_loop_seconds": 2.0,
    "search_listings": 2_000,
    "search_schemes": 20,
    "search_per_scheme": 100,
}


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Measure the ledger against raw PostgreSQL on the server in DATABASE_URL.",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument(
        "--database-name",
        default=f"timebank_bench_{os.getpid()}",
        help="created afresh (dropped first if it exists) and dropped at the end; "
        "default timebank_bench_<pid>, so that runs side by side never share one",
    )
    parser.add_argument("--keep-db", action="store_true", help="leave the bench database behind")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where the JSON goes")
    parser.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help=f"comma-separated subset of {','.join(SECTIONS)}",
    )
    parser.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto")
    cores = os.cpu_count() or 1
    parser.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("WEB_CONCURRENCY", cores * 2)),
        help="gunicorn workers (deploy/gunicorn.conf.py: 2 per core)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=int(os.environ.get("WEB_THREADS", 1)),
        help="gunicorn threads per worker (deploy/gunicorn.conf.py: 1)",
    )
    parser.add_argument(
        "--worker-class",
        default=os.environ.get("WEB_WORKER_CLASS", "sync"),
        help="gunicorn worker class (deploy/gunicorn.conf.py: sync)",
    )
    for name, value in FULL.items():
        flag = "--" + name.replace("_", "-")
        parser.add_argument(flag, type=type(value), default=None, help=f"default {value}")
    options = parser.parse_args(argv)
    sizes = QUICK if options.quick else FULL
    for name, value in sizes.items():
        if getattr(options, name) is None:
            setattr(options, name, value)
    options.levels = [int(level) for level in str(options.levels).split(",") if level]
    options.sections = [s for s in options.sections.split(",") if s]
    unknown = set(options.sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    return options


def main(argv: list[str] | None = None) -> None:
    options = parse(argv)
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://", "postgresql+psycopg://")):
        sys.exit(
            "bench: set DATABASE_URL to a PostgreSQL server, e.g.\n"
            "  DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres python -m bench\n"
            "It creates (and drops) a database of its own there; it needs a role that may "
            "create databases and roles."
        )
    results = run(options, database_url)
    print(report.table(results))
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\nresults written to {options.output}")


def run(options: argparse.Namespace, database_url: str) -> dict[str, Any]:
    database = BenchDatabase.from_environment(database_url, options.database_name)
    folder = Path(tempfile.mkdtemp(prefix="timebank-bench-"))
    results: dict[str, Any] = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "quick": options.quick,
        "settings": {},
        "timings_s": {},
        "errors": {},
    }

    def step(name: str, work: Callable[[], Any], *, fatal: bool = False) -> Any:
        print(f"[bench] {name} …", file=sys.stderr, flush=True)
        began = time.perf_counter()
        try:
            return work()
        except Exception as error:
            if fatal:
                raise
            results["errors"][name] = f"{type(error).__name__}: {error}"
            traceback.print_exc()
            return None
        finally:
            results["timings_s"][name] = round(time.perf_counter() - began, 1)

    started = time.perf_counter()
    database.claim()
    step("create database", database.recreate, fatal=True)
    bench = sections.Bench(options, database, folder)
    results["settings"] = bench.settings()
    try:
        step("set up schemes and members", bench.set_up, fatal=True)
        step("start gunicorn", bench.start_server, fatal=True)
        if "tenants" in options.sections:
            results["tenant_count"] = step("tenant count", bench.tenant_count)
        if "transfers" in options.sections:
            results["statements_per_transfer"] = step("statements per transfer", bench.statements)
            results["transfers"] = step("transfers C0/C1/C2", bench.transfers)
            results["c2_open_loop_70"] = step("C2 at 70% of peak", bench.open_loop_70)
        if "ledger" in options.sections:
            results["ledger_size"] = step("ledger size", bench.ledger_size)
        if "award" in options.sections:
            results["bulk_award"] = step("bulk award", bench.bulk_award)
        if "import" in options.sections:
            results["member_import"] = step("member import", bench.member_import)
        if "search" in options.sections:
            results["listing_search"] = step("listing search", bench.listing_search)
        results["worker_memory"] = step("worker memory", bench.worker_memory)
    finally:
        bench.stop_server()
        if not options.keep_db:
            step("drop database", database.drop)
            shutil.rmtree(folder, ignore_errors=True)  # logs, outbox of the import's mails
        database.release()
    results["settings"]["gunicorn"] = bench.gunicorn_settings()
    results["timings_s"]["total"] = round(time.perf_counter() - started, 1)
    results["targets"] = report.targets(results)
    results["settings"]["python"] = platform.python_version()
    return results
