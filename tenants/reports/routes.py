"""Impact report API (coordinators): a scheme's figures for a period, each table as CSV,
and the change in wellbeing answers."""

from __future__ import annotations

from typing import Any

from flask import Response

from timebank.platform.api.blueprint import Blueprint
from timebank.tenants.access import scheme_access
from timebank.tenants.reports import impact, tables
from timebank.tenants.reports.schemas import CsvQuery, PeriodQuery, ReportOut
from timebank.tenants.wellbeing import services as surveys
from timebank.tenants.wellbeing.schemas import WellbeingOut

blp = Blueprint(
    "reports",
    __name__,
    url_prefix="/api/v1/schemes/<slug>",
    description="Impact reports",
    credentials="scheme",
)


def _report(slug: str, args: dict[str, Any]) -> tuple[str, impact.Report]:
    access = scheme_access(slug, coordinator=True)
    first, last = impact.resolve_period(access.scheme, args["from_"], args["to"], args["preset"])
    return access.scheme.slug, impact.scheme_report(access.scheme, first, last)


@blp.route("/reports/summary")
@blp.arguments(PeriodQuery, location="query")
@blp.response(200, ReportOut)
def summary(args: dict[str, Any], slug: str) -> dict[str, Any]:
    """The period's figures (``from``/``to`` or ``preset``; default this month to date)."""
    return _report(slug, args)[1].as_dict()


@blp.route("/reports/summary.csv")
@blp.arguments(CsvQuery, location="query")
@blp.response(200, description="One table of the report as CSV (`table`, default `figures`)")
def summary_csv(args: dict[str, Any], slug: str) -> Response:
    scheme_slug, report = _report(slug, args)
    name = args["table"]
    return Response(
        tables.csv_text(report, name),
        mimetype="text/csv",
        headers={
            "Content-Disposition": (
                f'attachment; filename="{tables.csv_filename(scheme_slug, report, name)}"'
            )
        },
    )


@blp.route("/reports/wellbeing")
@blp.arguments(PeriodQuery, location="query")
@blp.response(200, WellbeingOut)
def wellbeing(args: dict[str, Any], slug: str) -> dict[str, Any]:
    """First → latest answers of consenting members whose latest falls in the period."""
    access = scheme_access(slug, coordinator=True)
    first, last = impact.resolve_period(access.scheme, args["from_"], args["to"], args["preset"])
    return surveys.change(access.scheme, first, last).as_dict()
