"""A member's monthly statement: opening balance, every movement, closing balance.

The month is a calendar month in the scheme's time zone. Amounts are minutes;
the template shows them as hours. Reads only, inside the scheme's context.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import render_template
from sqlalchemy import select

from timebank.platform.api.errors import FieldError
from timebank.platform.db import db
from timebank.platform.identity.models import User
from timebank.platform.schemes.models import Scheme
from timebank.tenants.access import get_member
from timebank.tenants.ledger.models import Posting, Transaction, posting_transaction
from timebank.tenants.ledger.services import member_account


def month_bounds(month: str, timezone: str) -> tuple[datetime, datetime]:
    """``2025-02`` → the UTC instants of its first moment and of the next month's."""
    try:
        first = datetime.strptime(month, "%Y-%m").date()
    except ValueError as error:
        raise FieldError("month", "Expected a month as YYYY-MM.") from error
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    zone = ZoneInfo(timezone)
    start = datetime.combine(first, datetime.min.time(), zone).astimezone(UTC)
    end = datetime.combine(following, datetime.min.time(), zone).astimezone(UTC)
    return start, end


def build_statement(scheme: Scheme, member_id: int, month: str) -> dict[str, Any]:
    """The statement's figures and lines (404 for a member of another scheme)."""
    member = get_member(member_id)
    user = db.session.get(User, member.user_id)
    account = member_account(member.id)
    start, end = month_bounds(month, scheme.timezone)
    joined = posting_transaction()
    opening = db.session.execute(
        select(Posting.balance_after)
        .join(Transaction, joined)
        .where(Posting.account_id == account.id, Transaction.created_at < start)
        .order_by(Posting.account_version.desc())
        .limit(1)
    ).scalar_one_or_none()
    rows = db.session.execute(
        select(Posting, Transaction)
        .join(Transaction, joined)
        .where(
            Posting.account_id == account.id,
            Transaction.created_at >= start,
            Transaction.created_at < end,
        )
        .order_by(Posting.account_version)
    ).all()
    zone = ZoneInfo(scheme.timezone)
    lines: list[dict[str, Any]] = [
        {
            "date": transaction.created_at.astimezone(zone).date(),
            "kind": transaction.kind,
            "memo": transaction.memo or "",
            "amount": posting.amount,
            "balance_after": posting.balance_after,
            "transaction_id": transaction.id,
        }
        for posting, transaction in rows
    ]
    opening_balance = int(opening or 0)
    credited = sum(line["amount"] for line in lines if line["amount"] > 0)
    debited = -sum(line["amount"] for line in lines if line["amount"] < 0)
    return {
        "scheme_name": scheme.name,
        "scheme_slug": scheme.slug,
        "member_id": member.id,
        "member_number": member.number,
        "member_name": user.name if user else "",
        "month": month,
        "month_label": datetime.strptime(month, "%Y-%m").strftime("%B %Y"),
        "opening_balance": opening_balance,
        "credited": credited,
        "debited": debited,
        "closing_balance": opening_balance + credited - debited,
        "lines": lines,
        "generated_at": datetime.now(UTC),
    }


def render_statement_html(statement: dict[str, Any]) -> str:
    return render_template("reports/statement.html", **statement)
