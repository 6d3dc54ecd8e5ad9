"""Scheme dashboards: weekly hours earned and spent, active members, top activities,
one member's given and received hours, and usage figures for the operator console.

Weeks are calendar weeks from Monday in the scheme's time zone. Each query
groups in the database (a ``CASE`` maps a timestamp to its week, which every
database plans the same way), so a dashboard costs a handful of queries
whatever the size of the ledger. Amounts are minutes, as posted: a reversal
shows in the week it was made, as its own kind, and is not netted here.
Reads only, inside the current scheme's context (except :func:`scheme_usage`,
an explicitly cross-tenant read for operators).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, select

from timebank.platform import tenancy
from timebank.platform.db import db
from timebank.platform.schemes.models import Scheme
from timebank.tenants.earning.models import Activity, Award, Claim
from timebank.tenants.ledger.models import (
    Account,
    Posting,
    Transaction,
    posting_account,
    posting_transaction,
)
from timebank.tenants.memberships.models import Member

WEEKS = 12


@dataclass(frozen=True)
class Week:
    start: date  # a Monday, in the scheme's time zone
    earned: int = 0  # minutes credited by ``earn`` transactions
    spent: int = 0  # minutes spent on rewards (``spend``)
    exchanged: int = 0  # minutes paid between members (transfers and gifts)
    active_members: int = 0  # members whose account moved that week


def _today(scheme: Scheme, now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(ZoneInfo(scheme.timezone)).date()


def week_starts(scheme: Scheme, weeks: int = WEEKS, now: datetime | None = None) -> list[date]:
    """The Mondays of the last ``weeks`` weeks, oldest first, this week last."""
    today = _today(scheme, now)
    this_monday = today - timedelta(days=today.weekday())
    return [this_monday - timedelta(weeks=n) for n in range(weeks - 1, -1, -1)]


def _instants(scheme: Scheme, days: list[date]) -> list[datetime]:
    zone = ZoneInfo(scheme.timezone)
    return [datetime.combine(day, time.min, zone).astimezone(UTC) for day in days]


def _week_of(column: Any, bounds: list[datetime]) -> Any:
    """The index of the week ``column`` falls in (``bounds``: each week's start, then the end)."""
    return case(
        *[(column < bounds[index + 1], index) for index in range(len(bounds) - 1)],
        else_=len(bounds) - 1,
    )


def weekly_figures(scheme: Scheme, weeks: int = WEEKS, now: datetime | None = None) -> list[Week]:
    """Hours earned, spent and exchanged, and active members, per week."""
    starts = week_starts(scheme, weeks, now)
    bounds = _instants(scheme, [*starts, starts[-1] + timedelta(weeks=1)])
    week = _week_of(Transaction.created_at, bounds)
    in_range = and_(Transaction.created_at >= bounds[0], Transaction.created_at < bounds[-1])
    sums: dict[int, dict[str, int]] = {index: {} for index in range(len(starts))}
    for index, kind, minutes in db.session.execute(
        select(week.label("week"), Transaction.kind, func.sum(Transaction.amount))
        .where(in_range, Transaction.kind.in_(("earn", "spend", "transfer", "gift")))
        .group_by(week, Transaction.kind)
    ).all():
        sums[int(index)][kind] = int(minutes or 0)
    active: dict[int, int] = {}
    for index, members in db.session.execute(
        select(week.label("week"), func.count(func.distinct(Posting.account_id)))
        .select_from(Posting)
        .join(Transaction, posting_transaction())
        .join(Account, posting_account())
        .where(in_range, Account.kind == "member")
        .group_by(week)
    ).all():
        active[int(index)] = int(members)
    return [
        Week(
            start=start,
            earned=sums[index].get("earn", 0),
            spent=sums[index].get("spend", 0),
            exchanged=sums[index].get("transfer", 0) + sums[index].get("gift", 0),
            active_members=active.get(index, 0),
        )
        for index, start in enumerate(starts)
    ]


def top_activities(
    scheme: Scheme, days: int = 90, limit: int = 5, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Activities by minutes credited (approved claims and awards) in the last ``days``."""
    since_day = _today(scheme, now) - timedelta(days=days)
    since = _instants(scheme, [since_day])[0]
    totals: dict[int, int] = {}
    for activity_id, minutes in db.session.execute(
        select(Claim.activity_id, func.sum(Claim.credited_minutes))
        .where(Claim.status == "approved", Claim.performed_on >= since_day)
        .group_by(Claim.activity_id)
    ).all():
        totals[int(activity_id)] = int(minutes or 0)
    for activity_id, minutes in db.session.execute(
        select(Award.activity_id, func.sum(Award.credited_minutes * Award.member_count))
        .where(Award.created_at >= since)
        .group_by(Award.activity_id)
    ).all():
        totals[int(activity_id)] = totals.get(int(activity_id), 0) + int(minutes or 0)
    if not totals:
        return []
    names = dict(
        db.session.execute(
            select(Activity.id, Activity.name).where(Activity.id.in_(list(totals)))
        ).all()
    )
    ranked = sorted(totals.items(), key=lambda item: (-item[1], names.get(item[0], "")))
    return [
        {"activity_id": activity_id, "name": names.get(activity_id, ""), "minutes": minutes}
        for activity_id, minutes in ranked[:limit]
        if minutes > 0
    ]


def member_given_received(
    scheme: Scheme, account_id: int, weeks: int = WEEKS, now: datetime | None = None
) -> list[dict[str, Any]]:
    """One member's credits in (hours of help given) and out (help received) per week."""
    starts = week_starts(scheme, weeks, now)
    bounds = _instants(scheme, [*starts, starts[-1] + timedelta(weeks=1)])
    week = _week_of(Transaction.created_at, bounds)
    given = func.sum(case((Posting.amount > 0, Posting.amount), else_=0))
    received = func.sum(case((Posting.amount < 0, -Posting.amount), else_=0))
    rows = {
        int(index): (int(given_minutes or 0), int(received_minutes or 0))
        for index, given_minutes, received_minutes in db.session.execute(
            select(week.label("week"), given, received)
            .select_from(Posting)
            .join(Transaction, posting_transaction())
            .where(
                Posting.account_id == account_id,
                Transaction.created_at >= bounds[0],
                Transaction.created_at < bounds[-1],
                Transaction.kind != "reversal",
            )
            .group_by(week)
        ).all()
    }
    return [
        {
            "start": start,
            "given": rows.get(index, (0, 0))[0],
            "received": rows.get(index, (0, 0))[1],
        }
        for index, start in enumerate(starts)
    ]


def scheme_totals() -> dict[str, int]:
    """Figures for the top of the dashboard: members, pending claims, the pot."""
    members = db.session.execute(
        select(func.count()).select_from(Member).where(Member.status == "active")
    ).scalar_one()
    pending = db.session.execute(
        select(func.count()).select_from(Claim).where(Claim.status == "pending")
    ).scalar_one()
    pot = db.session.execute(select(Account.balance).where(Account.kind == "pot")).scalar()
    return {"members": int(members), "pending_claims": int(pending), "pot": int(pot or 0)}


def scheme_usage(scheme_ids: list[int], days: int = 30) -> dict[int, dict[str, int]]:
    """Operators: transactions and minutes moved per scheme in the last ``days`` (cross-tenant)."""
    if not scheme_ids:
        return {}
    since = datetime.now(UTC) - timedelta(days=days)
    with tenancy.all_schemes():
        rows = db.session.execute(
            select(
                Transaction.scheme_id, func.count(), func.coalesce(func.sum(Transaction.amount), 0)
            )
            .where(Transaction.scheme_id.in_(scheme_ids), Transaction.created_at >= since)
            .group_by(Transaction.scheme_id)
        ).all()
    return {
        int(scheme_id): {"transactions": int(count), "minutes": int(minutes)}
        for scheme_id, count, minutes in rows
    }
