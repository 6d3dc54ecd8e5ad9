"""Impact reports: a scheme's figures for a period of local days, and the operator's
aggregates across schemes. Reads :mod:`.summaries` (summary tables + live tail).

Periods: any ``first``…``last`` local days, both included; :func:`preset_period`
names the usual ones (this month, quarter, year, since launch).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select

from timebank.platform import tenancy
from timebank.platform.api.errors import FieldError
from timebank.platform.db import db
from timebank.platform.schemes.models import Scheme
from timebank.tenants.earning.models import Activity
from timebank.tenants.memberships.models import Member
from timebank.tenants.reports import breakdowns, summaries

PRESETS = ("month", "quarter", "year", "launch")
RETENTION_MONTHS = 12
UNCATEGORISED = "Uncategorised"


@dataclass
class Report:
    first: date
    last: date
    active_members: int = 0
    new_members: int = 0
    minutes_earned: int = 0
    minutes_spent: int = 0
    minutes_transferred: int = 0
    exchanges: int = 0
    people_helped: int = 0
    people_helping: int = 0
    by_activity: list[dict[str, Any]] = field(default_factory=list)
    by_category: list[dict[str, Any]] = field(default_factory=list)
    retention: list[dict[str, Any]] = field(default_factory=list)
    by_partner: list[dict[str, Any]] = field(default_factory=list)
    by_group: list[dict[str, Any]] = field(default_factory=list)
    by_age_band: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "from_": self.first,
            "to": self.last,
            "active_members": self.active_members,
            "new_members": self.new_members,
            "minutes_earned": self.minutes_earned,
            "minutes_spent": self.minutes_spent,
            "minutes_transferred": self.minutes_transferred,
            "exchanges": self.exchanges,
            "people_helped": self.people_helped,
            "people_helping": self.people_helping,
            "by_activity": self.by_activity,
            "by_category": self.by_category,
            "retention": self.retention,
            "by_partner": self.by_partner,
            "by_group": self.by_group,
            "by_age_band": self.by_age_band,
        }


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def launch_day(scheme: Scheme) -> date:
    """The scheme's creation day, or its first transaction's if earlier (an imported history)."""
    created = scheme.created_at.astimezone(summaries.ZoneInfo(scheme.timezone)).date()
    first = summaries.first_day(scheme)
    return min(created, first) if first else created


def preset_period(scheme: Scheme, preset: str, today: date | None = None) -> tuple[date, date]:
    """``month``, ``quarter`` and ``year`` to date (calendar), or ``launch``: since launch."""
    today = today or summaries.local_today(scheme)
    if preset == "launch":
        return min(launch_day(scheme), today), today
    return _calendar_preset(preset, today)


def _calendar_preset(preset: str, today: date) -> tuple[date, date]:
    if preset == "month":
        return _month_start(today), today
    if preset == "quarter":
        return date(today.year, 3 * ((today.month - 1) // 3) + 1, 1), today
    if preset == "year":
        return date(today.year, 1, 1), today
    raise FieldError("preset", f"Must be one of: {', '.join(PRESETS)}.")


def resolve_period(
    scheme: Scheme | None, first: date | None, last: date | None, preset: str | None
) -> tuple[date, date]:
    """A preset's days, or ``first``…``last`` (defaults: this month to today)."""
    today = summaries.local_today(scheme) if scheme else date.today()
    if preset and scheme is not None:
        return preset_period(scheme, preset, today)
    if preset:
        return preset_period_plain(preset, today)
    last = last or today
    first = first or _month_start(last)
    check_period(first, last)
    return first, last


def preset_period_plain(preset: str, today: date) -> tuple[date, date]:
    """Presets across schemes: ``launch`` is the earliest scheme's launch."""
    if preset != "launch":
        return _calendar_preset(preset, today)
    with tenancy.all_schemes():
        earliest = db.session.execute(select(func.min(Scheme.created_at))).scalar()
    return (earliest.date() if earliest else today), today


def check_period(first: date, last: date) -> None:
    if last < first:
        raise FieldError("to", "Must not be before from.")
    if (last - first).days > 366 * 20:
        raise FieldError("from", "The period may be at most 20 years long.")


def scheme_report(scheme: Scheme, first: date, last: date, *, retention: bool = True) -> Report:
    """A scheme's figures for the local days ``first``…``last``. In its scheme context.
    ``retention=False``: the totals only (no retention months, no breakdowns)."""
    check_period(first, last)
    # The stored member months of the period and of the retention months, read once.
    start = min(first, retention_start(last)) if retention else first
    through = summaries.summarised_through()
    rows = None
    if through is not None and start <= through:
        rows = summaries.member_months(start, min(last, through))
    figures = summaries.period_figures(scheme, first, last, rows)
    report = Report(first=first, last=last)
    report.minutes_earned = figures.kinds.get("earn", (0, 0))[0]
    report.minutes_spent = figures.kinds.get("spend", (0, 0))[0]
    report.minutes_transferred, report.exchanges = figures.kinds.get("transfer", (0, 0))
    report.active_members = len(figures.active)
    report.people_helped = len(figures.helped)
    report.people_helping = len(figures.helping)
    report.new_members = int(
        db.session.execute(
            select(func.count())
            .select_from(Member)
            .where(
                Member.joined_at >= summaries.day_start(scheme, first),
                Member.joined_at < summaries.day_start(scheme, last + timedelta(days=1)),
            )
        ).scalar_one()
    )
    report.by_activity, report.by_category = _activities(figures.activities)
    if retention:
        report.retention = retention_months(scheme, last, rows)
        add_breakdowns(scheme, report, figures.active)
    return report


def add_breakdowns(scheme: Scheme, report: Report, active: set[int]) -> None:
    """By partner, group and age band (:mod:`.breakdowns`), from the summary tables."""
    partners, earned = summaries.breakdown_sums(scheme, report.first, report.last)
    report.by_partner = breakdowns.by_partner(partners)
    report.by_group = breakdowns.by_group(earned)
    report.by_age_band = breakdowns.by_age_band(active, earned, report.last)


def _activities(minutes: dict[int, int]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    if not minutes:
        return [], []
    rows = db.session.execute(
        select(Activity.id, Activity.name, Activity.category).where(Activity.id.in_(list(minutes)))
    ).all()
    described = {int(row.id): (row.name, row.category or UNCATEGORISED) for row in rows}
    by_activity = sorted(
        (
            {
                "activity_id": activity_id,
                "name": described.get(activity_id, ("", UNCATEGORISED))[0],
                "category": described.get(activity_id, ("", UNCATEGORISED))[1],
                "minutes": total,
            }
            for activity_id, total in minutes.items()
        ),
        key=lambda item: (-item["minutes"], item["name"], item["activity_id"]),
    )
    categories: dict[str, int] = {}
    for item in by_activity:
        categories[item["category"]] = categories.get(item["category"], 0) + item["minutes"]
    by_category = [
        {"category": name, "minutes": total}
        for name, total in sorted(categories.items(), key=lambda pair: (-pair[1], pair[0]))
    ]
    return by_activity, by_category


def retention_start(last: date) -> date:
    """The first day of the month before the 12 retention months (for ``retained``)."""
    return _add_months(_month_start(last), -RETENTION_MONTHS)


def retention_months(
    scheme: Scheme, last: date, rows: summaries.MemberMonths | None = None
) -> list[dict[str, Any]]:
    """The 12 calendar months up to ``last``'s: members active in each, and how many of
    them were active the month before too (``retained``)."""
    start = retention_start(last)
    months = []
    for offset in range(RETENTION_MONTHS + 1):
        first = _add_months(start, offset)
        months.append((first, min(_add_months(first, 1) - timedelta(days=1), last)))
    sets = summaries.active_by_month(scheme, months, rows)
    return [
        {
            "month": months[index][0].strftime("%Y-%m"),
            "active_members": len(sets[index]),
            "retained": len(sets[index] & sets[index - 1]),
        }
        for index in range(1, len(months))
    ]


# --- operators: aggregates across schemes ------------------------------------------

TOTALLED = (
    "active_members",
    "new_members",
    "minutes_earned",
    "minutes_spent",
    "minutes_transferred",
    "exchanges",
    "people_helped",
    "people_helping",
)


def reportable_schemes() -> list[Scheme]:
    """The schemes an operator's report covers: the one place schemes are left out
    (sandboxes: made-up people and history)."""
    with tenancy.all_schemes():
        statement = select(Scheme).where(Scheme.sandbox.is_(False)).order_by(Scheme.id)
        return list(db.session.execute(statement).scalars())


def _each_scheme() -> Iterator[Scheme]:
    for scheme in reportable_schemes():
        with tenancy.scheme_context(scheme.id):
            yield scheme


def platform_report(first: date, last: date) -> dict[str, Any]:
    """Aggregates only: each scheme's figures (no member, no activity names) and totals.

    A person in two schemes counts in each: schemes do not share members.
    """
    check_period(first, last)
    rows = []
    for scheme in _each_scheme():
        report = scheme_report(scheme, first, last, retention=False)
        rows.append(
            {"slug": scheme.slug, "name": scheme.name}
            | {name: getattr(report, name) for name in TOTALLED}
        )
    totals = {name: sum(row[name] for row in rows) for name in TOTALLED}
    return {"from_": first, "to": last, "schemes": rows, "totals": totals}


def summarise_scheme(scheme: Scheme, *, rebuild: bool = False) -> int:
    """The daily job's work for one scheme (in its context)."""
    return summaries.summarise(scheme, rebuild=rebuild)
