"""Operator API: every scheme at a glance, suspension, platform figures."""

from __future__ import annotations

from typing import Any

from timebank.platform.api.blueprint import Blueprint
from timebank.platform.api.pagination import page
from timebank.platform.api.schemas import PageQuery
from timebank.platform.identity.auth import require_operator
from timebank.platform.operators import services
from timebank.platform.operators.schemas import (
    PlatformSchemePage,
    StatsOut,
    StatusOut,
    SuspendIn,
)
from timebank.tenants.reports import impact
from timebank.tenants.reports.schemas import PeriodQuery, PlatformReportOut

blp = Blueprint(
    "platform",
    __name__,
    url_prefix="/api/v1/platform",
    description="Operators",
    credentials="operator",
)


@blp.route("/schemes")
@blp.arguments(PageQuery, location="query")
@blp.response(200, PlatformSchemePage)
def schemes(args: dict[str, Any]) -> dict[str, Any]:
    rows, cursor = services.scheme_page(args["limit"], args["cursor"])
    return page(services.describe_schemes(rows), cursor)


@blp.route("/schemes/<slug>/suspend", methods=["POST"])
@blp.arguments(SuspendIn)
@blp.response(200, StatusOut)
def suspend(body: dict[str, Any], slug: str) -> dict[str, Any]:
    operator = require_operator()
    scheme = services.change_scheme_status(slug, "suspended", actor=operator, reason=body["reason"])
    return {"status": scheme.status}


@blp.route("/schemes/<slug>/reactivate", methods=["POST"])
@blp.response(200, StatusOut)
def reactivate(slug: str) -> dict[str, Any]:
    operator = require_operator()
    scheme = services.change_scheme_status(slug, "active", actor=operator, reason=None)
    return {"status": scheme.status}


@blp.route("/stats")
@blp.response(200, StatsOut)
def stats() -> dict[str, int]:
    return services.platform_stats()


@blp.route("/reports/summary")
@blp.arguments(PeriodQuery, location="query")
@blp.response(200, PlatformReportOut)
def report_summary(args: dict[str, Any]) -> dict[str, Any]:
    """Each scheme's figures for a period and their totals: aggregates only."""
    first, last = impact.resolve_period(None, args["from_"], args["to"], args["preset"])
    return impact.platform_report(first, last)
