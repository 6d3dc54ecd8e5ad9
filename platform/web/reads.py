"""What the pages show: read-only queries, all inside the request's scheme context.

The pages change nothing here: every change goes through a domain service.
These helpers only gather what a page lists (the directory, activities,
claims, a statement page) and put ledger movements into words for people.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, select

from timebank.platform.api.errors import Forbidden, NotFound
from timebank.platform.api.pagination import keyset_page
from timebank.platform.db import db
from timebank.platform.exchange import services as exchange
from timebank.platform.exchange.models import Agreement
from timebank.platform.schemes.models import Scheme
from timebank.tenants.access import Access
from timebank.tenants.earning import services as earning
from timebank.tenants.earning.models import Activity, Claim
from timebank.tenants.ledger import services as ledger
from timebank.tenants.ledger.models import Account, Transaction
from timebank.tenants.memberships import services as memberships
from timebank.tenants.memberships.models import Invitation, Member, MemberImport
from timebank.tenants.spending import services as spending
from timebank.tenants.spending.models import Redemption, Reward

DIRECTORY_LIMIT = 2000


# --- people ---------------------------------------------------------------------------


def directory(access: Access, *, exclude_self: bool = True) -> list[tuple[int, str]] | None:
    """Active members as this caller may see them: ``(member id, name)``; None when hidden."""
    try:
        mode = memberships.directory_names(access)
    except Forbidden:
        return None
    rows = db.session.execute(
        memberships.members_query()
        .where(Member.status == "active")
        .order_by(Member.id)
        .limit(DIRECTORY_LIMIT)
    ).all()
    people = [
        (member.id, memberships.display_name(name, mode))
        for member, name, _email in rows
        if not (exclude_self and member.id == access.member.id)
    ]
    return sorted(people, key=lambda item: item[1].lower())


def members_page(cursor: str | None, limit: int = 50) -> tuple[list[dict[str, Any]], str | None]:
    """Every current member with e-mail, role, status and balance (coordinators)."""
    statement = (
        memberships.members_query()
        .add_columns(Account.balance)
        .outerjoin(
            Account, and_(Account.scheme_id == Member.scheme_id, Account.member_id == Member.id)
        )
    )
    rows, next_cursor = keyset_page(
        statement,
        keys=[Member.id],
        limit=limit,
        cursor=cursor,
        descending=False,
        key_of=lambda row: [row[0].id],
        scalars=False,
    )
    return [
        {
            "member_id": member.id,
            "member_number": member.number,
            "name": name,
            "email": email,
            "role": member.role,
            "status": member.status,
            "balance": balance or 0,
        }
        for member, name, email, balance in rows
    ], next_cursor


def open_invitations(limit: int = 20) -> list[Invitation]:
    return list(
        db.session.execute(
            select(Invitation)
            .where(Invitation.accepted_at.is_(None))
            .order_by(Invitation.id.desc())
            .limit(limit)
        ).scalars()
    )


def recent_imports(limit: int = 5) -> list[MemberImport]:
    return list(
        db.session.execute(
            select(MemberImport).order_by(MemberImport.id.desc()).limit(limit)
        ).scalars()
    )


# --- earning ----------------------------------------------------------------------------


def activities(*, active: bool | None = True) -> list[Activity]:
    statement = earning.activities_query(active=active).order_by(Activity.name)
    return list(db.session.execute(statement).scalars())


def claims(
    *, member_id: int | None = None, status: str | None = None, limit: int = 20
) -> list[dict[str, Any]]:
    """Claims with their activity's and member's names (pending: oldest first)."""
    statement = earning.claims_query(member_id=member_id, status=status)
    order = Claim.id.asc() if status == "pending" else Claim.id.desc()
    rows = list(db.session.execute(statement.order_by(order).limit(limit)).scalars())
    activity_names = dict(
        db.session.execute(
            select(Activity.id, Activity.name).where(
                Activity.id.in_({claim.activity_id for claim in rows})
            )
        ).all()
    )
    names = ledger.member_names(claim.member_id for claim in rows)
    return [
        {
            "claim": claim,
            "activity": activity_names.get(claim.activity_id, ""),
            "member": names.get(claim.member_id, ""),
        }
        for claim in rows
    ]


# --- spending ---------------------------------------------------------------------------


def rewards(
    *,
    active: bool | None = True,
    approved_only: bool = False,
    partner_id: int | None = None,
    area: str | None = None,
) -> list[dict[str, Any]]:
    statement = spending.rewards_query(
        active=active, approved_only=approved_only, partner_id=partner_id, area=area
    ).order_by(Reward.price, Reward.name)
    return [spending.describe_reward(reward) for reward in db.session.execute(statement).scalars()]


def redemptions(
    *, member_id: int | None = None, status: str | None = None, limit: int = 20
) -> list[dict[str, Any]]:
    statement = spending.redemptions_query(member_id=member_id, status=status)
    rows = list(db.session.execute(statement.order_by(Redemption.id.desc()).limit(limit)).scalars())
    described = spending.describe_redemptions(rows)
    names = ledger.member_names(item["member_id"] for item in described)
    for item in described:
        item["member_name"] = names.get(item["member_id"], "")
    return described


def redemption(redemption_id: int, *, member_id: int | None) -> dict[str, Any]:
    """One redemption: the member's own (or any, for ``member_id`` None); else 404."""
    statement = spending.redemptions_query(member_id=member_id).where(
        Redemption.id == redemption_id
    )
    found = db.session.execute(statement).scalar_one_or_none()
    if found is None:
        raise NotFound("No such redemption in this scheme.")
    return spending.describe_redemptions([found])[0]


# --- the ledger in words ----------------------------------------------------------------


def statement_page(
    account_id: int, cursor: str | None, limit: int = 20
) -> tuple[list[dict[str, Any]], str | None]:
    rows, next_cursor = keyset_page(
        ledger.statement_query(account_id),
        keys=[Transaction.id],
        limit=limit,
        cursor=cursor,
        key_of=lambda t: [t.id],
    )
    return describe_for(rows, account_id), next_cursor


def scheme_transactions(
    cursor: str | None, limit: int = 30
) -> tuple[list[dict[str, Any]], str | None]:
    """Every transaction of the scheme, newest first, in words (coordinators)."""
    rows, next_cursor = keyset_page(
        select(Transaction),
        keys=[Transaction.id],
        limit=limit,
        cursor=cursor,
        key_of=lambda t: [t.id],
    )
    return describe_for(rows, None), next_cursor


def describe_for(
    transactions: Sequence[Transaction], account_id: int | None
) -> list[dict[str, Any]]:
    """Transactions as lines for people: what happened, with whom, and the amount for ``account_id``.

    With ``account_id`` None (a coordinator's view of the scheme) the amount is
    the size of the movement and the line names both members.
    """
    described = ledger.describe_transactions(list(transactions))
    member_ids = {
        posting["member_id"]
        for item in described
        for posting in item["postings"]
        if posting["member_id"] is not None
    }
    names = ledger.member_names(member_ids)
    lines = []
    for item in described:
        mine = [p for p in item["postings"] if p["account_id"] == account_id]
        amount = sum(p["amount"] for p in mine) if account_id is not None else item["amount"]
        balance_after = mine[-1]["balance_after"] if mine else None
        lines.append(
            {
                "id": item["id"],
                "kind": item["kind"],
                "created_at": item["created_at"],
                "what": _words(item, account_id, names),
                "memo": item["memo"],
                "amount": amount,
                "balance_after": balance_after,
                "reversed_by_id": item["reversed_by_id"],
                "reverses_id": item["reverses_id"],
            }
        )
    return lines


def _words(item: dict[str, Any], account_id: int | None, names: dict[int, str]) -> str:
    """What a transaction was, in words, seen from ``account_id`` (None: the scheme's view)."""
    if account_id is None:
        return _scheme_words(item, names)
    line = _line_for(item, account_id, names)
    return _MEMBER_WORDS.get(item["kind"], _adjustment_words)(line)


def _scheme_words(item: dict[str, Any], names: dict[int, str]) -> str:
    """A coordinator's line: the kind, then every member involved (or the scheme's accounts)."""
    kind = item["kind"]
    people = [names.get(p["member_id"], "a member") for p in item["postings"] if p["member_id"]]
    who = " → ".join(people) if people else "scheme accounts"
    return f"{_KIND_WORDS.get(kind, kind)}: {who}"


@dataclass(frozen=True)
class _Line:
    """One transaction as one account sees it: what its words are made of."""

    item: dict[str, Any]
    incoming: bool  # the account received minutes
    other: str | None  # the first other member's name
    touches_pot: bool  # the community pot takes part
    memo: str


def _line_for(item: dict[str, Any], account_id: int, names: dict[int, str]) -> _Line:
    postings = item["postings"]
    others = [p for p in postings if p["account_id"] != account_id and p["member_id"] is not None]
    return _Line(
        item=item,
        incoming=any(p["account_id"] == account_id and p["amount"] > 0 for p in postings),
        other=names.get(others[0]["member_id"], "a member") if others else None,
        touches_pot=any(p["account"] == "pot" for p in postings),
        memo=item["memo"] or "",
    )


def _transfer_words(line: _Line) -> str:
    return f"Payment from {line.other}" if line.incoming else f"Payment to {line.other}"


def _gift_words(line: _Line) -> str:
    if line.touches_pot:
        return "Gift from the community pot" if line.incoming else "Gift to the community pot"
    return f"Gift from {line.other}" if line.incoming else f"Gift to {line.other}"


def _earn_words(line: _Line) -> str:
    return f"Hours credited: {line.memo}" if line.memo else "Hours credited"


def _spend_words(line: _Line) -> str:
    return f"Reward: {line.memo}" if line.memo else "Reward"


def _exchange_words(line: _Line) -> str:
    partner = line.item.get("partner_name") or "a partner scheme"
    if line.incoming:
        return f"Payment from a member of {partner}"
    return f"Payment to a member of {partner}"


def _reversal_words(line: _Line) -> str:
    return f"Correction (reverses entry {line.item['reverses_id']})"


def _expiry_words(line: _Line) -> str:
    return "Credits that lapsed"


def _adjustment_words(line: _Line) -> str:
    return f"Adjustment: {line.memo}" if line.memo else "Adjustment"


_MEMBER_WORDS: dict[str, Callable[[_Line], str]] = {
    "transfer": _transfer_words,
    "gift": _gift_words,
    "earn": _earn_words,
    "spend": _spend_words,
    "exchange": _exchange_words,
    "reversal": _reversal_words,
    "expiry": _expiry_words,
}

_KIND_WORDS = {
    "transfer": "Payment",
    "earn": "Hours credited",
    "spend": "Reward",
    "gift": "Gift",
    "exchange": "Payment between schemes",
    "reversal": "Correction",
    "expiry": "Lapsed credits",
    "adjustment": "Adjustment",
}


# --- exchange -------------------------------------------------------------------------


def agreements(scheme: Scheme, *, status: str | None = None) -> list[dict[str, Any]]:
    statement = exchange.agreements_query(scheme, status=status)

    rows = list(db.session.execute(statement.order_by(Agreement.id.desc())).scalars())
    return exchange.describe_agreements(scheme, rows)


def partner_schemes(scheme: Scheme) -> list[dict[str, Any]]:
    """Schemes this one has an active agreement with (members may pay their members)."""
    return agreements(scheme, status="active")
