"""What partners honoured: statements (per day, per offer, CSV), the coordinator's
report of every partner for a period, settlements, and the monthly statements.

A period is ``from``..``to`` inclusive, dates in the scheme's time zone. A
settlement takes credits back from a partner's account into the scheme's
``issuance`` account (an ``adjustment`` through the posting service) and may
record the money per hour a funder pays for them.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from timebank.platform import audit
from timebank.platform.api import spreadsheet
from timebank.platform.db import atomic, db
from timebank.platform.schemes.models import Scheme
from timebank.tenants.ledger.services import Leg, partner_account, post_transaction, scheme_account
from timebank.tenants.partners.models import Partner, PartnerSettlement, PartnerStatement
from timebank.tenants.spending.models import Redemption, Reward


def period_dates(scheme: Scheme, start: date | None, end: date | None) -> tuple[date, date]:
    """The period's first and last day (default: this month so far, in the scheme's zone)."""
    today = datetime.now(ZoneInfo(scheme.timezone)).date()
    return start or today.replace(day=1), end or today


def bounds(scheme: Scheme, start: date | None, end: date | None) -> tuple[datetime, datetime]:
    """UTC instants of ``start`` 00:00 and the day after ``end`` (default: this month)."""
    zone = ZoneInfo(scheme.timezone)
    start, end = period_dates(scheme, start, end)
    low = datetime.combine(start, time.min, zone).astimezone(UTC)
    high = datetime.combine(end + timedelta(days=1), time.min, zone).astimezone(UTC)
    return low, high


def honoured_query(partner_id: int, low: datetime, high: datetime) -> Any:
    """The partner's fulfilled redemptions in ``[low, high)``, with the offer's name."""
    return (
        select(Redemption, Reward.name)
        .join(
            Reward, (Reward.scheme_id == Redemption.scheme_id) & (Reward.id == Redemption.reward_id)
        )
        .where(
            Redemption.partner_id == partner_id,
            Redemption.status == "fulfilled",
            Redemption.decided_at >= low,
            Redemption.decided_at < high,
        )
    )


def describe_line(redemption: Redemption, reward_name: str) -> dict[str, Any]:
    return {
        "redemption_id": redemption.id,
        "reward": reward_name,
        "reward_id": redemption.reward_id,
        "quantity": redemption.quantity,
        "minutes": redemption.total,
        "fulfilled_at": redemption.decided_at,
    }


def summary(scheme: Scheme, partner_id: int, low: datetime, high: datetime) -> dict[str, Any]:
    """Totals of the period, per day (scheme's dates) and per offer."""
    zone = ZoneInfo(scheme.timezone)
    by_day: dict[date, list[int]] = {}
    by_offer: dict[str, list[int]] = {}
    total = 0
    for redemption, name in db.session.execute(honoured_query(partner_id, low, high)).all():
        assert redemption.decided_at is not None
        day = redemption.decided_at.astimezone(zone).date()
        for bucket, key in ((by_day, day), (by_offer, name)):
            counts = bucket.setdefault(key, [0, 0])  # type: ignore[attr-defined]
            counts[0] += redemption.quantity
            counts[1] += redemption.total
        total += redemption.total
    return {
        "total_minutes": total,
        "by_day": [
            {"date": day, "quantity": q, "minutes": m} for day, (q, m) in sorted(by_day.items())
        ],
        "by_offer": [
            {"reward": name, "quantity": q, "minutes": m}
            for name, (q, m) in sorted(by_offer.items())
        ],
    }


CSV_HEADER = ["date", "offer", "quantity", "hours", "minutes"]


def _hours(minutes: int) -> str:
    return f"{minutes // 60}:{minutes % 60:02d}"


def statement_csv(scheme: Scheme, partner_id: int, low: datetime, high: datetime) -> str:
    """Per day and per offer: one row each, then a total row."""
    zone = ZoneInfo(scheme.timezone)
    rows: dict[tuple[date, str], list[int]] = {}
    for redemption, name in db.session.execute(honoured_query(partner_id, low, high)).all():
        assert redemption.decided_at is not None
        key = (redemption.decided_at.astimezone(zone).date(), name)
        counts = rows.setdefault(key, [0, 0])
        counts[0] += redemption.quantity
        counts[1] += redemption.total
    stream = io.StringIO()
    out = spreadsheet.writer(stream)
    out.writerow(CSV_HEADER)
    total = 0
    for (day, name), (quantity, minutes) in sorted(rows.items()):
        out.writerow([day.isoformat(), name, quantity, _hours(minutes), minutes])
        total += minutes
    out.writerow(["total", "", sum(q for q, _ in rows.values()), _hours(total), total])
    return stream.getvalue()


def partner_report(scheme: Scheme, low: datetime, high: datetime) -> list[dict[str, Any]]:
    """Every partner's figures for the period (the coordinator's report)."""
    honoured = dict(
        (partner_id, (count, minutes))
        for partner_id, count, minutes in db.session.execute(
            select(Redemption.partner_id, func.count(), func.sum(Redemption.total))
            .where(
                Redemption.partner_id.is_not(None),
                Redemption.status == "fulfilled",
                Redemption.decided_at >= low,
                Redemption.decided_at < high,
            )
            .group_by(Redemption.partner_id)
        ).all()
    )
    issued = dict(
        db.session.execute(
            select(Redemption.partner_id, func.sum(Redemption.total))
            .where(
                Redemption.partner_id.is_not(None),
                Redemption.status != "cancelled",
                Redemption.created_at >= low,
                Redemption.created_at < high,
            )
            .group_by(Redemption.partner_id)
        ).all()
    )
    settled = dict(
        db.session.execute(
            select(PartnerSettlement.partner_id, func.sum(PartnerSettlement.minutes))
            .where(PartnerSettlement.created_at >= low, PartnerSettlement.created_at < high)
            .group_by(PartnerSettlement.partner_id)
        ).all()
    )
    partners = db.session.execute(select(Partner).order_by(Partner.name)).scalars()
    report = []
    for partner in partners:
        count, minutes = honoured.get(partner.id, (0, 0))
        report.append(
            {
                "partner_id": partner.id,
                "name": partner.name,
                "status": partner.status,
                "redeemed_minutes": int(issued.get(partner.id) or 0),
                "honoured": int(count),
                "honoured_minutes": int(minutes or 0),
                "settled_minutes": int(settled.get(partner.id) or 0),
                "balance": partner_account(partner.id).balance,
            }
        )
    return report


@atomic
def settle(
    scheme: Scheme,
    partner: Partner,
    *,
    minutes: int,
    money_value: Decimal | None,
    note: str | None,
    actor_user_id: int,
    idempotency_key: str | None = None,
) -> PartnerSettlement:
    """Take ``minutes`` back from the partner's account into the scheme.

    Raises 422 ``insufficient_balance`` when the partner holds less."""
    account = partner_account(partner.id)
    issuance = scheme_account("issuance")
    posted = post_transaction(
        scheme,
        kind="adjustment",
        legs=[Leg(account.id, -minutes), Leg(issuance.id, minutes)],
        actor_user_id=actor_user_id,
        memo=f"Settlement with {partner.name}",
        names={account.id: f"{partner.name}'s account"},
    )
    settlement = PartnerSettlement(
        scheme_id=scheme.id,
        partner_id=partner.id,
        minutes=minutes,
        money_value=str(money_value) if money_value is not None else None,
        note=note,
        transaction_id=posted.id,
        created_by=actor_user_id,
    )
    db.session.add(settlement)
    db.session.flush()
    audit.record(
        scheme.id,
        "partner.settled",
        actor_user_id=actor_user_id,
        target=f"partner:{partner.id}",
        details={"minutes": minutes, "money_value": settlement.money_value},
    )
    return settlement


def parse_money(form: Any, raw: str | None) -> Decimal | None:
    """A money value per hour typed in a form ("12.50"), or an error on ``money_value``."""
    if raw is None:
        return None
    try:
        value = Decimal(raw.replace(",", "."))
    except ArithmeticError:
        value = Decimal(-1)
    if not value.is_finite() or value < 0 or value > 1_000_000:
        form.add("money_value", "Enter an amount of money like 12.50, or leave it empty.")
        return None
    return value.quantize(Decimal("0.01"))


def describe_settlement(settlement: PartnerSettlement) -> dict[str, Any]:
    return {
        "id": settlement.id,
        "partner_id": settlement.partner_id,
        "transaction_id": settlement.transaction_id,
        "minutes": settlement.minutes,
        "money_value": settlement.money_value,
        "note": settlement.note,
        "created_at": settlement.created_at,
    }


@atomic
def write_monthly(scheme: Scheme, first: date) -> list[tuple[int, str]]:
    """Record every partner's figures for the month starting ``first`` (once: a re-run
    keeps the rows); the partners' ids and their statements as CSV."""
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    low, high = bounds(scheme, first, following - timedelta(days=1))
    written: list[tuple[int, str]] = []
    for partner in _partners(db.session.execute(select(Partner).order_by(Partner.id)).scalars()):
        figures = summary(scheme, partner.id, low, high)
        exists = db.session.execute(
            select(PartnerStatement.id).where(
                PartnerStatement.partner_id == partner.id, PartnerStatement.period_start == first
            )
        ).first()
        if exists is None:
            db.session.add(
                PartnerStatement(
                    scheme_id=scheme.id,
                    partner_id=partner.id,
                    period_start=first,
                    period_end=following - timedelta(days=1),
                    honoured=sum(day["quantity"] for day in figures["by_day"]),
                    total_minutes=figures["total_minutes"],
                )
            )
        written.append((partner.id, statement_csv(scheme, partner.id, low, high)))
    return written


def _partners(partners: Iterable[Partner]) -> list[Partner]:
    return list(partners)
