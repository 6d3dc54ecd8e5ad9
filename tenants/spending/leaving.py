"""Leaving a scheme: settle the balance to zero, close the account, keep the history.

A member with a positive balance says where it goes: the community pot, or
another active member (a ``gift``; refused with ``peer_transfers_disabled``
where members may not give to each other). A negative balance is for a
coordinator to settle (``POST …/members/{id}/settle``): ``write_off`` clears
it, ``keep_open`` keeps the membership until the member has paid it back.
Then the account is closed (the posting service refuses it from then on), the
member's status is ``left`` and ``left_at`` is set; postings stay for history,
and the member's other schemes are untouched. The last active coordinator
cannot leave. Lock order: member → coordinators → account (as in
``memberships.update_member``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from timebank.platform import audit
from timebank.platform.api.errors import FieldError, NotFound, RuleViolation
from timebank.platform.db import atomic, db
from timebank.platform.schemes.models import Scheme
from timebank.tenants.ledger.credit_mail import notify_credit
from timebank.tenants.ledger.locking import lock_accounts
from timebank.tenants.ledger.models import Account, Transaction
from timebank.tenants.ledger.services import (
    Leg,
    format_minutes,
    member_account,
    post_transaction,
    resolve_payee,
    scheme_account,
)
from timebank.tenants.memberships.models import Member
from timebank.tenants.memberships.services import coordinator_count
from timebank.tenants.spending.gifts import check_peer_rules


@atomic
def leave_scheme(
    scheme: Scheme,
    member_id: int,
    *,
    balance_to: int | str | None,
    memo: str | None = None,
    actor_user_id: int,
) -> dict[str, Any]:
    """The member leaves; a positive balance goes to ``balance_to`` ("pot" or a member id).

    Raises 422: ``balance_to`` missing or not a member (validation error),
    ``negative_balance_needs_coordinator``, ``last_coordinator``,
    ``peer_transfers_disabled``; and what the posting service refuses.
    """
    member = _lock_member(member_id)
    _ensure_not_last_coordinator(member)
    account = _lock_account(member.scheme_id, member.id)
    transaction = None
    if account.balance < 0:
        raise RuleViolation(
            f"Your balance in {scheme.name} is {format_minutes(account.balance)}: "
            "a coordinator needs to settle it before you can leave.",
            code="negative_balance_needs_coordinator",
            extra={"balance": account.balance},
        )
    if account.balance > 0:
        if balance_to is None:
            raise FieldError(
                "balance_to",
                f"You have {format_minutes(account.balance)} left: give them to the "
                '"pot" or to another member (their member id).',
            )
        transaction = _hand_over(scheme, member, account, balance_to, memo, actor_user_id)
    return _close(scheme, member, account, transaction, actor_user_id, "member.left")


@atomic
def settle_member(
    scheme: Scheme,
    member_id: int,
    *,
    action: str,
    memo: str | None = None,
    actor_user_id: int,
) -> dict[str, Any]:
    """A coordinator settles a member's account and removes them, or keeps them on.

    ``write_off``: a negative balance is cleared by an ``adjustment`` from the
    scheme's ``issuance`` account — not from the pot, which can never go below
    zero and so could not absorb a debt it does not hold; a positive balance
    goes to the pot as a ``gift``. Then the member is removed. ``keep_open``
    records the decision and changes nothing else: the member stays until the
    balance is back to zero. 404 for a member who has left; 422
    ``last_coordinator``.
    """
    member = _lock_member(member_id)
    account = _lock_account(member.scheme_id, member.id)
    if action == "keep_open":
        audit.record(
            scheme.id,
            "member.kept_open",
            actor_user_id=actor_user_id,
            target=f"member:{member.id}",
            details={"balance": account.balance, "memo": memo},
        )
        return _outcome(member, account, None)
    _ensure_not_last_coordinator(member)
    transaction = None
    if account.balance < 0:
        issuance = scheme_account("issuance")
        transaction = post_transaction(
            scheme,
            kind="adjustment",
            legs=[Leg(issuance.id, account.balance), Leg(account.id, -account.balance)],
            actor_user_id=actor_user_id,
            memo=memo or "Debt written off when the member left",
        ).transaction
    elif account.balance > 0:
        transaction = _to_pot(
            scheme, account, memo or "Balance given to the pot on leaving", actor_user_id
        )
    return _close(scheme, member, account, transaction, actor_user_id, "member.removed")


def _hand_over(
    scheme: Scheme,
    member: Member,
    account: Account,
    balance_to: int | str,
    memo: str | None,
    actor_user_id: int,
) -> Transaction:
    if balance_to == "pot":
        return _to_pot(
            scheme, account, memo or "Balance given to the pot on leaving", actor_user_id
        )
    payee = resolve_payee("balance_to", int(balance_to), payer=member)
    check_peer_rules(scheme, None)  # the cap on single gifts does not apply to a farewell
    payee_account = member_account(payee.id)
    amount = account.balance
    transaction = post_transaction(
        scheme,
        kind="gift",
        legs=[Leg(account.id, -amount), Leg(payee_account.id, amount)],
        actor_user_id=actor_user_id,
        memo=memo or "Balance given on leaving",
        names={account.id: "Your balance", payee_account.id: "The recipient's balance"},
    ).transaction
    notify_credit(
        scheme,
        member_id=payee.id,
        kind="gifted",
        amount=amount,
        transaction_id=transaction.id,
        from_member_id=member.id,
    )
    return transaction


def _to_pot(scheme: Scheme, account: Account, memo: str, actor_user_id: int) -> Transaction:
    pot = scheme_account("pot")
    return post_transaction(
        scheme,
        kind="gift",
        legs=[Leg(account.id, -account.balance), Leg(pot.id, account.balance)],
        actor_user_id=actor_user_id,
        memo=memo,
    ).transaction


def _lock_member(member_id: int) -> Member:
    member = db.session.execute(
        select(Member)
        .where(Member.id == member_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if member is None or member.status == "left":
        raise NotFound("No member with this id in this scheme.")
    return member


def _lock_account(scheme_id: int, member_id: int) -> Account:
    account = lock_accounts(scheme_id, member_ids=(member_id,)).of_member(member_id)
    assert account is not None  # every member has an account
    return account


def _ensure_not_last_coordinator(member: Member) -> None:
    if not member.is_coordinator:
        return
    # Lock every coordinator row so two departures cannot both pass the check.
    db.session.execute(
        select(Member.id).where(Member.role == "coordinator").with_for_update()
    ).all()
    if coordinator_count() <= 1:
        raise RuleViolation(
            "A scheme needs at least one active coordinator: appoint another before leaving.",
            code="last_coordinator",
        )


def _close(
    scheme: Scheme,
    member: Member,
    account: Account,
    transaction: Transaction | None,
    actor_user_id: int,
    action: str,
) -> dict[str, Any]:
    if account.balance != 0:  # pragma: no cover - the postings above settle it
        raise RuntimeError("an account is closed only at zero")
    account.status = "closed"
    member.status = "left"
    member.left_at = datetime.now(UTC)
    audit.record(
        scheme.id,
        action,
        actor_user_id=actor_user_id,
        target=f"member:{member.id}",
        details={"transaction_id": transaction.id if transaction else None},
    )
    return _outcome(member, account, transaction)


def _outcome(member: Member, account: Account, transaction: Transaction | None) -> dict[str, Any]:
    return {
        "member_id": member.id,
        "status": member.status,
        "left_at": member.left_at,
        "balance": account.balance,
        "account_status": account.status,
        "transaction_id": transaction.id if transaction else None,
    }
