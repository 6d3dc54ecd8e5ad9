"""The printed table and the targets of issue 8, from the results dictionary."""

from __future__ import annotations

from typing import Any


def _get(results: dict[str, Any], *path: str) -> Any:
    value: Any = results
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def targets(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each target: its bound, the value measured, and whether it was met (None: not measured)."""
    ledger = _get(results, "ledger_size", "ratio_p50") or {}
    tenants = _get(results, "tenant_count", "ratio_p50") or {}
    values: list[tuple[str, str, Any, Any]] = [
        ("C2/C0", ">= 0.5", _get(results, "transfers", "ratios", "C2/C0"), lambda v: v >= 0.5),
        (
            "C2 p99 at 70% of peak (ms)",
            "< 50",
            _get(results, "c2_open_loop_70", "p99_ms"),
            lambda v: v < 50,
        ),
        (
            "ledger size ratio (large/small ledger, worst of balance and statement)",
            "<= 1.2",
            max(ledger.values()) if ledger and None not in ledger.values() else None,
            lambda v: v <= 1.2,
        ),
        (
            "tenant count ratio (many/few schemes, worst of GET balance and POST transfer)",
            "<= 1.1",
            max(tenants.values()) if tenants and None not in tenants.values() else None,
            lambda v: v <= 1.1,
        ),
        ("bulk award (best, s)", "< 2", _get(results, "bulk_award", "best_s"), None),
        ("gunicorn worker peak RSS (MB)", "< 150", _get(results, "worker_memory", "peak_mb"), None),
    ]
    out: dict[str, dict[str, Any]] = {}
    for name, bound, value, check in values:
        if check is None:
            limit = float(bound.split()[-1])
            met = None if value is None else value < limit
        else:
            met = None if value is None else bool(check(value))
        out[name] = {"target": bound, "value": value, "met": met}
    return out


def _row(cells: list[Any], widths: list[int]) -> str:
    return "  ".join(
        str(c).rjust(w) if i else str(c).ljust(w)
        for i, (c, w) in enumerate(zip(cells, widths, strict=True))
    )


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def table(results: dict[str, Any]) -> str:
    lines: list[str] = []
    settings = results.get("settings", {})
    pg = settings.get("postgresql", {})
    gunicorn = settings.get("gunicorn", {})
    lines.append("=" * 78)
    lines.append(
        "Timebank ledger benchmark" + ("  (--quick: smoke sizes)" if results.get("quick") else "")
    )
    lines.append("=" * 78)
    lines.append(
        f"cores {settings.get('cores')}, load at start {settings.get('load_average_at_start')}, "
        f"python {settings.get('python')}, PostgreSQL {pg.get('version')} "
        f"(shared_buffers {pg.get('shared_buffers')}, synchronous_commit "
        f"{pg.get('synchronous_commit')}, max_connections {pg.get('max_connections')})"
    )
    lines.append(
        f"concurrency {settings.get('concurrency_levels')}, {settings.get('seconds_per_level')} s "
        f"per level after {settings.get('warmup_s')} s warm-up; transfer pool "
        f"{settings.get('members_in_transfer_pool')} members; C1 pool {settings.get('c1_pool_size')}"
    )
    lines.append(
        f"gunicorn: {gunicorn.get('workers')} workers x {gunicorn.get('threads')} threads "
        f"({gunicorn.get('worker_class')}); load generator: {settings.get('load_generator')}"
    )
    lines.append(f"gunicorn flags: {gunicorn.get('flags')}")

    runs = _get(results, "transfers", "runs")
    if runs:
        lines.append("")
        lines.append("Transfers (closed loop)")
        widths = [6, 5, 9, 9, 9, 9, 8]
        lines.append(
            _row(["case", "conc", "tx/s", "p50 ms", "p95 ms", "p99 ms", "refused"], widths)
        )
        for name in ("C0", "C1", "C2"):
            for run in runs.get(name, []):
                lines.append(
                    _row(
                        [
                            name,
                            run["concurrency"],
                            _fmt(run["throughput"]),
                            _fmt(run["p50_ms"], 2),
                            _fmt(run["p95_ms"], 2),
                            _fmt(run["p99_ms"], 2),
                            run.get("refused", 0) + run.get("failed", 0),
                        ],
                        widths,
                    )
                )
        ratios = _get(results, "transfers", "ratios") or {}
        best = _get(results, "transfers", "best") or {}
        lines.append(
            "best: "
            + ", ".join(
                f"{name} {_fmt(b['throughput'])}/s at {b['concurrency']}"
                for name, b in best.items()
            )
        )
        lines.append(
            f"ratios at each one's best: C1/C0 {ratios.get('C1/C0')}, C2/C0 {ratios.get('C2/C0')}"
        )
    statements = results.get("statements_per_transfer")
    if statements:
        lines.append(
            "per transfer, in this process: "
            + ", ".join(
                f"{name} {statements[name]['round_trips']} round trips, "
                f"{statements[name]['client_cpu_ms']} ms CPU"
                for name in ("C0", "C1", "C2")
                if name in statements
            )
            + " (C2: Flask test client)"
        )
    open_loop = results.get("c2_open_loop_70")
    if open_loop:
        lines.append(
            f"C2 open loop at {open_loop['target_rate']}/s (70% of peak): achieved "
            f"{open_loop['achieved_rate']}/s, p50 {open_loop['p50_ms']:.1f} ms, p95 "
            f"{open_loop['p95_ms']:.1f} ms, p99 {open_loop['p99_ms']:.1f} ms, statuses "
            f"{open_loop['statuses']}"
        )

    ledger = results.get("ledger_size")
    if ledger:
        lines.append("")
        lines.append(
            f"Ledger size: {ledger['postings']['small']:,} vs {ledger['postings']['large']:,} postings "
            "(p50 ms)"
        )
        for kind in ("balance", "statement"):
            small = ledger["latency"]["small"][kind]
            large = ledger["latency"]["large"][kind]
            lines.append(
                f"  {kind:<10} {small['p50_ms']:.2f} vs {large['p50_ms']:.2f}  "
                f"(p99 {small['p99_ms']:.2f} vs {large['p99_ms']:.2f})  ratio {ledger['ratio_p50'][kind]}"
            )
        checks = {label: b["check"]["sound"] for label, b in ledger["built"].items()}
        lines.append(
            f"  generated ledgers sound: {checks}; built in "
            f"{ {label: b['seconds'] for label, b in ledger['built'].items()} } s"
        )
    tenants = results.get("tenant_count")
    if tenants:
        lines.append("")
        lines.append(
            f"Tenant count: {tenants['few']['schemes']:,} vs {tenants['many']['schemes']:,} schemes "
            "(p50 ms of the least disturbed of 3 rounds; all samples in brackets)"
        )
        for kind in ("get_balance", "post_transfer"):
            few, many = tenants["few"][kind], tenants["many"][kind]
            lines.append(
                f"  {kind:<14} {few['best_round_p50_ms']:.2f} vs {many['best_round_p50_ms']:.2f}  "
                f"(p50 {few['p50_ms']:.2f} vs {many['p50_ms']:.2f}, p99 {few['p99_ms']:.2f} vs "
                f"{many['p99_ms']:.2f})  ratio {tenants['ratio_p50'][kind]}"
            )
    award = results.get("bulk_award")
    if award is not None:
        lines.append("")
        if award.get("available"):
            lines.append(
                f"Bulk award of {award['members']:,} members: runs {award['runs_s']} s "
                f"(best {award['best_s']} s)"
            )
        else:
            lines.append(f"Bulk award: not available ({award.get('reason')})")
    imported = results.get("member_import")
    if imported is not None:
        if imported.get("available"):
            lines.append(
                f"Member import of {imported['rows']:,} rows: {imported['seconds']} s "
                f"({imported['rows_per_s']} rows/s), invited {imported['invited']}, "
                f"status {imported['status']}"
            )
        else:
            lines.append(f"Member import: not available ({imported.get('reason')})")
    search = results.get("listing_search")
    if search:
        lines.append("")
        lines.append("Listing search (ms): API on gunicorn vs the same SELECT in raw SQL")
        widths = [34, 9, 9, 9, 9, 7]
        lines.append(
            _row(["case / query", "API p50", "API p99", "SQL p50", "SQL p99", "rows"], widths)
        )
        for label, part in (
            (f"1 scheme × {search['one_scheme']['listings']:,}", search["one_scheme"]),
            (
                f"{search['many_schemes']['schemes']:,} schemes × "
                f"{search['many_schemes']['listings_per_scheme']:,}",
                search["many_schemes"],
            ),
        ):
            for name in ("newest", "text", "text_kind_category", "expiring"):
                figures = part[name]
                lines.append(
                    _row(
                        [
                            f"{label}: {name}",
                            _fmt(figures["api"]["p50_ms"], 2),
                            _fmt(figures["api"]["p99_ms"], 2),
                            _fmt(figures["raw_sql"]["p50_ms"], 2),
                            _fmt(figures["raw_sql"]["p99_ms"], 2),
                            figures["raw_sql"]["rows"],
                        ],
                        widths,
                    )
                )
    memory = results.get("worker_memory")
    if memory:
        lines.append(
            f"gunicorn worker peak RSS: {memory['peak_mb']} MB (per worker: "
            f"{[w.get('VmHWM') for w in memory['workers']]})"
        )
    marks = results.get("targets") or {}
    if marks:
        lines.append("")
        lines.append(
            "Targets (issue 8)"
            + ("  — quick sizes, not the issue's: indicative only" if results.get("quick") else "")
        )
        for name, mark in marks.items():
            verdict = {True: "met", False: "MISSED", None: "not measured"}[mark["met"]]
            lines.append(f"  {name}: {_fmt(mark['value'], 3)} (target {mark['target']}) {verdict}")
    if results.get("errors"):
        lines.append("")
        lines.append("Errors:")
        for name, error in results["errors"].items():
            lines.append(f"  {name}: {error}")
    lines.append("")
    lines.append(f"timings (s): {results.get('timings_s')}")
    return "\n".join(lines)
