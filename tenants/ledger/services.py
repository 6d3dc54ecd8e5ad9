"""The posting service — the only writer of ledger rows — and the ledger's operations.

``post_transaction`` takes the legs of one business event, locks the affected
accounts in id order (``SELECT … FOR UPDATE``), checks each account's limits
(a member's own limits override the policy default), inserts the transaction
and its postings, and moves the cached balances and account versions, all in
the caller's unit of work. A refusal raises a ``RuleViolation`` whose code
names the rule and writes nothing (the unit of work rolls back).

Operations built on it: peer transfers, reversals, gifts and grants; earning,
spending and the exchange call it with their own legs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from timebank.platform import audit
from timebank.platform.api.errors import FieldError, NotFound, RuleViolation
from timebank.platform.db import atomic, db, in_atomic, next_ids, utcnow
from timebank.platform.schemes.models import Scheme
from timebank.tenants.ledger.models import SCHEME_ACCOUNT_KINDS, Account, Posting, Transaction
from timebank.tenants.memberships.models import Member
from timebank.tenants.policy.services import current_policy

MAX_AMOUNT = 2**31 - 1


@dataclass(frozen=True)
class Leg:
    """One side of a transaction: ``amount`` > 0 credits the account, < 0 debits it."""

    account_id: int
    amount: int


def format_minutes(minutes: int) -> str:
    """``-630`` → ``"−10:30 hours"``: how coordinators and members read balances."""
    sign = "−" if minutes < 0 else ""
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours}:{rest:02d} hours"


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


def effective_limits(account: Account, policy: dict[str, Any]) -> tuple[int | None, int | None]:
    """The limits that apply: the account's own, else the policy default for members."""
    low, high = account.min_balance, account.max_balance
    if account.kind == "member":
        if low is None:
            low = policy["balance"]["min"]
        if high is None:
            high = policy["balance"]["max"]
    return low, high


def _lock_accounts(account_ids: Iterable[int]) -> dict[int, Account]:
    ids = sorted(set(account_ids))
    accounts = db.session.execute(
        select(Account)
        .where(Account.id.in_(ids))
        .order_by(Account.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalars()
    found = {account.id: account for account in accounts}
    if len(found) != len(ids):
        raise NotFound("An account of this transaction does not exist in this scheme.")
    return found


# --- the posting service ----------------------------------------------------


def post_transaction(
    scheme: Scheme,
    *,
    kind: str,
    legs: Sequence[Leg],
    actor_user_id: int | None,
    memo: str | None = None,
    idempotency_key: str | None = None,
    reverses_id: int | None = None,
    partner_scheme_id: int | None = None,
    exchange_id: int | None = None,
    names: dict[int, str] | None = None,
) -> Transaction:
    """Write one balanced transaction. Must run inside a unit of work (``atomic``).

    ``names`` maps account ids to the words used in refusals ("Your balance",
    "Ann's balance"). Raises ``RuleViolation`` (``insufficient_balance``,
    ``balance_above_maximum``, ``account_closed``) and writes nothing.
    """
    if not in_atomic():
        raise RuntimeError("post_transaction must run inside a unit of work")
    if len(legs) < 2 or sum(leg.amount for leg in legs) != 0:
        raise ValueError("a transaction needs at least two legs summing to zero")
    if any(leg.amount == 0 or abs(leg.amount) > MAX_AMOUNT for leg in legs):
        raise ValueError("leg amounts must be non-zero and fit in 31 bits")
    if idempotency_key is not None:
        existing = db.session.execute(
            select(Transaction).where(Transaction.idempotency_key == idempotency_key)
        ).scalar_one_or_none()
        if existing is not None:
            return existing

    policy = current_policy(scheme)
    accounts = _lock_accounts(leg.account_id for leg in legs)
    net: dict[int, int] = {}
    for leg in legs:
        net[leg.account_id] = net.get(leg.account_id, 0) + leg.amount
    for account_id, delta in net.items():
        account = accounts[account_id]
        label = (names or {}).get(account_id) or _describe(account)
        _check_limits(scheme, policy, account, account.balance, delta, label)

    transaction = Transaction(
        scheme_id=scheme.id,
        kind=kind,
        amount=sum(leg.amount for leg in legs if leg.amount > 0),
        memo=memo,
        created_by=actor_user_id,
        idempotency_key=idempotency_key,
        policy_version=scheme.policy_version,
        reverses_id=reverses_id,
        partner_scheme_id=partner_scheme_id,
        exchange_id=exchange_id,
    )
    db.session.add(transaction)
    try:
        db.session.flush()
    except IntegrityError as error:
        if reverses_id is not None:
            raise RuleViolation(
                "This transaction has already been reversed.", code="already_reversed"
            ) from error
        raise
    postings = []
    for leg in legs:
        account = accounts[leg.account_id]
        account.balance += leg.amount
        account.version += 1
        postings.append(
            Posting(
                scheme_id=scheme.id,
                transaction_id=transaction.id,
                account_id=account.id,
                amount=leg.amount,
                balance_after=account.balance,
                account_version=account.version,
            )
        )
    db.session.add_all(postings)
    db.session.flush()
    transaction.__dict__["postings"] = postings  # loaded: serialisers need no query
    return transaction


def _check_limits(
    scheme: Scheme,
    policy: dict[str, Any],
    account: Account,
    balance: int,
    delta: int,
    label: str,
) -> None:
    """Refuse moving ``account`` from ``balance`` by ``delta`` if it breaks a limit."""
    if account.status != "open":
        raise RuleViolation(f"{label} is closed.", code="account_closed")
    low, high = effective_limits(account, policy)
    after = balance + delta
    if delta < 0 and low is not None and after < low:
        raise RuleViolation(
            f"{label} would go to {format_minutes(after)}, below its minimum of "
            f"{format_minutes(low)} in {scheme.name}.",
            code="insufficient_balance",
            extra={"balance": balance, "min_balance": low, "account_id": account.id},
        )
    if delta > 0 and high is not None and after > high:
        raise RuleViolation(
            f"{label} would go to {format_minutes(after)}, above its maximum of "
            f"{format_minutes(high)} in {scheme.name}.",
            code="balance_above_maximum",
            extra={"balance": balance, "max_balance": high, "account_id": account.id},
        )


def lock_accounts(account_ids: Iterable[int]) -> dict[int, Account]:
    """Lock accounts ``FOR UPDATE`` in id order (the ledger's one lock order); 404 if missing.

    For services that must read something consistent with a balance before
    posting (an earning cap): take the same locks ``post_transaction`` will.
    """
    return _lock_accounts(account_ids)


def post_many(
    scheme: Scheme,
    *,
    kind: str,
    entries: Sequence[Sequence[Leg]],
    actor_user_id: int | None,
    memo: str | None = None,
    names: dict[int, str] | None = None,
) -> list[dict[str, Any]]:
    """Write many balanced transactions at once, all or none (bulk awards).

    The effect and the refusals are those of calling ``post_transaction`` for
    each entry in order, but every account is locked in one query (id order),
    and transactions, postings and balances are written with one statement
    each, so a thousand transactions cost a handful of round trips. Returns the
    transactions in the order of ``entries``, described as by
    ``describe_transactions`` (without loading a thousand rows back).
    """
    if not in_atomic():
        raise RuntimeError("post_many must run inside a unit of work")
    for legs in entries:
        if len(legs) < 2 or sum(leg.amount for leg in legs) != 0:
            raise ValueError("a transaction needs at least two legs summing to zero")
        if any(leg.amount == 0 or abs(leg.amount) > MAX_AMOUNT for leg in legs):
            raise ValueError("leg amounts must be non-zero and fit in 31 bits")
    if not entries:
        return []
    policy = current_policy(scheme)
    accounts = _lock_accounts(leg.account_id for legs in entries for leg in legs)
    balance = {account_id: account.balance for account_id, account in accounts.items()}
    version = {account_id: account.version for account_id, account in accounts.items()}
    for legs in entries:
        net: dict[int, int] = {}
        for leg in legs:
            net[leg.account_id] = net.get(leg.account_id, 0) + leg.amount
        for account_id, delta in net.items():
            account = accounts[account_id]
            label = (names or {}).get(account_id) or _describe(account)
            _check_limits(scheme, policy, account, balance[account_id], delta, label)
            balance[account_id] += delta

    session = db.session()
    transaction_ids = next_ids(session, "transactions", len(entries))
    posting_ids = iter(next_ids(session, "postings", sum(len(legs) for legs in entries)))
    now = utcnow()
    balance = {account_id: account.balance for account_id, account in accounts.items()}
    transaction_rows: list[dict[str, Any]] = []
    posting_rows: list[dict[str, Any]] = []
    by_transaction: list[list[dict[str, Any]]] = []
    for transaction_id, legs in zip(transaction_ids, entries, strict=True):
        by_transaction.append([])
        transaction_rows.append(
            {
                "scheme_id": scheme.id,
                "id": transaction_id,
                "kind": kind,
                "amount": sum(leg.amount for leg in legs if leg.amount > 0),
                "memo": memo,
                "created_by": actor_user_id,
                "created_at": now,
                "policy_version": scheme.policy_version,
            }
        )
        for leg in legs:
            balance[leg.account_id] += leg.amount
            version[leg.account_id] += 1
            posting = {
                "scheme_id": scheme.id,
                "id": next(posting_ids),
                "transaction_id": transaction_id,
                "account_id": leg.account_id,
                "amount": leg.amount,
                "balance_after": balance[leg.account_id],
                "account_version": version[leg.account_id],
            }
            posting_rows.append(posting)
            by_transaction[-1].append(posting)
    _bulk_insert(Transaction.__table__, transaction_rows)
    _bulk_insert(Posting.__table__, posting_rows)
    _bulk_set_balances(scheme.id, {i: (balance[i], version[i]) for i in sorted(accounts)})
    for account_id, account in accounts.items():
        set_committed_value(account, "balance", balance[account_id])
        set_committed_value(account, "version", version[account_id])
    return [
        _posted(row, postings, accounts)
        for row, postings in zip(transaction_rows, by_transaction, strict=True)
    ]


def _posted(
    row: dict[str, Any], postings: list[dict[str, Any]], accounts: dict[int, Account]
) -> dict[str, Any]:
    """A transaction just written by ``post_many``, as ``describe_transactions`` shows it."""
    return {
        "id": row["id"],
        "kind": row["kind"],
        "amount": row["amount"],
        "memo": row["memo"],
        "created_at": row["created_at"],
        "reverses_id": None,
        "reversed_by_id": None,
        "partner": None,
        "postings": [
            {
                "account": accounts[posting["account_id"]].kind,
                "account_id": posting["account_id"],
                "member_id": accounts[posting["account_id"]].member_id,
                "amount": posting["amount"],
                "balance_after": posting["balance_after"],
            }
            for posting in postings
        ],
    }


# One statement per table whatever the number of rows. On PostgreSQL the rows
# travel as one array per column (``unnest``): a statement per row costs a
# round trip each, and a thousand-row VALUES list with thousands of bound
# parameters costs the driver more to build and parse than the server to run.


def _bulk_insert(table: Any, rows: list[dict[str, Any]]) -> None:
    session = db.session()
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql":
        session.execute(insert(table), rows)
        return
    names = list(rows[0])
    arrays = ", ".join(
        f"CAST(:{name} AS {table.c[name].type.compile(dialect)}[])" for name in names
    )
    session.execute(
        text(f"INSERT INTO {table.name} ({', '.join(names)}) SELECT * FROM unnest({arrays})"),
        {name: [row[name] for row in rows] for name in names},
    )


def _bulk_set_balances(scheme_id: int, moved: dict[int, tuple[int, int]]) -> None:
    """Set ``(balance, version)`` of many accounts (already locked by the caller)."""
    session = db.session()
    table = Account.__table__
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text(
                "UPDATE accounts SET balance = moved.balance, version = moved.version "
                "FROM unnest(CAST(:ids AS BIGINT[]), CAST(:balances AS BIGINT[]), "
                "CAST(:versions AS INTEGER[])) AS moved(id, balance, version) "
                "WHERE accounts.scheme_id = :scheme_id AND accounts.id = moved.id"
            ),
            {
                "scheme_id": scheme_id,
                "ids": list(moved),
                "balances": [balance for balance, _ in moved.values()],
                "versions": [version for _, version in moved.values()],
            },
        )
        return
    session.execute(
        update(table)
        .where(table.c.scheme_id == scheme_id, table.c.id == bindparam("account_id"))
        .values(balance=bindparam("new_balance"), version=bindparam("new_version")),
        [
            {"account_id": i, "new_balance": balance, "new_version": version}
            for i, (balance, version) in moved.items()
        ],
    )


def _describe(account: Account) -> str:
    if account.kind == "member":
        return "The member's balance"
    if account.kind == "pot":
        return "The community pot"
    if account.kind == "clearing":
        return "The exchange clearing account"
    return f"The scheme's {account.kind} account"


# --- transfers, gifts, reversals -------------------------------------------


def resolve_payee(field: str, member_id: int, *, payer: Member | None = None) -> Member:
    """A member of this scheme who can receive credits, or a 422 on ``field``."""
    payee = db.session.execute(select(Member).where(Member.id == member_id)).scalar_one_or_none()
    if payee is None or payee.status == "left":
        raise FieldError(field, "No member with this id in this scheme.")
    if payer is not None and payee.id == payer.id:
        raise FieldError(field, "You cannot pay yourself.")
    if payee.status != "active":
        raise FieldError(field, "This member cannot receive credits at the moment.")
    return payee


def member_names(member_ids: Iterable[int]) -> dict[int, str]:
    from timebank.platform.identity.models import User

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
) -> Transaction:
    """A member pays another member of the same scheme."""
    policy = current_policy(scheme)
    rules = policy["peer_transfers"]
    payee = resolve_payee("to_member_id", to_member_id, payer=payer)
    if not rules["enabled"]:
        raise RuleViolation(
            f"Members of {scheme.name} cannot pay each other directly.",
            code="peer_transfers_disabled",
        )
    if rules["max_amount"] is not None and amount > rules["max_amount"]:
        raise RuleViolation(
            f"A payment in {scheme.name} can be at most {format_minutes(rules['max_amount'])}.",
            code="amount_above_maximum",
            extra={"max_amount": rules["max_amount"]},
        )
    payer_account = member_account(payer.id)
    payee_account = member_account(payee.id)
    return post_transaction(
        scheme,
        kind="transfer",
        legs=[Leg(payer_account.id, -amount), Leg(payee_account.id, amount)],
        actor_user_id=actor_user_id,
        memo=memo,
        names={payer_account.id: "Your balance", payee_account.id: "The payee's balance"},
    )


@atomic
def reverse_transaction(
    scheme: Scheme, transaction_id: int, *, actor_user_id: int, memo: str | None = None
) -> Transaction:
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
    _lock_accounts(leg.account_id for leg in mirror)
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


def describe_transactions(transactions: Sequence[Transaction]) -> list[dict[str, Any]]:
    """Serialisable transactions with their postings: two queries for any number."""
    if not transactions:
        return []
    ids = [t.id for t in transactions]
    rows = db.session.execute(
        select(Posting, Account.kind, Account.member_id)
        .join(
            Account,
            and_(Account.scheme_id == Posting.scheme_id, Account.id == Posting.account_id),
        )
        .where(Posting.transaction_id.in_(ids))
        .order_by(Posting.transaction_id, Posting.id)
    ).all()
    legs: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
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
    reversed_by = dict(
        db.session.execute(
            select(Transaction.reverses_id, Transaction.id).where(Transaction.reverses_id.in_(ids))
        ).all()
    )
    partners = _partner_slugs({t.partner_scheme_id for t in transactions if t.partner_scheme_id})
    return [
        {
            "id": t.id,
            "kind": t.kind,
            "amount": t.amount,
            "memo": t.memo,
            "created_at": t.created_at,
            "reverses_id": t.reverses_id,
            "reversed_by_id": reversed_by.get(t.id),
            "partner": partners.get(t.partner_scheme_id) if t.partner_scheme_id else None,
            "postings": legs[t.id],
        }
        for t in transactions
    ]


def _partner_slugs(scheme_ids: set[int | None]) -> dict[int | None, str]:
    if not scheme_ids:
        return {}
    return dict(
        db.session.execute(select(Scheme.id, Scheme.slug).where(Scheme.id.in_(scheme_ids))).all()
    )


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


def statement_rows(account_id: int, *, batch: int = 1000) -> Iterable[dict[str, Any]]:
    """Every posting of an account, oldest first, for CSV export (streamed in batches)."""
    last = 0
    while True:
        rows = db.session.execute(
            select(Posting, Transaction)
            .join(
                Transaction,
                and_(
                    Transaction.scheme_id == Posting.scheme_id,
                    Transaction.id == Posting.transaction_id,
                ),
            )
            .where(Posting.account_id == account_id, Posting.account_version > last)
            .order_by(Posting.account_version)
            .limit(batch)
        ).all()
        if not rows:
            return
        for posting, transaction in rows:
            yield {
                "date": transaction.created_at,
                "transaction_id": transaction.id,
                "kind": transaction.kind,
                "memo": transaction.memo or "",
                "amount": posting.amount,
                "balance_after": posting.balance_after,
            }
        last = rows[-1][0].account_version


def allocate_ids(table: str, count: int) -> list[int]:
    """Ids for bulk inserts of a tenant table."""
    return next_ids(db.session(), table, count)
