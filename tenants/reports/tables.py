"""The impact report's tables, each as a header and rows: one source for the pages'
tables and every CSV (written through :mod:`timebank.platform.api.spreadsheet`)."""

from __future__ import annotations

import io
from typing import Any

from timebank.platform.api import spreadsheet
from timebank.tenants.reports.impact import Report

TABLES = ("figures", "activities", "categories", "retention", "partners", "groups", "age_bands")


def figures_rows(report: Report) -> list[tuple[str, str, int]]:
    """(key, words, value) of the headline figures."""
    return [
        ("active_members", "Members active", report.active_members),
        ("new_members", "New members", report.new_members),
        ("people_helped", "People helped", report.people_helped),
        ("people_helping", "People helping", report.people_helping),
        ("minutes_earned", "Minutes earned", report.minutes_earned),
        ("minutes_spent", "Minutes spent on rewards", report.minutes_spent),
        ("minutes_transferred", "Minutes paid between members", report.minutes_transferred),
        ("exchanges", "Exchanges between members", report.exchanges),
    ]


def table(report: Report, name: str) -> tuple[list[str], list[list[Any]]]:
    """The header and rows of one table (``name`` one of :data:`TABLES`)."""
    if name == "figures":
        return ["from", "to", "figure", "value"], [
            [report.first.isoformat(), report.last.isoformat(), key, value]
            for key, _words, value in figures_rows(report)
        ]
    if name == "activities":
        return ["activity_id", "activity", "category", "minutes", "hours"], [
            [item["activity_id"], item["name"], item["category"], item["minutes"], _h(item)]
            for item in report.by_activity
        ]
    if name == "categories":
        return ["category", "minutes", "hours"], [
            [item["category"], item["minutes"], _h(item)] for item in report.by_category
        ]
    if name == "retention":
        return ["month", "active_members", "retained_from_month_before"], [
            [item["month"], item["active_members"], item["retained"]] for item in report.retention
        ]
    if name == "partners":
        return ["partner_id", "partner", "minutes", "hours"], [
            [
                item["partner_id"] if item["partner_id"] is not None else "",
                item["name"],
                item["minutes"],
                _h(item),
            ]
            for item in report.by_partner
        ]
    if name == "groups":
        return ["group_id", "group", "members_earning", "minutes", "hours"], [
            [item["group_id"], item["name"], item["members_earning"], item["minutes"], _h(item)]
            for item in report.by_group
        ]
    if name == "age_bands":
        return ["age_band", "active_members", "minutes_earned", "hours_earned"], [
            [
                item["band"],
                item["active_members"],
                item["minutes_earned"],
                round(item["minutes_earned"] / 60, 2),
            ]
            for item in report.by_age_band
        ]
    raise ValueError(name)


def _h(item: dict[str, Any]) -> float:
    return round(item["minutes"] / 60, 2)


def csv_text(report: Report, name: str) -> str:
    header, rows = table(report, name)
    buffer = io.StringIO()
    writer = spreadsheet.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def csv_filename(slug: str, report: Report, name: str) -> str:
    return f"{slug}-{name}-{report.first.isoformat()}-to-{report.last.isoformat()}.csv"
