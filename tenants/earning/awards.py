"""Bulk awards: a coordinator credits one activity to many members at once.

A clean-up day or a court session: one ``earn`` transaction per member, all or
none, written through the ledger's bulk path (``post_many``: one lock query,
one statement per table), so a thousand members take a fraction of a second.
Any listed id that is not an active member of this scheme refuses the whole
award with a 422 on ``member_ids.<index>``. Awards are coordinator decisions:
the policy's claim cap does not apply.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from timebank.platform import audit
from timebank.platform.api.errors import ApiError
from timebank.platform.db import atomic, db
from timebank.platform.schemes.models import Scheme
from timebank.tenants.earning.models import Award
from timebank.tenants.earning.services import credit_for, resolve_activity, scheme_today
from timebank.tenants.ledger.credit_mail import notify_credit
from timebank.tenants.ledger.models import Account
from timebank.tenants.ledger.services import Leg, member_names, post_many, scheme_account
from timebank.tenants.memberships.models import Member
from timebank.tenants.policy import minors


@dataclass
class AwardResult:
    award: Award
    transactions: list[dict[str, Any]]  # described (``describe_transactions``'s shape)


@atomic
def award(
    scheme: Scheme,
    *,
    activity_id: int,
    minutes: int,
    member_ids: Sequence[int],
    note: str | None,
    actor_user_id: int,
) -> AwardResult:
    """Credit one activity to many members: one ``earn`` transaction each, all or none.

    Any id that is listed twice or is not an active member of this scheme is a
    422 on ``member_ids.<index>`` and nothing is written. Not capped.
    """
    activity = resolve_activity("activity_id", activity_id)
    credited = credit_for(minutes, activity)
    accounts = _award_accounts(member_ids)
    minors.check_may_earn(
        scheme,
        member_ids,
        activity,
        field="member_ids",
        performed_on=scheme_today(scheme),
        minutes=credited,
    )
    issuance = scheme_account("issuance")
    row = Award(
        scheme_id=scheme.id,
        activity_id=activity.id,
        minutes=minutes,
        credited_minutes=credited,
        member_count=len(member_ids),
        note=note,
        created_by=actor_user_id,
    )
    db.session.add(row)
    db.session.flush()
    names = {accounts[m]: f"{name}'s balance" for m, name in member_names(member_ids).items()}
    transactions = post_many(
        scheme,
        kind="earn",
        entries=[
            [Leg(issuance.id, -credited), Leg(accounts[member_id], credited)]
            for member_id in member_ids
        ],
        actor_user_id=actor_user_id,
        memo=f"{activity.name}: {note}"[:500] if note else activity.name,
        names=names,
    )
    for member_id, described in zip(member_ids, transactions, strict=True):
        notify_credit(
            scheme,
            member_id=member_id,
            kind="awarded",
            amount=credited,
            transaction_id=described["id"],
            activity_id=activity.id,
        )
    audit.record(
        scheme.id,
        "award.created",
        actor_user_id=actor_user_id,
        target=f"award:{row.id}",
        details={
            "activity_id": activity.id,
            "minutes": minutes,
            "credited_minutes": credited,
            "member_count": len(member_ids),
            "first_transaction_id": transactions[0]["id"],
            "last_transaction_id": transactions[-1]["id"],
        },
    )
    return AwardResult(award=row, transactions=transactions)


@atomic
def award_each(
    scheme: Scheme,
    *,
    credits: Sequence[tuple[int, int]],
    memo: str,
    actor_user_id: int,
    target: str,
) -> list[dict[str, Any]]:
    """Credit many members each their own minutes: one ``earn`` each, all or none.

    The bulk-award path for awards whose amount differs per member (a court
    sitting's roles). ``credits`` is ``(member_id, minutes)`` pairs; a member
    who cannot receive credits refuses the whole award (422 on
    ``member_ids.<index>``, or a minors' rule: ``guardian_consent_required``,
    ``minor_daily_limit``). Joins the caller's unit of work.
    """
    member_ids = [member_id for member_id, _minutes in credits]
    accounts = _award_accounts(member_ids)
    minors.check_may_be_credited(scheme, credits)
    issuance = scheme_account("issuance")
    names = {accounts[m]: f"{name}'s balance" for m, name in member_names(member_ids).items()}
    transactions = post_many(
        scheme,
        kind="earn",
        entries=[
            [Leg(issuance.id, -minutes), Leg(accounts[member_id], minutes)]
            for member_id, minutes in credits
        ],
        actor_user_id=actor_user_id,
        memo=memo[:500],
        names=names,
    )
    if transactions:
        audit.record(
            scheme.id,
            "award.created",
            actor_user_id=actor_user_id,
            target=target,
            details={
                "member_count": len(credits),
                "credited_minutes": sum(minutes for _member_id, minutes in credits),
                "first_transaction_id": transactions[0]["id"],
                "last_transaction_id": transactions[-1]["id"],
            },
        )
    return transactions


def _award_accounts(member_ids: Sequence[int]) -> dict[int, int]:
    """Member id → account id for every listed member, or a 422 naming each bad index."""
    errors: dict[str, list[str]] = {}
    first_seen: dict[int, int] = {}
    for index, member_id in enumerate(member_ids):
        if member_id in first_seen:
            errors[f"member_ids.{index}"] = [
                f"Member {member_id} is listed twice (also at {first_seen[member_id]})."
            ]
        else:
            first_seen[member_id] = index
    rows = db.session.execute(
        select(Member.id, Member.status, Account.id, Account.status)
        .join(Account, (Account.scheme_id == Member.scheme_id) & (Account.member_id == Member.id))
        .where(Member.id.in_(list(first_seen)))
    ).all()
    found = {
        member_id: (status, account_id, open_) for member_id, status, account_id, open_ in rows
    }
    for member_id, index in first_seen.items():
        status, _account_id, account_status = found.get(member_id, (None, None, None))
        if status is None or status == "left":
            errors[f"member_ids.{index}"] = [f"No member with id {member_id} in this scheme."]
        elif status != "active" or account_status != "open":
            errors[f"member_ids.{index}"] = [
                f"Member {member_id} cannot receive credits at the moment."
            ]
    if errors:
        ordered = sorted(errors.items(), key=lambda item: int(item[0].rsplit(".", 1)[1]))
        parts = " ".join(f"{key}: {messages[0]}" for key, messages in ordered)
        raise ApiError(
            "Nobody was credited. " + parts,
            code="validation_error",
            status=422,
            errors=errors,
        )
    return {member_id: account_id for member_id, (_s, account_id, _a) in found.items()}
