"""The runs of the bench, in order, sharing one database, one app and one gunicorn."""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from bench import search, transfers
from bench import server as web
from bench.database import BenchDatabase
from bench.fixtures import (
    BenchScheme,
    add_members,
    bench_app,
    check_ledger,
    clone_schemes,
    create_bench_scheme,
    fund,
    grow_ledger,
    settle,
)
from bench.stats import closed_loop, ratio, summarise

FUNDING = 600  # minutes per member: with the community floor of −10 h, refusals are rare


class Bench:
    def __init__(self, options: argparse.Namespace, database: BenchDatabase, folder: Path) -> None:
        self.options = options
        self.database = database
        self.folder = folder
        self.pool_size = max(options.levels) + 2
        self.app = bench_app(database.sqlalchemy_url("app"), str(folder / "outbox"), self.pool_size)
        self.server = web.Server(
            workers=options.workers,
            threads=options.threads,
            worker_class=options.worker_class,
            database_url=database.sqlalchemy_url("app"),
            folder=folder,
        )
        self.main: BenchScheme | None = None
        self.proto: BenchScheme | None = None
        self.loadgen = options.loadgen
        if self.loadgen == "auto":
            self.loadgen = "wrk" if web.wrk_available() else "python"
        elif self.loadgen == "wrk" and not web.wrk_available():
            raise SystemExit(
                "bench: --loadgen wrk but wrk is not installed (bench/run installs it)"
            )

    # --- settings ---------------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        options = self.options
        return {
            "cores": os.cpu_count(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
            "postgresql": self.database.server_facts(),
            "database": self.database.name,
            "app_role": "timebank_app (NOSUPERUSER NOBYPASSRLS: row-level security applies)",
            "concurrency_levels": options.levels,
            "seconds_per_level": options.duration,
            "warmup_s": options.warmup,
            "members_in_transfer_pool": options.members,
            "c1_pool_size": self.pool_size,
            "load_generator": self.loadgen,
            "sequential_samples": options.samples,
        }

    def gunicorn_settings(self) -> dict[str, Any]:
        return {
            "workers": self.server.workers,
            "threads": self.server.threads,
            "worker_class": self.server.worker_class,
            "flags": " ".join(self.server.flags()),
            "app_pool_size": "10 per worker (platform/config.py), no pre-ping",
        }

    # --- set-up -----------------------------------------------------------------

    def set_up(self) -> None:
        self.main = create_bench_scheme(self.app, "bench-main")
        add_members(self.app, self.main, self.options.members)
        fund(self.app, self.main, self.main.members, FUNDING)
        # Ten schemes in all for the first tenant-count reading.
        self.proto = create_bench_scheme(self.app, "pad-proto")
        clone_schemes(
            self.database.psycopg_url("owner"),
            self.proto.id,
            self.options.schemes_small - self.scheme_count(),
            "pad-a",
        )

    def scheme_count(self) -> int:
        import psycopg

        with psycopg.connect(self.database.psycopg_url("owner")) as conn:
            return int(conn.execute("SELECT count(*) FROM schemes").fetchone()[0])  # type: ignore[index]

    def start_server(self) -> None:
        assert self.main is not None
        self.server.start()
        seconds = 1.0 if self.options.quick else 4.0
        web.warm_up(self.server, self.main, self.server.workers * self.server.threads, seconds)

    def stop_server(self) -> None:
        self.server.stop()

    # --- tenant count -------------------------------------------------------------

    def _api_latency(self, scheme: BenchScheme) -> dict[str, Any]:
        """GET balance and POST transfer, one after another, in three rounds.

        The machine may be busy with other work: the median of the least
        disturbed round (``best_round_p50_ms``) is what the ratios compare.
        """
        rng = random.Random(11)
        tag = uuid.uuid4().hex[:10]
        people = scheme.members

        def balance(n: int) -> tuple[str, str, dict[str, str], bytes | None]:
            person = people[n % len(people)]
            headers = {"Authorization": f"Bearer {person.token}"}
            return "GET", f"/api/v1/schemes/{scheme.slug}/balance", headers, None

        def transfer(n: int) -> tuple[str, str, dict[str, str], bytes | None]:
            payer, payee = rng.sample(people, 2)
            headers = {
                "Authorization": f"Bearer {payer.token}",
                "Content-Type": "application/json",
                "Idempotency-Key": f"{tag}-{n}",
            }
            body = json.dumps({"to_member_id": payee.member_id, "amount": 1}).encode()
            return "POST", f"/api/v1/schemes/{scheme.slug}/transfers", headers, body

        rounds = 3
        per_round = max(5, self.options.samples // rounds)
        warmup = max(10, per_round // 5)
        out: dict[str, Any] = {"schemes": self.scheme_count()}
        latencies: dict[str, list[float]] = {"get_balance": [], "post_transfer": []}
        round_p50: dict[str, list[float]] = {"get_balance": [], "post_transfer": []}
        statuses: dict[str, dict[int, int]] = {"get_balance": {}, "post_transfer": {}}
        offset = 0
        for _ in range(rounds):
            for name, make in (("get_balance", balance), ("post_transfer", transfer)):
                values, seen = web.sequential_requests(
                    self.server.port, make, per_round, warmup, start=offset
                )
                offset += per_round + warmup
                latencies[name].extend(values)
                round_p50[name].append(summarise(values)["p50_ms"])
                for status, count in seen.items():
                    statuses[name][status] = statuses[name].get(status, 0) + count
        for name in latencies:
            out[name] = {
                "count": len(latencies[name]),
                **summarise(latencies[name]),
                "round_p50_ms": round_p50[name],
                "best_round_p50_ms": min(round_p50[name]),
                "statuses": {str(k): v for k, v in sorted(statuses[name].items())},
            }
        out["load_1m"] = round(os.getloadavg()[0], 2)
        return out

    def tenant_count(self) -> dict[str, Any]:
        assert self.main is not None and self.proto is not None
        # Both readings start from a settled database: otherwise the second pays for the
        # checkpoint and autovacuum that ten thousand cloned schemes set off.
        settle(self.database.psycopg_url("owner"))
        few = self._api_latency(self.main)
        began = time.perf_counter()
        rows = clone_schemes(
            self.database.psycopg_url("owner"),
            self.proto.id,
            self.options.schemes_large - self.scheme_count(),
            "pad-b",
        )
        created_in = time.perf_counter() - began
        settle(self.database.psycopg_url("owner"))
        many = self._api_latency(self.main)
        return {
            "how": (
                "sequential requests on one keep-alive connection to gunicorn, rotating "
                "members of one scheme, each reading after VACUUM ANALYZE and CHECKPOINT; "
                "the extra schemes are clones (SQL, as owner) of a "
                "scheme provisioned by create_scheme from the community template"
            ),
            "few": few,
            "many": many,
            "padding": {"rows_written": rows, "seconds": round(created_in, 1)},
            "ratio_p50": {
                name: ratio(many[name]["best_round_p50_ms"], few[name]["best_round_p50_ms"])
                for name in ("get_balance", "post_transfer")
            },
            "ratio_p50_all_samples": {
                name: ratio(many[name]["p50_ms"], few[name]["p50_ms"])
                for name in ("get_balance", "post_transfer")
            },
        }

    # --- transfers ----------------------------------------------------------------

    def statements(self) -> dict[str, Any]:
        assert self.main is not None
        return {
            "how": (
                "statements reaching psycopg per transfer (execute/executemany, counted in this "
                "process over 50 transfers; round trips = statements + BEGIN + COMMIT) and this "
                "process's CPU time per transfer; C2 here is the whole Flask request through "
                "the test client (no gunicorn, no socket)"
            ),
            "C0": transfers.measure_c0(
                self.database.psycopg_url("app"), self.main, self._member_limits()
            ),
            "C1": transfers.measure_c1(self.app, self.main),
            "C2": transfers.measure_c2(self.app, self.main),
        }

    def transfers(self) -> dict[str, Any]:
        assert self.main is not None
        options = self.options
        policy_min, policy_max = self._member_limits()
        runs: dict[str, list[dict[str, Any]]] = {"C0": [], "C1": [], "C2": []}
        c0 = transfers.sql_client(
            self.database.psycopg_url("app"), self.main, policy_min, policy_max
        )
        c1 = transfers.service_client(self.app, self.main)
        for level in options.levels:
            runs["C0"].append(closed_loop(c0, level, options.duration, options.warmup))
            self._progress("C0", runs["C0"][-1])
        for level in options.levels:
            runs["C1"].append(closed_loop(c1, level, options.duration, options.warmup))
            self._progress("C1", runs["C1"][-1])
        if self.loadgen == "wrk":
            web.wrk_closed_loop(self.server, self.main, max(options.levels), options.warmup + 1)
        for level in options.levels:
            if self.loadgen == "wrk":
                result = web.wrk_closed_loop(self.server, self.main, level, options.duration)
            else:
                result = web.python_closed_loop(
                    self.server, self.main, level, options.duration, options.warmup
                )
            runs["C2"].append(result)
            self._progress("C2", result)
        best = {name: max(values, key=lambda r: r["throughput"]) for name, values in runs.items()}
        self.c2_peak = best["C2"]["throughput"]
        return {
            "how": (
                "closed loop: each client sends its next transfer when the last returns; "
                "random payer and payee among the pool, 1-5 minutes; C0/C1 clients are "
                "threads in this process, C2 clients are the load generator's connections"
            ),
            "runs": runs,
            "best": {
                name: {"concurrency": r["concurrency"], "throughput": r["throughput"]}
                for name, r in best.items()
            },
            "ratios": {
                "C1/C0": ratio(best["C1"]["throughput"], best["C0"]["throughput"]),
                "C2/C0": ratio(best["C2"]["throughput"], best["C0"]["throughput"]),
            },
        }

    def _member_limits(self) -> tuple[int | None, int | None]:
        from timebank.platform.db import db
        from timebank.platform.schemes.models import Scheme
        from timebank.tenants.policy.services import current_policy

        assert self.main is not None
        with self.app.app_context():
            scheme = db.session.get(Scheme, self.main.id)
            assert scheme is not None
            policy = current_policy(scheme)
            db.session.remove()
        return policy["balance"]["min"], policy["balance"]["max"]

    def _progress(self, name: str, result: dict[str, Any]) -> None:
        result["load_1m"] = round(os.getloadavg()[0], 2)
        print(
            f"[bench]   {name} x{result['concurrency']}: {result['throughput']:.0f}/s, "
            f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms"
            + (f", refused {result['refused']}" if result.get("refused") else "")
            + (f", failed {result['failed']}" if result.get("failed") else "")
            + f" (load {result['load_1m']})",
            flush=True,
            file=sys.stderr,
        )

    def open_loop_70(self) -> dict[str, Any]:
        assert self.main is not None
        peak = getattr(self, "c2_peak", 0)
        if not peak:
            raise RuntimeError("no C2 peak rate to take 70% of")
        result = web.open_loop(self.server, self.main, 0.7 * peak, self.options.open_loop_seconds)
        result["how"] = (
            "open loop from Python threads in this process: requests scheduled at a fixed "
            "rate (70% of C2's best closed-loop throughput); latency counted from each "
            "request's scheduled time, so queueing is included"
        )
        return result

    # --- ledger size --------------------------------------------------------------

    def ledger_size(self) -> dict[str, Any]:
        options = self.options
        owner = self.database.psycopg_url("owner")
        built: dict[str, Any] = {}
        schemes: dict[str, BenchScheme] = {}
        for label, postings in (("small", options.ledger_small), ("large", options.ledger_large)):
            scheme = create_bench_scheme(self.app, f"ledger-{label}")
            add_members(self.app, scheme, options.ledger_members)
            began = time.perf_counter()
            grown = grow_ledger(
                owner, scheme, [p.account_id for p in scheme.members], max(1, postings // 2)
            )
            grown["seconds"] = round(time.perf_counter() - began, 1)
            grown["check"] = check_ledger(owner, scheme.id)
            built[label] = grown
            schemes[label] = scheme
        readings: dict[str, dict[str, list[float]]] = {
            label: {"balance": [], "statement": []} for label in schemes
        }
        statuses: dict[int, int] = {}
        page_items: dict[str, int] = {}
        connection = web.Client(self.server.port)
        samples, warmup = options.samples, max(5, options.samples // 10)
        try:
            # Interleaved, so that the machine's background load hits both sizes alike.
            for n in range(warmup + samples):
                for label, scheme in schemes.items():
                    person = scheme.members[n % len(scheme.members)]
                    headers = {"Authorization": f"Bearer {person.token}"}
                    for kind, path in (
                        ("balance", f"/api/v1/schemes/{scheme.slug}/balance"),
                        ("statement", f"/api/v1/schemes/{scheme.slug}/transactions"),
                    ):
                        began = time.perf_counter()
                        status, payload = connection.send("GET", path, headers)
                        elapsed = time.perf_counter() - began
                        if status != 200:
                            raise RuntimeError(f"GET {path}: HTTP {status}: {payload[:200]!r}")
                        if kind == "statement" and n == 0:
                            page_items[label] = len(json.loads(payload)["items"])
                        statuses[status] = statuses.get(status, 0) + 1
                        if n >= warmup:
                            readings[label][kind].append(elapsed)
        finally:
            connection.close()
        summary = {
            label: {kind: summarise(values) for kind, values in kinds.items()}
            for label, kinds in readings.items()
        }
        return {
            "how": (
                f"two schemes of {options.ledger_members} members (so that every member's first "
                "statement page is full in both); transfers written in bulk SQL (balanced "
                "pairs, exact balance_after chains, cached balances) and checked; GET …/balance "
                "and GET …/transactions (first page) sequentially over one keep-alive "
                "connection, the two sizes interleaved, rotating members"
            ),
            "first_page_items": page_items,
            "postings": {"small": options.ledger_small, "large": options.ledger_large},
            "built": built,
            "latency": summary,
            "statuses": {str(k): v for k, v in sorted(statuses.items())},
            "ratio_p50": {
                kind: ratio(summary["large"][kind]["p50_ms"], summary["small"][kind]["p50_ms"])
                for kind in ("balance", "statement")
            },
        }

    # --- bulk award, member import ------------------------------------------------------

    def bulk_award(self) -> dict[str, Any]:
        from sqlalchemy import select

        from timebank.platform import tenancy
        from timebank.platform.db import db

        try:
            from timebank.tenants.earning.models import Activity
        except ImportError as error:
            return {"available": False, "reason": f"earning models missing: {error}"}
        count = self.options.award_members
        scheme = create_bench_scheme(self.app, "award-court", template="youth_court")
        began = time.perf_counter()
        add_members(
            self.app, scheme, count, tokens=False, owner_url=self.database.psycopg_url("owner")
        )
        set_up = time.perf_counter() - began
        with self.app.app_context(), tenancy.scheme_context(scheme.id):
            activity_id = db.session.execute(
                select(Activity.id).order_by(Activity.id).limit(1)
            ).scalar_one()
            db.session.remove()
        body = {
            "activity_id": activity_id,
            "minutes": 150,
            "member_ids": [p.member_id for p in scheme.members],
        }
        url = f"{self.server.base}/api/v1/schemes/{scheme.slug}/awards"
        timings = []
        for run in range(3):
            headers = {
                "Authorization": f"Bearer {scheme.coordinator.token}",
                "Idempotency-Key": f"award-{uuid.uuid4().hex}-{run}",
            }
            began = time.perf_counter()
            status, payload = web.request("POST", url, body=body, headers=headers, timeout=120)
            elapsed = time.perf_counter() - began
            if status in (404, 405) and run == 0:
                return {"available": False, "reason": f"POST …/awards answered {status}"}
            if status != 201:
                raise RuntimeError(f"award answered {status}: {payload[:300]!r}")
            transactions = len(json.loads(payload)["transactions"])
            if transactions != count:
                raise RuntimeError(f"award wrote {transactions} transactions, not {count}")
            timings.append(elapsed)
        return {
            "available": True,
            "how": (
                "POST …/awards through gunicorn (Idempotency-Key), one activity to every "
                "member of a youth_court scheme; the whole HTTP request, commit included"
            ),
            "members": count,
            "set_up_members_s": round(set_up, 1),
            "runs_s": [round(t, 3) for t in timings],
            "first_s": round(timings[0], 3),
            "best_s": round(min(timings), 3),
        }

    def member_import(self) -> dict[str, Any]:
        from timebank.platform import tenancy
        from timebank.platform.db import db
        from timebank.platform.identity.models import User
        from timebank.platform.schemes.models import Scheme

        try:
            from timebank.tenants.memberships import imports
        except ImportError as error:
            return {"available": False, "reason": f"imports missing: {error}"}
        rows = self.options.import_rows
        scheme = create_bench_scheme(self.app, "import-town")
        tag = uuid.uuid4().hex[:8]
        lines = ["name,email,role"] + [
            f"Person {n},person{n}-{tag}@bench.test,{'coordinator' if n % 50 == 0 else 'member'}"
            for n in range(rows)
        ]
        content = "\n".join(lines) + "\n"
        with self.app.app_context():
            coordinator = db.session.get(User, scheme.coordinator.user_id)
            with tenancy.scheme_context(scheme.id):
                row = db.session.get(Scheme, scheme.id)
                assert row is not None and coordinator is not None
                began = time.perf_counter()
                started = imports.start_import(
                    row, actor=coordinator, filename="bench.csv", content=content, queue=False
                )
                result = imports.run_import(scheme.id, started.id)
                elapsed = time.perf_counter() - began
            db.session.remove()
        return {
            "available": True,
            "how": (
                "as bench/import_members.py: the import job run inline in this process "
                "(validation, then invitations with an audit row and a mail each, "
                f"committed in batches of {self.app.config.get('IMPORT_BATCH_SIZE', 100)})"
            ),
            "rows": rows,
            "seconds": round(elapsed, 2),
            "rows_per_s": round(rows / elapsed, 1),
            "invited": result.get("invited"),
            "skipped": result.get("skipped"),
            "errors": len(result.get("errors") or []),
            "status": result.get("status"),
        }

    # --- memory -------------------------------------------------------------------

    def listing_search(self) -> dict[str, Any]:
        """Listing search latency: one large scheme, then many schemes (``bench/search.py``)."""
        return search.run(self)

    def worker_memory(self) -> dict[str, Any]:
        workers = self.server.worker_memory()
        if not workers:
            raise RuntimeError("no gunicorn worker found")
        return {
            "how": "VmHWM (peak resident set) of each gunicorn worker at the end of the run",
            "workers": workers,
            "peak_mb": max(w.get("VmHWM", 0) for w in workers),
        }
