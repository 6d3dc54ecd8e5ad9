"""The ledger's operations: accounts, peer transfers, reversals, statements.

Every write goes through the posting service in :mod:`.posting` (its names
are handed on from here, so callers import the ledger from one place):
earning, spending and the exchange call it with their own legs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from sqlalchemy import and_, select

from timebank.platform import audit
from timebank.platform.api.errors import FieldError, NotFound, RuleViolation
from timebank.platform.db import atomic, db
from timebank.platform.identity.models import User
from timebank.platform.schemes.models import Scheme
from timebank.tenants.ledger.credit_mail import notify_credit
from timebank.tenants.ledger.models import (
    SCHEME_ACCOUNT_KINDS,
    Account,
    Posting,
    Transaction,
    posting_account,
    posting_transaction,
)
from timebank.tenants.ledger.posting import (
    MAX_AMOUNT,
    Leg,
    Posted,
    effective_limits,
    format_minutes,
    lock_accounts,
    post_many,
    post_transaction,
)
from timebank.tenants.ledger.rules import check_transfer
from timebank.tenants.memberships.models import Member
from timebank.tenants.policy import minors
from timebank.tenants.policy.services import current_policy

__all__ = [  # the posting service's names, handed on
    "MAX_AMOUNT",
    "Leg",
    "Posted",
    "effective_limits",
    "format_minutes",
    "lock_accounts",
    "post_many",
    "post_transaction",
]

# --- accounts ---------------------------------------------------------------


def open_scheme_accounts(scheme_id: int) -> None:
    """Open the scheme's own accounts (inside the caller's unit of work)."""
    for kind in SCHEME_ACCOUNT_KINDS:
        # The community pot can only give what it holds.
        db.session.add(
            Account(scheme_id=scheme_id, kind=kind, min_balance=0 if kind == "pot" else None)
        )


def open_member_account(scheme_id: int, member_id: int) -> Account:
    existing = db.session.execute(
        select(Account).where(Account.member_id == member_id)
    ).scalar_one_or_none()
    if existing is not None:
        existing.status = "open"
        return existing
    account = Account(scheme_id=scheme_id, kind="member", member_id=member_id)
    db.session.add(account)
    db.session.flush()
    return account


def member_account(member_id: int) -> Account:
    account = db.session.execute(
        select(Account).where(Account.member_id == member_id)
    ).scalar_one_or_none()
    if account is None:
        raise NotFound("This member has no account in this scheme.")
    return account


def scheme_account(kind: str) -> Account:
    return db.session.execute(select(Account).where(Account.kind == kind)).scalar_one()


def open_partner_account(scheme_id: int, partner_id: int) -> Account:
    """A partner's own account: what members spend at its counter, never below zero."""
    account = Account(scheme_id=scheme_id, kind="partner", partner_id=partner_id, min_balance=0)
    db.session.add(account)
    db.session.flush()
    return account


def partner_account(partner_id: int) -> Account:
    return db.session.execute(
        select(Account).where(Account.kind == "partner", Account.partner_id == partner_id)
    ).scalar_one()


# --- transfers, gifts, reversals -------------------------------------------


def resolve_payee(field: str, member_id: int, *, payer: Member | None = None) -> Member:
    """A member of this scheme who can receive credits, or a 422 on ``field``."""
    payee = db.session.execute(select(Member).where(Member.id == member_id)).scalar_one_or_none()
    check_payee(field, member_id, None if payee is None else payee.status, payer=payer)
    assert payee is not None
    return payee


def check_payee(field: str, member_id: int, status: str | None, *, payer: Member | None) -> None:
    """Refuse (422 on ``field``) a payee that is missing (``status`` None), gone, the
    payer, or not active."""
    if status is None or status == "left":
        raise FieldError(field, "No member with this id in this scheme.")
    if payer is not None and member_id == payer.id:
        raise FieldError(field, "You cannot pay yourself.")
    if status != "active":
        raise FieldError(field, "This member cannot receive credits at the moment.")


def member_names(member_ids: Iterable[int]) -> dict[int, str]:
    """Members' names (of the current scheme) in one query."""
    ids = sorted(set(member_ids))
    if not ids:
        return {}
    rows = db.session.execute(
        select(Member.id, User.name).join(User, User.id == Member.user_id).where(Member.id.in_(ids))
    )
    return {member_id: name for member_id, name in rows}


@atomic
def post_transfer(
    scheme: Scheme,
    payer: Member,
    *,
    to_member_id: int,
    amount: int,
    memo: str | None,
    actor_user_id: int,
) -> Posted:
    """A member pays another member of the same scheme."""
    policy = current_policy(scheme)
    # One query: both accounts locked (id order) with the payee's membership.
    locked = lock_accounts(scheme.id, member_ids=(payer.id, to_member_id), rows=True)
    accounts = {row.member_id: row for row in locked.by_id.values()}
    check_payee("to_member_id", to_member_id, locked.member_status.get(to_member_id), payer=payer)
    check_transfer(policy, scheme.name, amount)
    minors.check_minor_transfer(scheme, payer, to_member_id)
    payer_account, payee_account = accounts[payer.id], accounts[to_member_id]
    posted = post_transaction(
        scheme,
        kind="transfer",
        legs=[Leg(payer_account.id, -amount), Leg(payee_account.id, amount)],
        actor_user_id=actor_user_id,
        memo=memo,
        names={payer_account.id: "Your balance", payee_account.id: "The payee's balance"},
        locked=locked.by_id,
    )
    notify_credit(
        scheme,
        member_id=to_member_id,
        kind="paid",
        amount=amount,
        transaction_id=posted.id,
        from_member_id=payer.id,
    )
    return posted


class CrossSchemePayer(Protocol):
    def __call__(
        self,
        scheme: Scheme,
        member: Member,
        *,
        to_scheme: str,
        to_member_id: int,
        amount: int,
        memo: str | None,
        actor_user_id: int,
    ) -> dict[str, Any]: ...


# Paying a member of another scheme goes through an exchange agreement, a layer
# above the ledger: the exchange registers its payer here when it is loaded.
_cross_scheme_payers: list[CrossSchemePayer] = []


def register_cross_scheme_payer(payer: CrossSchemePayer) -> None:
    _cross_scheme_payers[:] = [payer]


def pay_across_schemes(
    scheme: Scheme,
    member: Member,
    *,
    to_scheme: str,
    to_member_id: int,
    amount: int,
    memo: str | None,
    actor_user_id: int,
) -> dict[str, Any]:
    """Pay a member of a partner scheme (``to_scheme``); the payer's leg, described."""
    if not _cross_scheme_payers:
        raise FieldError("to_scheme", "Payments to other schemes are not available here.")
    return _cross_scheme_payers[0](
        scheme,
        member,
        to_scheme=to_scheme,
        to_member_id=to_member_id,
        amount=amount,
        memo=memo,
        actor_user_id=actor_user_id,
    )


@atomic
def reverse_transaction(
    scheme: Scheme, transaction_id: int, *, actor_user_id: int, memo: str | None = None
) -> Posted:
    """Post the mirror legs of a transaction; refuses a second reversal or a reversal's."""
    original = get_transaction(transaction_id)
    if original.kind == "reversal":
        raise RuleViolation("A reversal cannot itself be reversed.", code="cannot_reverse_reversal")
    if original.kind == "exchange":
        raise RuleViolation(
            "A payment between schemes cannot be reversed in one ledger; "
            "ask the payee to pay it back.",
            code="cannot_reverse_exchange",
        )
    legs = db.session.execute(
        select(Posting.account_id, Posting.amount)
        .where(Posting.transaction_id == original.id)
        .order_by(Posting.id)
    ).all()
    mirror = [Leg(account_id, -amount) for account_id, amount in legs]
    lock_accounts(scheme.id, account_ids=(leg.account_id for leg in mirror))
    # Checked after the locks: a concurrent reversal has committed by now.
    if reversal_of(original.id) is not None:
        raise RuleViolation("This transaction has already been reversed.", code="already_reversed")
    reversal = post_transaction(
        scheme,
        kind="reversal",
        legs=mirror,
        actor_user_id=actor_user_id,
        memo=memo or f"Reversal of transaction {original.id}",
        reverses_id=original.id,
    )
    audit.record(
        scheme.id,
        "transaction.reversed",
        actor_user_id=actor_user_id,
        target=f"transaction:{original.id}",
        details={"reversal_id": reversal.id, "kind": original.kind, "amount": original.amount},
    )
    return reversal


def reversal_of(transaction_id: int) -> int | None:
    return db.session.execute(
        select(Transaction.id).where(Transaction.reverses_id == transaction_id)
    ).scalar_one_or_none()


def get_transaction(transaction_id: int) -> Transaction:
    transaction = db.session.execute(
        select(Transaction).where(Transaction.id == transaction_id)
    ).scalar_one_or_none()
    if transaction is None:
        raise NotFound("No such transaction in this scheme.")
    return transaction


# --- reading ----------------------------------------------------------------


def transaction_touches(transaction_id: int, account_id: int) -> bool:
    return (
        db.session.execute(
            select(Posting.id).where(
                Posting.transaction_id == transaction_id, Posting.account_id == account_id
            )
        ).first()
        is not None
    )


def describe_transactions(items: Sequence[Transaction | Posted]) -> list[dict[str, Any]]:
    """Serialisable transactions with their postings: two queries for any number, none
    for transactions just written (``Posted`` carries their postings)."""
    if not items:
        return []
    transactions = [item.transaction if isinstance(item, Posted) else item for item in items]
    legs: dict[int, list[dict[str, Any]]] = {}
    for item in items:
        if isinstance(item, Posted):
            legs[item.transaction.id] = item.described
    # Anything not just written may have been reversed since: ask.
    ids = [item.id for item in items if not isinstance(item, Posted) or not item.fresh]
    load = [i for i in ids if i not in legs]
    rows = (
        []
        if not load
        else db.session.execute(
            select(Posting, Account.kind, Account.member_id)
            .join(Account, posting_account())
            .where(Posting.transaction_id.in_(load))
            .order_by(Posting.transaction_id, Posting.id)
        ).all()
    )
    for transaction_id in load:
        legs[transaction_id] = []
    for posting, kind, member_id in rows:
        legs[posting.transaction_id].append(
            {
                "account": kind,
                "account_id": posting.account_id,
                "member_id": member_id,
                "amount": posting.amount,
                "balance_after": posting.balance_after,
            }
        )
    reversed_by: dict[int | None, int] = {}
    if ids:
        reversed_by = dict(
            db.session.execute(  # type: ignore[arg-type]
                select(Transaction.reverses_id, Transaction.id).where(
                    Transaction.reverses_id.in_(ids)
                )
            ).all()
        )
    partners = _partners({t.partner_scheme_id for t in transactions if t.partner_scheme_id})
    return [
        {
            "id": t.id,
            "kind": t.kind,
            "amount": t.amount,
            "memo": t.memo,
            "created_at": t.created_at,
            "reverses_id": t.reverses_id,
            "reversed_by_id": reversed_by.get(t.id),
            "partner": partners[t.partner_scheme_id][0]
            if t.partner_scheme_id in partners
            else None,
            "partner_name": (
                partners[t.partner_scheme_id][1] if t.partner_scheme_id in partners else None
            ),
            "postings": legs[t.id],
        }
        for t in transactions
    ]


def _partners(scheme_ids: set[int | None]) -> dict[int | None, tuple[str, str]]:
    """``{scheme id: (slug, name)}``: the slug for machines, the name for people."""
    if not scheme_ids:
        return {}
    rows = db.session.execute(
        select(Scheme.id, Scheme.slug, Scheme.name).where(Scheme.id.in_(scheme_ids))
    ).all()
    return {scheme_id: (slug, name) for scheme_id, slug, name in rows}


def statement_query(account_id: int) -> Any:
    return (
        select(Transaction)
        .join(
            Posting,
            and_(
                Posting.scheme_id == Transaction.scheme_id, Posting.transaction_id == Transaction.id
            ),
        )
        .where(Posting.account_id == account_id)
    )


def _other_sides(account_id: int, transaction_ids: list[int]) -> dict[int, tuple[str, int | None]]:
    """Per transaction, the first other account's ``(kind, member_id)`` (members first)."""
    rows = db.session.execute(
        select(Posting.transaction_id, Account.kind, Account.member_id)
        .join(Account, Account.id == Posting.account_id)
        .where(Posting.transaction_id.in_(transaction_ids), Posting.account_id != account_id)
        .order_by(Posting.transaction_id, Account.member_id.is_(None), Posting.account_id)
    ).all()
    found: dict[int, tuple[str, int | None]] = {}
    for transaction_id, kind, member_id in rows:
        found.setdefault(transaction_id, (kind, member_id))
    return found


def statement_rows(account_id: int, *, batch: int = 1000) -> Iterable[dict[str, Any]]:
    """Every posting of an account, oldest first, for CSV export (streamed in batches)."""
    last = 0
    while True:
        rows = db.session.execute(
            select(Posting, Transaction)
            .join(Transaction, posting_transaction())
            .where(Posting.account_id == account_id, Posting.account_version > last)
            .order_by(Posting.account_version)
            .limit(batch)
        ).all()
        if not rows:
            return
        others = _other_sides(account_id, [transaction.id for _, transaction in rows])
        partners = _partners({t.partner_scheme_id for _, t in rows if t.partner_scheme_id})
        for posting, transaction in rows:
            kind, member_id = others.get(transaction.id, (None, None))
            partner = partners.get(transaction.partner_scheme_id)
            yield {
                "date": transaction.created_at,
                "transaction_id": transaction.id,
                "kind": transaction.kind,
                "memo": transaction.memo or "",
                "amount": posting.amount,
                "balance_after": posting.balance_after,
                # The other side: a member (named by the caller, as its
                # directory allows), a scheme account's kind, or a partner scheme.
                "other_member_id": member_id,
                "other_account_kind": kind,
                "partner_name": partner[1] if partner else None,
            }
        last = rows[-1][0].account_version
