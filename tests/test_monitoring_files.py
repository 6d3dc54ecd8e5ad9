"""The dashboard and alert rules in ``deploy/monitoring`` name only series that ``/metrics`` serves."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from tests.factories import World, fund, make_operator

MONITORING = Path(__file__).resolve().parents[1] / "deploy" / "monitoring"
SERIES = re.compile(r"\btimebank_[a-z_]+\b")


def served_series(world: World) -> set[str]:
    operator = make_operator(world.app)
    ann, arthur = world.a.members
    fund(world.app, world.a, ann, 60)
    # One of each: a transaction, a refusal, a 5xx-free request, so every family has samples.
    world.api(ann).post(
        f"/api/v1/schemes/{world.a.slug}/transfers",
        {"to_member_id": arthur.member_ids[world.a.slug], "amount": 30},
    )
    text = world.app.test_client().get("/metrics", headers=operator.headers).get_data(as_text=True)
    families = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}
    names = set(families)
    for family in families:  # histogram and counter sample names
        names |= {f"{family}_bucket", f"{family}_count", f"{family}_sum", f"{family}_total"}
    return names


def expressions() -> dict[str, list[str]]:
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    rules = yaml.safe_load((MONITORING / "alerts.yml").read_text())
    found = {
        f"panel {panel['title']}": [target["expr"] for target in panel["targets"]]
        for panel in dashboard["panels"]
    }
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert {"alert", "expr", "annotations"} <= set(rule), rule
            found[f"alert {rule['alert']}"] = [rule["expr"]]
    return found


def test_every_series_the_dashboard_and_alerts_name_is_served(world: World) -> None:
    served = served_series(world)
    named: set[str] = set()
    for where, exprs in expressions().items():
        for expr in exprs:
            assert expr.count("(") == expr.count(")"), where
            for series in SERIES.findall(expr):
                named.add(series)
                assert series in served, f"{where}: {series} is not served by /metrics"
    # The alerts the issue asks for are there: 5xx rate, queue backlog, ledger check, outbox age.
    for needed in (
        "timebank_http_errors_total",
        "timebank_job_queue_depth",
        "timebank_ledger_last_check_ok",
        "timebank_outbox_oldest_age_seconds",
    ):
        assert needed in named
