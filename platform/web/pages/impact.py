"""Impact pages: a coordinator's report for any period (``/s/<slug>/manage/impact``), a CSV
of each of its tables, and the funder pack (one printable document); the operator's
figures across schemes (``/operator/impact``) are in :mod:`.operator`.

Every figure comes from :mod:`timebank.tenants.reports.impact` (summary tables plus the
days not yet summarised), each chart is drawn on the server with its table beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import Response, abort, request

from timebank.platform.schemes.models import Scheme
from timebank.platform.web import charts
from timebank.platform.web.forms import Form
from timebank.platform.web.pages.common import page_access, render, scheme_blueprint
from timebank.tenants.reports import impact, tables
from timebank.tenants.wellbeing import scales
from timebank.tenants.wellbeing import services as surveys

bp = scheme_blueprint("impact", "/manage/impact")

PRESET_WORDS = {
    "month": "This month",
    "quarter": "This quarter",
    "year": "This year",
    "launch": "Since launch",
}


@bp.before_request
def _coordinators_only() -> None:
    page_access(coordinator=True)


@dataclass
class Period:
    first: date
    last: date
    preset: str | None
    form: Form

    @property
    def query(self) -> dict[str, str]:
        if self.preset:
            return {"preset": self.preset}
        return {"from": self.first.isoformat(), "to": self.last.isoformat()}


def read_period(scheme: Scheme) -> Period:
    """The period asked for in the query string; a bad date is said beside its field."""
    form = Form(values=dict(request.args))
    preset = request.args.get("preset") or None
    if preset in impact.PRESETS:
        first, last = impact.preset_period(scheme, preset)
        return Period(first, last, preset, form)
    default_first, default_last = impact.preset_period(scheme, "month")
    dates: dict[str, date] = {}
    for name, default in (("from", default_first), ("to", default_last)):
        text = request.args.get(name, "").strip()
        try:
            dates[name] = date.fromisoformat(text) if text else default
        except ValueError:
            form.add(name, "Enter a date such as 2026-04-01.")
            dates[name] = default
    if dates["to"] < dates["from"]:
        form.add("to", "The end must not be before the start.")
        dates = {"from": default_first, "to": default_last}
    form.values.setdefault("from", dates["from"].isoformat())
    form.values.setdefault("to", dates["to"].isoformat())
    return Period(dates["from"], dates["to"], None, form)


def report_charts(report: impact.Report) -> dict[str, charts.Chart]:
    people = [
        ("Members active", report.active_members),
        ("New members", report.new_members),
        ("People helped", report.people_helped),
        ("People helping", report.people_helping),
    ]
    top = report.by_activity[:12]
    months = report.retention
    return {
        "people": charts.bar_chart(
            "People taking part",
            [name for name, _ in people],
            [("People", [float(value) for _, value in people])],
            unit="people",
            whole=True,
        ),
        "hours": charts.bar_chart(
            "Hours given and spent",
            ["Earned", "Spent on rewards", "Paid between members"],
            [
                (
                    "Hours",
                    [
                        charts.hours(report.minutes_earned),
                        charts.hours(report.minutes_spent),
                        charts.hours(report.minutes_transferred),
                    ],
                )
            ],
        ),
        "categories": charts.bar_chart(
            "Hours credited by category",
            [item["category"] for item in report.by_category],
            [("Hours", [charts.hours(item["minutes"]) for item in report.by_category])],
        ),
        "activities": charts.bar_chart(
            "Hours credited by activity" + (" (the 12 busiest)" if len(top) == 12 else ""),
            [item["name"] for item in top],
            [("Hours", [charts.hours(item["minutes"]) for item in top])],
            label_every=2 if len(top) > 6 else 1,
        ),
        "retention": charts.bar_chart(
            "Members active each month",
            [date.fromisoformat(item["month"] + "-01").strftime("%b %y") for item in months],
            [
                ("Active", [float(item["active_members"]) for item in months]),
                ("Also active the month before", [float(item["retained"]) for item in months]),
            ],
            unit="members",
            whole=True,
            label_every=2,
        ),
    } | breakdown_charts(report)


def breakdown_charts(report: impact.Report) -> dict[str, charts.Chart]:
    """By partner, group and age band: only the ones with rows."""
    drawn: dict[str, charts.Chart] = {}
    if report.by_partner:
        drawn["partners"] = charts.bar_chart(
            "Hours spent by partner",
            [item["name"] for item in report.by_partner],
            [("Hours", [charts.hours(item["minutes"]) for item in report.by_partner])],
            label_every=2 if len(report.by_partner) > 6 else 1,
        )
    if report.by_group:
        drawn["groups"] = charts.bar_chart(
            "Hours given by members of each group",
            [item["name"] for item in report.by_group],
            [("Hours", [charts.hours(item["minutes"]) for item in report.by_group])],
            label_every=2 if len(report.by_group) > 6 else 1,
        )
    if report.by_age_band:
        bands = report.by_age_band
        drawn["age_bands"] = charts.bar_chart(
            "Members active by age band",
            [item["name"] for item in bands],
            [("Members active", [float(item["active_members"]) for item in bands])],
            unit="members",
            whole=True,
        )
        drawn["age_band_hours"] = charts.bar_chart(
            "Hours given by age band",
            [item["name"] for item in bands],
            [("Hours", [charts.hours(item["minutes_earned"]) for item in bands])],
        )
    return drawn


def wellbeing_chart(change: surveys.Change) -> charts.Chart | None:
    if not change.measures:
        return None
    names = [item["measure"].replace("_", " ").capitalize() for item in change.measures]
    return charts.bar_chart(
        "Wellbeing: first and latest answers (mean)",
        names,
        [
            ("First", [float(item["mean_first"]) for item in change.measures]),
            ("Latest", [float(item["mean_latest"]) for item in change.measures]),
        ],
        unit="points",
    )


def _context(scheme: Scheme) -> dict[str, Any]:
    period = read_period(scheme)
    report = impact.scheme_report(scheme, period.first, period.last)
    change = surveys.change(scheme, period.first, period.last)
    return {
        "period": period,
        "report": report,
        "figures": tables.figures_rows(report),
        "charts": report_charts(report),
        "change": change,
        "change_chart": wellbeing_chart(change),
        "scale": scales.SCALES.get(change.scale),
        "presets": PRESET_WORDS,
        "tables": tables.TABLES,
    }


@bp.route("/")
def report_page(slug: str) -> Any:
    access = page_access(coordinator=True)
    context = _context(access.scheme)
    status = 422 if context["period"].form.errors else 200
    return render("impact/report.html", status, **context)


@bp.route(
    "/<any(figures, activities, categories, retention, partners, groups, age_bands):name>.csv"
)
def table_csv(slug: str, name: str) -> Response:
    access = page_access(coordinator=True)
    if name not in tables.TABLES:
        abort(404)
    period = read_period(access.scheme)
    report = impact.scheme_report(access.scheme, period.first, period.last)
    filename = tables.csv_filename(access.scheme.slug, report, name)
    return Response(
        tables.csv_text(report, name),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.route("/pack")
def funder_pack(slug: str) -> Any:
    """One printable document: headline figures, charts, wellbeing; the scheme's name."""
    access = page_access(coordinator=True)
    return render(
        "impact/pack.html", **_context(access.scheme), today=surveys.local_today(access.scheme)
    )
