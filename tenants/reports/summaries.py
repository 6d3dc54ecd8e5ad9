"""Figures of a period of local days: from the summary tables where a day is summarised,
live from the ledger for the days after (today, and any day the job has not reached).

The same three queries serve both: :func:`kind_totals`, :func:`member_flags`
and :func:`activity_minutes` read the ledger between two instants. The daily
job (:func:`summarise`) runs them for each local day not yet summarised and
stores the result; a report (:func:`period_figures`) reads stored days and runs
them once, live, for the tail. Distinct people are exact over any period
because members are stored per day (:mod:`.models`) and united, never summed.

Definitions (docs/api.md, "Impact reports and wellbeing"): a day is a local
day of the scheme's time zone; a transaction belongs to the day it was
created; a member is *active* on a day when any posting moved their account;
*helped* when they paid a ``transfer``; *helping* when a ``transfer`` paid
them or an ``earn`` credited them. Activity minutes are approved claims (on
the day their transaction was created) and awards (on the day they were made).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, delete, func, select

from timebank.platform.db import db, next_ids, utcnow
from timebank.platform.schemes.models import Scheme
from timebank.tenants.earning.models import Award, Claim
from timebank.tenants.ledger.models import (
    Account,
    Posting,
    Transaction,
    posting_account,
    posting_transaction,
)
from timebank.tenants.reports import breakdowns
from timebank.tenants.reports.models import (
    ReportActivityDay,
    ReportDay,
    ReportEarnDay,
    ReportMemberMonth,
    ReportPartnerDay,
    ReportProgress,
)

SUMMARY_MODELS = (ReportDay, ReportMemberMonth, ReportActivityDay, ReportEarnDay, ReportPartnerDay)
# ``report_partner_days.partner_id`` of the scheme's own rewards (no partner).
NO_PARTNER = 0

# Re-summarised on every run although already summarised: a transaction committed just
# after midnight may carry a time stamp from before it.
OVERLAP_DAYS = 1

# (member id, month, active days, helped days, helping days): report_member_months rows.
MemberMonths = list[tuple[int, date, int, int, int]]


@dataclass
class Figures:
    """What a period adds up to: totals per kind, members per flag, minutes per activity."""

    kinds: dict[str, tuple[int, int]] = field(default_factory=dict)  # kind → (minutes, count)
    active: set[int] = field(default_factory=set)
    helped: set[int] = field(default_factory=set)
    helping: set[int] = field(default_factory=set)
    activities: dict[int, int] = field(default_factory=dict)

    def add(self, other: Figures) -> None:
        for kind, (minutes, count) in other.kinds.items():
            old_minutes, old_count = self.kinds.get(kind, (0, 0))
            self.kinds[kind] = (old_minutes + minutes, old_count + count)
        self.active |= other.active
        self.helped |= other.helped
        self.helping |= other.helping
        for activity_id, minutes in other.activities.items():
            self.activities[activity_id] = self.activities.get(activity_id, 0) + minutes


def local_today(scheme: Scheme, now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(ZoneInfo(scheme.timezone)).date()


def day_start(scheme: Scheme, day: date) -> datetime:
    """The instant (UTC) the local ``day`` begins."""
    return datetime.combine(day, time.min, ZoneInfo(scheme.timezone)).astimezone(UTC)


# --- the ledger between two instants -----------------------------------------


def kind_totals(start: datetime, end: datetime) -> dict[str, tuple[int, int]]:
    return {
        kind: (int(minutes or 0), int(count))
        for kind, minutes, count in db.session.execute(
            select(Transaction.kind, func.sum(Transaction.amount), func.count())
            .where(Transaction.created_at >= start, Transaction.created_at < end)
            .group_by(Transaction.kind)
        ).all()
    }


_HELPED = func.max(case((and_(Transaction.kind == "transfer", Posting.amount < 0), 1), else_=0))
_HELPING = func.max(
    case((and_(Transaction.kind.in_(("transfer", "earn")), Posting.amount > 0), 1), else_=0)
)


def member_flags(start: datetime, end: datetime) -> dict[int, tuple[bool, bool]]:
    """Member id → (helped, helping) for every member whose account moved."""
    return {
        int(member_id): (bool(helped), bool(helping))
        for member_id, helped, helping in db.session.execute(
            select(Account.member_id, _HELPED, _HELPING)
            .select_from(Transaction)
            .join(Posting, posting_transaction())
            .join(Account, posting_account())
            .where(
                Transaction.created_at >= start,
                Transaction.created_at < end,
                Account.member_id.is_not(None),
            )
            .group_by(Account.member_id)
        ).all()
    }


def activity_minutes(start: datetime, end: datetime) -> dict[int, int]:
    totals: dict[int, int] = {}
    claims = (
        select(Claim.activity_id, func.sum(Transaction.amount))
        .join(
            Transaction,
            and_(Transaction.scheme_id == Claim.scheme_id, Transaction.id == Claim.transaction_id),
        )
        .where(Transaction.created_at >= start, Transaction.created_at < end)
        .group_by(Claim.activity_id)
    )
    awards = (
        select(Award.activity_id, func.sum(Award.credited_minutes * Award.member_count))
        .where(Award.created_at >= start, Award.created_at < end)
        .group_by(Award.activity_id)
    )
    for query in (claims, awards):
        for activity_id, minutes in db.session.execute(query).all():
            totals[int(activity_id)] = totals.get(int(activity_id), 0) + int(minutes or 0)
    return {activity_id: minutes for activity_id, minutes in totals.items() if minutes}


def live_figures(start: datetime, end: datetime) -> Figures:
    flags = member_flags(start, end)
    return Figures(
        kinds=kind_totals(start, end),
        active=set(flags),
        helped={member for member, (helped, _) in flags.items() if helped},
        helping={member for member, (_, helping) in flags.items() if helping},
        activities=activity_minutes(start, end),
    )


# --- the summary tables ---------------------------------------------------------


def summarised_through() -> date | None:
    return db.session.execute(select(ReportProgress.summarised_through)).scalar_one_or_none()


def stored_figures(first: date, last: date, rows: MemberMonths | None = None) -> Figures:
    """The summarised days ``first``…``last`` (both included) added up. ``rows``: the
    member months already read (they must cover the period's months)."""
    figures = Figures()
    in_days = (ReportDay.day >= first, ReportDay.day <= last)
    for kind, minutes, count in db.session.execute(
        select(ReportDay.kind, func.sum(ReportDay.minutes), func.sum(ReportDay.transactions))
        .where(*in_days)
        .group_by(ReportDay.kind)
    ).all():
        figures.kinds[kind] = (int(minutes or 0), int(count or 0))
    masks: dict[date, int] = {}
    for member_id, month, active, helped, helping in rows or member_months(first, last):
        mask = masks.get(month)
        if mask is None:
            mask = masks[month] = days_mask(month, first, last)
        if active & mask:
            figures.active.add(member_id)
        if helped & mask:
            figures.helped.add(member_id)
        if helping & mask:
            figures.helping.add(member_id)
    for activity_id, minutes in db.session.execute(
        select(ReportActivityDay.activity_id, func.sum(ReportActivityDay.minutes))
        .where(ReportActivityDay.day >= first, ReportActivityDay.day <= last)
        .group_by(ReportActivityDay.activity_id)
    ).all():
        figures.activities[int(activity_id)] = int(minutes or 0)
    return figures


def period_figures(
    scheme: Scheme, first: date, last: date, rows: MemberMonths | None = None
) -> Figures:
    """The local days ``first``…``last`` (both included): stored days, then live ones."""
    figures = Figures()
    if last < first:
        return figures
    through = summarised_through()
    if through is not None and first <= through:
        figures.add(stored_figures(first, min(last, through), rows))
    live_first = first if through is None else max(first, through + timedelta(days=1))
    if live_first <= last:
        figures.add(
            live_figures(day_start(scheme, live_first), day_start(scheme, last + timedelta(days=1)))
        )
    return figures


def breakdown_sums(
    scheme: Scheme, first: date, last: date
) -> tuple[dict[int | None, int], dict[int, int]]:
    """Minutes spent per partner and earned per member over the local days
    ``first``…``last``: stored days in one grouped query each, then the live tail."""
    partners: dict[int | None, int] = {}
    earned: dict[int, int] = {}
    through = summarised_through()
    if through is not None and first <= through:
        stored_last = min(last, through)
        for partner, minutes in db.session.execute(
            select(ReportPartnerDay.partner_id, func.sum(ReportPartnerDay.minutes))
            .where(ReportPartnerDay.day >= first, ReportPartnerDay.day <= stored_last)
            .group_by(ReportPartnerDay.partner_id)
        ).all():
            key = None if partner == NO_PARTNER else int(partner)
            partners[key] = int(minutes or 0)
        for member_id, minutes in db.session.execute(
            select(ReportEarnDay.member_id, func.sum(ReportEarnDay.minutes))
            .where(ReportEarnDay.day >= first, ReportEarnDay.day <= stored_last)
            .group_by(ReportEarnDay.member_id)
        ).all():
            earned[int(member_id)] = int(minutes or 0)
    live_first = first if through is None else max(first, through + timedelta(days=1))
    if live_first <= last:
        start, end = day_start(scheme, live_first), day_start(scheme, last + timedelta(days=1))
        for key, minutes in breakdowns.partner_minutes(start, end).items():
            partners[key] = partners.get(key, 0) + minutes
        for member_id, minutes in breakdowns.earned_by_member(start, end).items():
            earned[member_id] = earned.get(member_id, 0) + minutes
    return (
        {key: value for key, value in partners.items() if value},
        {key: value for key, value in earned.items() if value},
    )


def month_of(day: date) -> date:
    return day.replace(day=1)


def days_mask(month: date, first: date, last: date) -> int:
    """The bits of the days of ``month`` that lie in ``first``…``last``."""
    next_month = (month + timedelta(days=32)).replace(day=1)
    start, end = max(first, month), min(last, next_month - timedelta(days=1))
    if end < start:
        return 0
    return ((1 << end.day) - 1) ^ ((1 << (start.day - 1)) - 1)


def member_months(first: date, last: date) -> MemberMonths:
    """The stored member rows of the months ``first``…``last`` touch."""
    return [
        (int(row[0]), row[1], int(row[2]), int(row[3]), int(row[4]))
        for row in db.session.execute(
            select(
                ReportMemberMonth.member_id,
                ReportMemberMonth.month,
                ReportMemberMonth.active_days,
                ReportMemberMonth.helped_days,
                ReportMemberMonth.helping_days,
            ).where(
                ReportMemberMonth.month >= month_of(first),
                ReportMemberMonth.month <= month_of(last),
            )
        ).all()
    ]


def active_by_month(
    scheme: Scheme, months: list[tuple[date, date]], rows: MemberMonths | None = None
) -> list[set[int]]:
    """The members active in each (first day, last day) month: stored days in one query
    (or ``rows``, read already), then the days not summarised yet live."""
    through = summarised_through()
    sets: list[set[int]] = [set() for _ in months]
    if not months:
        return sets
    position = {first: index for index, (first, _last) in enumerate(months)}
    if through is not None and months[0][0] <= through:
        stored_last = min(months[-1][1], through)
        masks = {first: days_mask(first, first, min(last, through)) for first, last in months}
        for member_id, month, active, _helped, _helping in rows or member_months(
            months[0][0], stored_last
        ):
            index = position.get(month)
            if index is not None and active & masks[month]:
                sets[index].add(member_id)
    for index, (first, last) in enumerate(months):
        live_first = first if through is None else max(first, through + timedelta(days=1))
        if live_first <= last:
            sets[index] |= set(
                member_flags(
                    day_start(scheme, live_first), day_start(scheme, last + timedelta(days=1))
                )
            )
    return sets


# --- the daily job's work ----------------------------------------------------------


def first_day(scheme: Scheme) -> date | None:
    """The local day of the scheme's first transaction (None: no transactions yet)."""
    first = db.session.execute(select(func.min(Transaction.created_at))).scalar()
    if first is None:
        return None
    return first.astimezone(ZoneInfo(scheme.timezone)).date()


def kinds(start: datetime, end: datetime) -> Iterable[tuple[str, tuple[int, int]]]:
    return kind_totals(start, end).items()


def _insert(
    model: type[
        ReportDay | ReportMemberMonth | ReportActivityDay | ReportEarnDay | ReportPartnerDay
    ],
    rows: list[dict[str, object]],
) -> None:
    """Bulk insert with ids allocated up front (SQLite has no identity on a composite key)."""
    if not rows:
        return
    table = model.__tablename__
    for row, row_id in zip(rows, next_ids(db.session(), table, len(rows)), strict=True):
        row["id"] = row_id
    db.session.execute(model.__table__.insert(), rows)


def summarise_days(scheme: Scheme, days: Iterable[date]) -> int:
    """Replace the stored figures of each day with what the ledger says now; how many days."""
    by_month: dict[date, dict[date, dict[int, tuple[bool, bool]]]] = {}
    for day in days:
        start, end = day_start(scheme, day), day_start(scheme, day + timedelta(days=1))
        for model in (ReportDay, ReportActivityDay, ReportEarnDay, ReportPartnerDay):
            db.session.execute(delete(model).where(model.day == day))
        base = {"scheme_id": scheme.id, "day": day}
        _insert(
            ReportDay,
            [
                base | {"kind": k, "minutes": m, "transactions": c}
                for k, (m, c) in kinds(start, end)
            ],
        )
        _insert(
            ReportActivityDay,
            [
                base | {"activity_id": a, "minutes": m}
                for a, m in activity_minutes(start, end).items()
            ],
        )
        _insert(
            ReportEarnDay,
            [
                base | {"member_id": m, "minutes": v}
                for m, v in breakdowns.earned_by_member(start, end).items()
            ],
        )
        _insert(
            ReportPartnerDay,
            [
                base | {"partner_id": NO_PARTNER if p is None else p, "minutes": v}
                for p, v in breakdowns.partner_minutes(start, end).items()
            ],
        )
        by_month.setdefault(month_of(day), {})[day] = member_flags(start, end)
    for month, flags_by_day in by_month.items():
        _replace_member_days(scheme, month, flags_by_day)
    return sum(len(flags) for flags in by_month.values())


def _replace_member_days(
    scheme: Scheme, month: date, flags_by_day: dict[date, dict[int, tuple[bool, bool]]]
) -> None:
    """Rewrite one month's member rows: the given days' bits replaced, the others kept."""
    redone = 0
    for day in flags_by_day:
        redone |= 1 << (day.day - 1)
    masks: dict[int, list[int]] = {}
    for member_id, _month, active, helped, helping in member_months(month, month):
        masks[member_id] = [active & ~redone, helped & ~redone, helping & ~redone]
    for day, flags in flags_by_day.items():
        bit = 1 << (day.day - 1)
        for member_id, (helped, helping) in flags.items():
            row = masks.setdefault(member_id, [0, 0, 0])
            row[0] |= bit
            row[1] |= bit if helped else 0
            row[2] |= bit if helping else 0
    db.session.execute(delete(ReportMemberMonth).where(ReportMemberMonth.month == month))
    _insert(
        ReportMemberMonth,
        [
            {
                "scheme_id": scheme.id,
                "month": month,
                "member_id": member_id,
                "active_days": active,
                "helped_days": helped,
                "helping_days": helping,
            }
            for member_id, (active, helped, helping) in sorted(masks.items())
            if active
        ],
    )


def summarise(scheme: Scheme, *, through: date | None = None, rebuild: bool = False) -> int:
    """Summarise every day after the stored progress (all days when ``rebuild``) up to
    ``through`` (default yesterday, local), and move the progress on. Idempotent: a day
    is replaced, never added twice. Runs in the caller's scheme context; commits nothing."""
    last = through or local_today(scheme) - timedelta(days=1)
    progress = db.session.execute(select(ReportProgress)).scalar_one_or_none()
    start = first_day(scheme)
    if progress is not None and not rebuild:
        start = progress.summarised_through + timedelta(days=1 - OVERLAP_DAYS)
    if rebuild:
        for model in SUMMARY_MODELS:
            db.session.execute(delete(model))
    days = 0
    if start is not None and start <= last:
        days = summarise_days(
            scheme, (start + timedelta(days=n) for n in range((last - start).days + 1))
        )
    if progress is None:
        db.session.add(ReportProgress(scheme_id=scheme.id, summarised_through=last))
    else:
        progress.summarised_through = (
            max(last, progress.summarised_through) if not rebuild else last
        )
        progress.updated_at = datetime.now(UTC)
    db.session.flush()
    return days
