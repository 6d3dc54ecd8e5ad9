"""The posting service: the only writer of ledger rows.

``post_transaction`` takes the legs of one business event, locks the affected
accounts in id order (``SELECT … FOR UPDATE``, :mod:`.locking`: the only place
the ledger takes row locks), checks each account's limits
(a member's own limits override the policy default), inserts the transaction
and its postings, and moves the cached balances and account versions, all in
the caller's unit of work. Each posting carries ``prev_hash`` (the account's
``head_hash``, read with its lock) and ``hash`` (:mod:`.chain`), and the account's
head moves on in the same statement. A refusal raises a ``RuleViolation`` whose code
names the rule and writes nothing (the unit of work rolls back).
``post_many`` does the same for many transactions at once (bulk awards) with
one statement per table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, final

from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from timebank.platform import metrics
from timebank.platform.api.errors import RuleViolation
from timebank.platform.db import after_commit, db, in_atomic, next_ids, utcnow
from timebank.platform.schemes.models import Scheme
from timebank.tenants.ledger.bulk import Moved, bulk_insert, bulk_set_balances, chain_rows
from timebank.tenants.ledger.chain import format_time, hash_input_parts
from timebank.tenants.ledger.locking import lock_accounts
from timebank.tenants.ledger.models import Account, Posting, Transaction, posting_account
from timebank.tenants.policy.services import current_policy

MAX_AMOUNT = 2**31 - 1


@final
@dataclass(frozen=True)
class Posted:
    """What ``post_transaction`` wrote: the transaction, and its postings as
    ``describe_transactions`` shows them (so serialising needs no second read)."""

    transaction: Transaction
    described: list[dict[str, Any]]  # the postings, as describe_transactions shows them
    # False for a replay of a transaction stored earlier (which may since be reversed).
    fresh: bool = True

    @property
    def id(self) -> int:
        return self.transaction.id


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


def effective_limits(account: Account, policy: dict[str, Any]) -> tuple[int | None, int | None]:
    """The limits that apply: the account's own, else the policy default for members."""
    low, high = account.min_balance, account.max_balance
    if account.kind == "member":
        if low is None:
            low = policy["balance"]["min"]
        if high is None:
            high = policy["balance"]["max"]
    elif account.kind == "partner":
        # A partner holds what members spent there until it is settled: never below
        # zero, never above the policy's ceiling for partners.
        if low is None:
            low = 0
        if high is None:
            high = policy["rewards"].get("partner_max_balance")
    return low, high


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
    locked: Mapping[int, Any] | None = None,
) -> Posted:
    """Write one balanced transaction. Must run inside a unit of work (``atomic``).

    ``names`` maps account ids to the words used in refusals ("Your balance",
    "Ann's balance"). ``locked`` passes accounts the caller has already locked with
    :func:`lock_accounts` (its ``by_id``). Raises
    ``RuleViolation`` (``insufficient_balance``, ``balance_above_maximum``,
    ``account_closed``) and writes nothing.
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
            return Posted(existing, _stored_postings(existing.id), fresh=False)

    policy = current_policy(scheme)
    needed = {leg.account_id for leg in legs}
    accounts = (
        dict(locked)
        if locked is not None and needed <= set(locked)
        else lock_accounts(scheme.id, account_ids=needed).by_id
    )
    net: dict[int, int] = {}
    for leg in legs:
        net[leg.account_id] = net.get(leg.account_id, 0) + leg.amount
    for account_id, delta in net.items():
        account = accounts[account_id]
        label = (names or {}).get(account_id) or _describe(account)
        _check_limits(scheme, policy, account, account.balance, delta, label)

    values = {
        "scheme_id": scheme.id,
        "kind": kind,
        "amount": sum(leg.amount for leg in legs if leg.amount > 0),
        "memo": memo,
        "created_by": actor_user_id,
        "created_at": utcnow(),
        "idempotency_key": idempotency_key,
        "policy_version": scheme.policy_version,
        "reverses_id": reverses_id,
        "partner_scheme_id": partner_scheme_id,
        "exchange_id": exchange_id,
    }
    rows = []
    moved: dict[int, tuple[int, int]] = {}
    for leg in legs:
        account = accounts[leg.account_id]
        balance, version = moved.get(account.id, (account.balance, account.version))
        moved[account.id] = (balance + leg.amount, version + 1)
        rows.append(
            {
                "scheme_id": scheme.id,
                "account_id": account.id,
                "amount": leg.amount,
                "balance_after": balance + leg.amount,
                "account_version": version + 1,
            }
        )
    heads = {account_id: accounts[account_id].head_hash for account_id in moved}
    transaction, written = _write(values, rows, dict(sorted(moved.items())), heads)
    _remember_balances(scheme.id, accounts, written)
    after_commit(lambda: metrics.transaction_committed(kind))
    return Posted(transaction, _legs_described(rows, accounts))


def _stored_postings(transaction_id: int) -> list[dict[str, Any]]:
    """A stored transaction's postings, described (an idempotent replay)."""
    rows = db.session.execute(
        select(Posting, Account.kind, Account.member_id)
        .join(Account, posting_account())
        .where(Posting.transaction_id == transaction_id)
        .order_by(Posting.id)
    ).all()
    return [
        {
            "account": kind,
            "account_id": posting.account_id,
            "member_id": member_id,
            "amount": posting.amount,
            "balance_after": posting.balance_after,
        }
        for posting, kind, member_id in rows
    ]


# PostgreSQL: the transaction, its postings (hashed here: the hash covers the
# transaction id the insert assigns) and the accounts' new balances and head
# hashes in one statement (one round trip instead of three; the deferred balance
# check and the foreign keys see all of it). Each leg's hashed text is sent as the
# parts before and after the transaction id (``chain.hash_input_parts``).
_WRITE_ONE = text(
    "WITH t AS ("
    " INSERT INTO transactions (scheme_id, kind, amount, memo, created_by, created_at,"
    " idempotency_key, policy_version, reverses_id, partner_scheme_id, exchange_id)"
    " VALUES (:scheme_id, :kind, :amount, :memo, :created_by, :created_at,"
    " :idempotency_key, :policy_version, :reverses_id, :partner_scheme_id, :exchange_id)"
    " RETURNING id"
    "), p AS ("
    " INSERT INTO postings (scheme_id, transaction_id, account_id, amount, balance_after,"
    " account_version, prev_hash, hash)"
    " SELECT :scheme_id, t.id, leg.account_id, leg.amount, leg.balance_after, leg.version,"
    " leg.prev_hash,"
    " encode(sha256(convert_to(leg.hash_pre || CAST(t.id AS TEXT) || leg.hash_post, 'UTF8')),"
    " 'hex')"
    " FROM t, unnest(CAST(:leg_accounts AS BIGINT[]), CAST(:leg_amounts AS BIGINT[]),"
    " CAST(:leg_balances AS BIGINT[]), CAST(:leg_versions AS INTEGER[]),"
    " CAST(:leg_prev AS TEXT[]), CAST(:leg_pre AS TEXT[]), CAST(:leg_post AS TEXT[]))"
    " WITH ORDINALITY AS leg(account_id, amount, balance_after, version, prev_hash, hash_pre,"
    " hash_post, n)"
    " ORDER BY leg.n"
    " RETURNING account_id, hash"
    "), a AS ("
    " UPDATE accounts SET balance = moved.balance, version = moved.version, head_hash = p.hash"
    " FROM unnest(CAST(:moved_ids AS BIGINT[]), CAST(:moved_balances AS BIGINT[]),"
    " CAST(:moved_versions AS INTEGER[])) AS moved(id, balance, version), p"
    " WHERE accounts.scheme_id = :scheme_id AND accounts.id = moved.id"
    " AND p.account_id = moved.id"
    ") SELECT t.id, p.account_id, p.hash FROM t, p"
)


def _write(
    values: dict[str, Any],
    postings: list[dict[str, Any]],
    moved: dict[int, tuple[int, int]],
    heads: dict[int, str],
) -> tuple[Transaction, dict[int, Moved]]:
    """Write the transaction row, its postings (chained on from ``heads``) and the
    accounts' new balances, versions and heads (accounts locked by the caller) with
    Core, not the unit of work; return the transaction as a persistent object of the
    session, and what each account moved to."""
    session = db.session()
    session.flush()  # rows the caller added first (an exchange, a claim) exist before this one
    connection = session.connection()
    one_leg_each = len(moved) == len(postings)
    try:
        if connection.dialect.name == "postgresql" and one_leg_each:
            created_at = format_time(values["created_at"])
            parts = [
                hash_input_parts(
                    scheme_id=values["scheme_id"],
                    account_id=row["account_id"],
                    account_version=row["account_version"],
                    kind=values["kind"],
                    amount=row["amount"],
                    balance_after=row["balance_after"],
                    created_at=created_at,
                    prev_hash=heads[row["account_id"]],
                )
                for row in postings
            ]
            result = connection.execute(
                _WRITE_ONE,
                {
                    **values,
                    "leg_accounts": [row["account_id"] for row in postings],
                    "leg_amounts": [row["amount"] for row in postings],
                    "leg_balances": [row["balance_after"] for row in postings],
                    "leg_versions": [row["account_version"] for row in postings],
                    "leg_prev": [heads[row["account_id"]] for row in postings],
                    "leg_pre": [pre for pre, _ in parts],
                    "leg_post": [post for _, post in parts],
                    "moved_ids": list(moved),
                    "moved_balances": [balance for balance, _ in moved.values()],
                    "moved_versions": [version for _, version in moved.values()],
                },
            ).all()
            values["id"] = result[0][0]
            heads.update({account_id: hash_ for _, account_id, hash_ in result})
        else:
            # SQLite, and an account with two legs in one transaction (its second
            # leg chains on the first's hash): ids first, hashes here.
            values["id"] = next_ids(session, "transactions", 1)[0]
            connection.execute(insert(Transaction.__table__), values)
            posting_ids = next_ids(session, "postings", len(postings))
            for row, posting_id in zip(postings, posting_ids, strict=True):
                row.update(id=posting_id, transaction_id=values["id"])
            chain_rows(
                values["scheme_id"],
                postings,
                heads,
                {values["id"]: (values["kind"], values["created_at"])},
            )
            bulk_insert(Posting.__table__, postings)
            bulk_set_balances(values["scheme_id"], _with_heads(moved, heads))
    except IntegrityError as error:
        if values["reverses_id"] is not None and "reverses_id" in str(error.orig):
            raise RuleViolation(
                "This transaction has already been reversed.", code="already_reversed"
            ) from error
        raise
    transaction = Transaction(**values)
    make_transient_to_detached(transaction)
    session.add(transaction)
    return transaction, _with_heads(moved, heads)


def _with_heads(moved: dict[int, tuple[int, int]], heads: dict[int, str]) -> dict[int, Moved]:
    return {i: Moved(balance, version, heads[i]) for i, (balance, version) in moved.items()}


def _remember_balances(
    scheme_id: int, accounts: Mapping[int, Any], moved: dict[int, Moved]
) -> None:
    """Keep the session's ``Account`` objects equal to the rows just written with Core
    (``accounts`` may hold plain rows, read with Core too)."""
    session = db.session()
    for account_id, (balance, version, head_hash) in moved.items():
        account = accounts[account_id]
        if not isinstance(account, Account):
            account = session.identity_map.get(identity_key(Account, (scheme_id, account_id)))
            if account is None:
                continue
        set_committed_value(account, "balance", balance)
        set_committed_value(account, "version", version)
        set_committed_value(account, "head_hash", head_hash)


def _legs_described(
    rows: list[dict[str, Any]], accounts: Mapping[int, Account]
) -> list[dict[str, Any]]:
    return [
        {
            "account": accounts[row["account_id"]].kind,
            "account_id": row["account_id"],
            "member_id": accounts[row["account_id"]].member_id,
            "amount": row["amount"],
            "balance_after": row["balance_after"],
        }
        for row in rows
    ]


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
    accounts = lock_accounts(
        scheme.id, account_ids=(leg.account_id for legs in entries for leg in legs)
    ).by_id
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
    heads = {account_id: account.head_hash for account_id, account in accounts.items()}
    chain_rows(scheme.id, posting_rows, heads, {row["id"]: (kind, now) for row in transaction_rows})
    bulk_insert(Transaction.__table__, transaction_rows)
    bulk_insert(Posting.__table__, posting_rows)
    moved = {i: Moved(balance[i], version[i], heads[i]) for i in sorted(accounts)}
    bulk_set_balances(scheme.id, moved)
    _remember_balances(scheme.id, accounts, moved)
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
        "postings": _legs_described(postings, accounts),
    }


def _describe(account: Account) -> str:
    if account.kind == "member":
        return "The member's balance"
    if account.kind == "pot":
        return "The community pot"
    if account.kind == "partner":
        return "The partner's account"
    if account.kind == "clearing":
        return "The exchange clearing account"
    return f"The scheme's {account.kind} account"
