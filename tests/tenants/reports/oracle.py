"""The impact report's figures computed the slow, obvious way: every row of the ledger,
claims and awards read into Python and counted by hand (docs/api.md's definitions)."""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask
from sqlalchemy import select

from timebank.platform import tenancy
from timebank.platform.db import db
from timebank.tenants.earning.models import Award, Claim
from timebank.tenants.groups.models import Group, GroupMember
from timebank.tenants.ledger.models import Account, Posting, Transaction
from timebank.tenants.memberships.models import Member
from timebank.tenants.spending.models import Redemption


def load(app: Flask, scheme_id: int) -> dict[str, Any]:
    with app.app_context(), tenancy.scheme_context(scheme_id):
        data = {
            "transactions": {
                row.id: (row.kind, row.amount, row.created_at)
                for row in db.session.execute(select(Transaction)).scalars()
            },
            "postings": [
                (row.transaction_id, row.account_id, row.amount)
                for row in db.session.execute(select(Posting)).scalars()
            ],
            "members_of_accounts": {
                row.id: row.member_id for row in db.session.execute(select(Account)).scalars()
            },
            "claims": [
                (row.activity_id, row.transaction_id)
                for row in db.session.execute(select(Claim)).scalars()
            ],
            "awards": [
                (row.activity_id, row.credited_minutes * row.member_count, row.created_at)
                for row in db.session.execute(select(Award)).scalars()
            ],
            "joined": [row.joined_at for row in db.session.execute(select(Member)).scalars()],
            "partner_of_transaction": {
                row.transaction_id: row.partner_id
                for row in db.session.execute(select(Redemption)).scalars()
            },
            "groups": [row.id for row in db.session.execute(select(Group)).scalars()],
            "group_members": [
                (row.group_id, row.member_id)
                for row in db.session.execute(select(GroupMember)).scalars()
            ],
            "ages": {
                row.id: (row.date_of_birth, row.age_band)
                for row in db.session.execute(select(Member)).scalars()
            },
        }
        db.session.rollback()
    return data


def figures(data: dict[str, Any], zone: str, first: date, last: date) -> dict[str, Any]:
    tz = ZoneInfo(zone)

    def inside(moment: Any) -> bool:
        return first <= moment.astimezone(tz).date() <= last

    kinds: dict[str, list[int]] = {}
    for kind, amount, created_at in data["transactions"].values():
        if inside(created_at):
            kinds.setdefault(kind, []).append(amount)
    active: set[int] = set()
    helped: set[int] = set()
    helping: set[int] = set()
    for transaction_id, account_id, amount in data["postings"]:
        kind, _amount, created_at = data["transactions"][transaction_id]
        member = data["members_of_accounts"][account_id]
        if member is None or not inside(created_at):
            continue
        active.add(member)
        if kind == "transfer" and amount < 0:
            helped.add(member)
        if kind in ("transfer", "earn") and amount > 0:
            helping.add(member)
    activities: dict[int, int] = {}
    for activity_id, transaction_id in data["claims"]:
        if transaction_id is None:
            continue
        _kind, amount, created_at = data["transactions"][transaction_id]
        if inside(created_at):
            activities[activity_id] = activities.get(activity_id, 0) + amount
    for activity_id, minutes, created_at in data["awards"]:
        if inside(created_at) and minutes:
            activities[activity_id] = activities.get(activity_id, 0) + minutes
    return {
        "active_members": len(active),
        "new_members": sum(1 for joined in data["joined"] if inside(joined)),
        "minutes_earned": sum(kinds.get("earn", [])),
        "minutes_spent": sum(kinds.get("spend", [])),
        "minutes_transferred": sum(kinds.get("transfer", [])),
        "exchanges": len(kinds.get("transfer", [])),
        "people_helped": len(helped),
        "people_helping": len(helping),
        "activities": {key: value for key, value in activities.items() if value},
    }


def active_in(data: dict[str, Any], zone: str, first: date, last: date) -> set[int]:
    tz = ZoneInfo(zone)
    members = set()
    for transaction_id, account_id, _amount in data["postings"]:
        member = data["members_of_accounts"][account_id]
        created_at = data["transactions"][transaction_id][2]
        if member is not None and first <= created_at.astimezone(tz).date() <= last:
            members.add(member)
    return members


def _band(date_of_birth: date | None, band: str | None, on: date) -> str:
    if date_of_birth is None:
        return band or "not_recorded"
    age = on.year - date_of_birth.year
    if (on.month, on.day) < (date_of_birth.month, date_of_birth.day):
        age -= 1
    return "under_11" if age <= 10 else "11_15" if age <= 15 else "16_17" if age <= 17 else "adult"


def breakdowns(data: dict[str, Any], zone: str, first: date, last: date) -> dict[str, Any]:
    """By partner (minutes of spends), by group and by age band (earn credits, active)."""
    tz = ZoneInfo(zone)

    def inside(moment: Any) -> bool:
        return first <= moment.astimezone(tz).date() <= last

    partners: dict[int | None, int] = {}
    for transaction_id, (kind, amount, created_at) in data["transactions"].items():
        if kind == "spend" and inside(created_at):
            partner = data["partner_of_transaction"].get(transaction_id)
            partners[partner] = partners.get(partner, 0) + amount
    earned: dict[int, int] = {}
    active: set[int] = set()
    for transaction_id, account_id, amount in data["postings"]:
        kind, _amount, created_at = data["transactions"][transaction_id]
        member = data["members_of_accounts"][account_id]
        if member is None or not inside(created_at):
            continue
        active.add(member)
        if kind == "earn" and amount > 0:
            earned[member] = earned.get(member, 0) + amount
    groups: dict[int, tuple[int, int]] = {group_id: (0, 0) for group_id in data["groups"]}
    for group_id, member in data["group_members"]:
        count, minutes = groups.get(group_id, (0, 0))
        if earned.get(member):
            count, minutes = count + 1, minutes + earned[member]
        groups[group_id] = (count, minutes)
    bands: dict[str, tuple[int, int]] = {}
    if any(dob is not None or band is not None for dob, band in data["ages"].values()):
        for name in ("under_11", "11_15", "16_17", "adult", "not_recorded"):
            bands[name] = (0, 0)
        for member in active | set(earned):
            name = _band(*data["ages"].get(member, (None, None)), last)
            count, minutes = bands[name]
            bands[name] = (count + (member in active), minutes + earned.get(member, 0))
    return {
        "partners": {key: value for key, value in partners.items() if value},
        "groups": groups,
        "age_bands": bands,
    }
