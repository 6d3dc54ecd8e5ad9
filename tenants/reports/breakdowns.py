"""The impact report's breakdowns by partner, by group and by age band.

Two sums per day, stored by the daily job (``report_partner_days``,
``report_earn_days``, :mod:`.summaries`) and computed live for the days after:
minutes spent per partner (``spend`` transactions by their redemption's
``partner_id``; ``None``: the scheme's own rewards), and minutes earned per
member (``earn`` credits to members' accounts), shared by the group and the
age-band tables (groups and ages are read when the report is made). A member
in several groups counts in each of them, so group rows may add up to more
than the minutes earned. Age bands: the band derived
from ``date_of_birth`` on the period's last day, else ``age_band``, else "not
recorded"; the table is empty unless at least one member of the scheme has one.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func, or_, select

from timebank.platform.db import db
from timebank.tenants.groups.models import Group, GroupMember
from timebank.tenants.ledger.models import (
    Account,
    Posting,
    Transaction,
    posting_account,
    posting_transaction,
)
from timebank.tenants.memberships.models import AGE_BANDS, Member
from timebank.tenants.partners.models import Partner
from timebank.tenants.policy.minors import age_on, band_for_age
from timebank.tenants.spending.models import Redemption

NOT_RECORDED = "not_recorded"
SCHEME_REWARDS = "The scheme's own rewards"
BAND_WORDS = {
    "under_11": "Under 11",
    "11_15": "11 to 15",
    "16_17": "16 and 17",
    "adult": "18 and over",
    NOT_RECORDED: "Not recorded",
}


def _in_period(start: datetime, end: datetime) -> tuple[Any, Any]:
    return Transaction.created_at >= start, Transaction.created_at < end


def partner_minutes(start: datetime, end: datetime) -> dict[int | None, int]:
    """Partner id (``None``: no partner) → minutes of ``spend`` transactions in the period."""
    rows = db.session.execute(
        select(Redemption.partner_id, func.sum(Transaction.amount))
        .select_from(Transaction)
        .outerjoin(
            Redemption,
            and_(
                Redemption.scheme_id == Transaction.scheme_id,
                Redemption.transaction_id == Transaction.id,
            ),
        )
        .where(Transaction.kind == "spend", *_in_period(start, end))
        .group_by(Redemption.partner_id)
    ).all()
    return {
        (None if partner is None else int(partner)): int(minutes or 0)
        for partner, minutes in rows
        if minutes
    }


def earned_by_member(start: datetime, end: datetime) -> dict[int, int]:
    """Member id → minutes credited to them by ``earn`` transactions in the period."""
    rows = db.session.execute(
        select(Account.member_id, func.sum(Posting.amount))
        .select_from(Transaction)
        .join(Posting, posting_transaction())
        .join(Account, posting_account())
        .where(
            Transaction.kind == "earn",
            *_in_period(start, end),
            Posting.amount > 0,
            Account.member_id.is_not(None),
        )
        .group_by(Account.member_id)
    ).all()
    return {int(member): int(minutes) for member, minutes in rows if member is not None and minutes}


def by_partner(minutes: dict[int | None, int]) -> list[dict[str, Any]]:
    """Rows of :func:`partner_minutes`' totals, with the partners' names."""
    names = {
        int(row.id): row.name
        for row in db.session.execute(
            select(Partner.id, Partner.name).where(
                Partner.id.in_([key for key in minutes if key is not None])
            )
        ).all()
    }
    rows = [
        {
            "partner_id": partner,
            "name": SCHEME_REWARDS if partner is None else names.get(partner, ""),
            "minutes": total,
        }
        for partner, total in minutes.items()
    ]
    return sorted(rows, key=lambda row: (-row["minutes"], row["name"], row["partner_id"] or 0))


def by_group(earned: dict[int, int]) -> list[dict[str, Any]]:
    """Every group: members who earned in the period and their minutes."""
    groups = {
        int(row.id): row.name for row in db.session.execute(select(Group.id, Group.name)).all()
    }
    if not groups:
        return []
    totals = {group_id: [0, 0] for group_id in groups}
    for group_id, member_id in db.session.execute(
        select(GroupMember.group_id, GroupMember.member_id)
    ).all():
        minutes = earned.get(int(member_id), 0)
        row = totals.get(int(group_id))
        if row is not None and minutes:
            row[0] += 1
            row[1] += minutes
    rows = [
        {"group_id": group_id, "name": groups[group_id], "members_earning": n, "minutes": m}
        for group_id, (n, m) in totals.items()
    ]
    return sorted(rows, key=lambda row: (-row["minutes"], row["name"], row["group_id"]))


def band_of(date_of_birth: date | None, band: str | None, on: date) -> str:
    if date_of_birth is not None:
        return band_for_age(age_on(date_of_birth, on))
    return band or NOT_RECORDED


def by_age_band(active: set[int], earned: dict[int, int], on: date) -> list[dict[str, Any]]:
    """Active members and minutes earned per band (bands on ``on``); ``[]`` when no
    member of the scheme has an age recorded."""
    recorded = {
        int(row.id): band_of(row.date_of_birth, row.age_band, on)
        for row in db.session.execute(
            select(Member.id, Member.date_of_birth, Member.age_band).where(
                or_(Member.date_of_birth.is_not(None), Member.age_band.is_not(None))
            )
        ).all()
    }
    if not recorded:
        return []
    totals = {band: [0, 0] for band in (*AGE_BANDS, NOT_RECORDED)}
    for member_id in active:
        totals[recorded.get(member_id, NOT_RECORDED)][0] += 1
    for member_id, minutes in earned.items():
        totals[recorded.get(member_id, NOT_RECORDED)][1] += minutes
    return [
        {"band": band, "name": BAND_WORDS[band], "active_members": n, "minutes_earned": m}
        for band, (n, m) in totals.items()
    ]
