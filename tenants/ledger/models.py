"""Accounts, transactions and postings: a double-entry, immutable ledger.

Amounts are integer minutes (60 = one hour = one time credit). A posting's
``amount`` is positive when it credits the account, negative when it debits
it. The postings of a transaction sum to zero; an account's cached
``balance`` equals the sum of its postings; each posting records the account's
balance after it and the account version it produced, so an account's history
is a chain that ``timebank ledger verify`` can walk. Postings and transactions
are never updated or deleted: corrections are reversals. The database refuses
it too (triggers installed by the migrations; see ``ddl.py``).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement

from timebank.platform.db import TenantScoped, UTCDateTime, db, tenant_fk, utcnow_column

ZERO_HASH = "0" * 64  # the prev_hash of an account's first posting (as chain.ZERO_HASH)
ACCOUNT_KINDS = ("member", "issuance", "redemption", "pot", "expiry", "clearing", "partner")
SCHEME_ACCOUNT_KINDS = ("issuance", "redemption", "pot", "expiry")
TRANSACTION_KINDS = (
    "transfer",
    "earn",
    "spend",
    "gift",
    "exchange",
    "reversal",
    "expiry",
    "adjustment",
)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Account(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "accounts"

    kind: Mapped[str] = mapped_column(String(20))
    member_id: Mapped[int | None] = mapped_column(BigInteger)
    partner_scheme_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("schemes.id"))
    # The partner organisation that owns a ``partner`` account (what credits spent there hold).
    partner_id: Mapped[int | None] = mapped_column(BigInteger)
    balance: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Explicit limits of this account; None falls back to the policy default
    # (member accounts) or no limit (scheme accounts).
    min_balance: Mapped[int | None] = mapped_column(BigInteger)
    max_balance: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(10), default="open", server_default="open")
    created_at: Mapped[datetime] = utcnow_column()
    # The hash of the account's latest posting (64 zeros before the first): the
    # posting service reads it with the account's lock instead of the last posting.
    head_hash: Mapped[str] = mapped_column(String(64), default=ZERO_HASH, server_default=ZERO_HASH)

    __table_args__ = (
        tenant_fk(["member_id"], "members"),
        tenant_fk(["partner_id"], "partners"),
        CheckConstraint(_in("kind", ACCOUNT_KINDS), name="kind"),
        CheckConstraint("status IN ('open', 'closed')", name="status"),
        CheckConstraint("(kind = 'member') = (member_id IS NOT NULL)", name="member_owner"),
        CheckConstraint(
            "(kind = 'clearing') = (partner_scheme_id IS NOT NULL)", name="clearing_partner"
        ),
        CheckConstraint("(kind = 'partner') = (partner_id IS NOT NULL)", name="partner_owner"),
        CheckConstraint("min_balance IS NULL OR min_balance <= 0", name="min_not_positive"),
        CheckConstraint("max_balance IS NULL OR max_balance >= 0", name="max_not_negative"),
        CheckConstraint("min_balance IS NULL OR balance >= min_balance", name="above_min"),
        CheckConstraint("max_balance IS NULL OR balance <= max_balance", name="below_max"),
        CheckConstraint("version >= 0", name="version"),
        Index(
            "uq_accounts_member",
            "scheme_id",
            "member_id",
            unique=True,
            postgresql_where=text("member_id IS NOT NULL"),
            sqlite_where=text("member_id IS NOT NULL"),
        ),
        Index(
            "uq_accounts_scheme_kind",
            "scheme_id",
            "kind",
            unique=True,
            postgresql_where=text(f"{_in('kind', SCHEME_ACCOUNT_KINDS)}"),
            sqlite_where=text(f"{_in('kind', SCHEME_ACCOUNT_KINDS)}"),
        ),
        Index(
            "uq_accounts_clearing",
            "scheme_id",
            "partner_scheme_id",
            unique=True,
            postgresql_where=text("partner_scheme_id IS NOT NULL"),
            sqlite_where=text("partner_scheme_id IS NOT NULL"),
        ),
        Index(
            "uq_accounts_partner",
            "scheme_id",
            "partner_id",
            unique=True,
            postgresql_where=text("partner_id IS NOT NULL"),
            sqlite_where=text("partner_id IS NOT NULL"),
        ),
    )


class Transaction(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "transactions"

    kind: Mapped[str] = mapped_column(String(20))
    amount: Mapped[int] = mapped_column(BigInteger)
    memo: Mapped[str | None] = mapped_column(String(500))
    created_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    created_at: Mapped[datetime] = utcnow_column()
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    policy_version: Mapped[int | None] = mapped_column(Integer)
    reverses_id: Mapped[int | None] = mapped_column(BigInteger)
    partner_scheme_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("schemes.id"))
    exchange_id: Mapped[int | None] = mapped_column(BigInteger)

    postings: Mapped[list[Posting]] = relationship(
        back_populates="transaction",
        order_by="Posting.id",
        primaryjoin="and_(Transaction.scheme_id == foreign(Posting.scheme_id), "
        "Transaction.id == foreign(Posting.transaction_id))",
        lazy="raise_on_sql",
        viewonly=True,
    )

    __table_args__ = (
        tenant_fk(["reverses_id"], "transactions"),
        CheckConstraint(_in("kind", TRANSACTION_KINDS), name="kind"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("(kind = 'reversal') = (reverses_id IS NOT NULL)", name="reversal_link"),
        # A transaction is reversed at most once.
        UniqueConstraint("scheme_id", "reverses_id"),
        UniqueConstraint("scheme_id", "idempotency_key"),
        # Reports read a period's transactions (tenants/reports/summaries.py).
        Index("ix_transactions_created", "scheme_id", "created_at"),
    )


class Posting(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "postings"

    transaction_id: Mapped[int] = mapped_column(BigInteger)
    account_id: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(BigInteger)
    balance_after: Mapped[int] = mapped_column(BigInteger)
    account_version: Mapped[int] = mapped_column(Integer)
    # The account's chain (see ``chain.py``): the previous posting's hash, and this
    # posting's hash over its fields, its transaction's kind and time, and prev_hash.
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    transaction: Mapped[Transaction] = relationship(
        back_populates="postings",
        primaryjoin="and_(Transaction.scheme_id == foreign(Posting.scheme_id), "
        "Transaction.id == foreign(Posting.transaction_id))",
        lazy="raise_on_sql",
        viewonly=True,
    )

    __table_args__ = (
        tenant_fk(["transaction_id"], "transactions"),
        tenant_fk(["account_id"], "accounts"),
        CheckConstraint("amount <> 0", name="amount_nonzero"),
        CheckConstraint("account_version > 0", name="account_version"),
        # One posting per account version: the chain cannot fork.
        UniqueConstraint("scheme_id", "account_id", "account_version"),
        Index("ix_postings_account_tx", "scheme_id", "account_id", "transaction_id"),
        Index("ix_postings_tx", "scheme_id", "transaction_id"),
    )


class LedgerRoot(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    """A scheme's daily root: one hash over its accounts' head hashes (``chain.root_hash``).

    ``heads`` keeps the ``[[account_id, head], …]`` it was computed from, so that a
    statement proof can carry them and anyone can recompute the root.
    """

    __tablename__ = "ledger_roots"

    day: Mapped[date] = mapped_column(Date)
    root: Mapped[str] = mapped_column(String(64))
    heads: Mapped[str] = mapped_column(Text)
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("scheme_id", "day"),)


# Join conditions of the ledger's tables: tenant rows join through ``scheme_id`` too.


def posting_transaction() -> ColumnElement[bool]:
    """A posting's transaction."""
    return and_(
        Transaction.scheme_id == Posting.scheme_id, Transaction.id == Posting.transaction_id
    )


def posting_account() -> ColumnElement[bool]:
    """A posting's account."""
    return and_(Account.scheme_id == Posting.scheme_id, Account.id == Posting.account_id)


CREDIT_NOTICE_KINDS = ("paid", "awarded", "gifted")


class CreditNotice(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    """A member was paid, awarded or gifted credits: mailed at once, or later in a digest.

    ``mailed_at`` null: waiting for the hourly digest (tenants/ledger/credit_mail.py).
    Holds no free text: who paid is an id (named when mailed, as the directory allows).
    """

    __tablename__ = "credit_notices"

    member_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(10))
    amount: Mapped[int] = mapped_column(Integer)
    transaction_id: Mapped[int] = mapped_column(BigInteger)
    from_member_id: Mapped[int | None] = mapped_column(BigInteger)
    # A cross-scheme payment: the payer's scheme (a platform id, named when mailed).
    from_scheme_id: Mapped[int | None] = mapped_column(BigInteger)
    # An award: the activity it was for (the coordinator's note is not mailed).
    activity_id: Mapped[int | None] = mapped_column(BigInteger)
    # The address of the request that caused it, for the digest's links (platform/links.py).
    link_base: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = utcnow_column()
    mailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    in_digest: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        tenant_fk(["member_id"], "members"),
        tenant_fk(["transaction_id"], "transactions"),
        CheckConstraint("kind IN ('paid', 'awarded', 'gifted')", name="kind"),
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_credit_notices_member", "scheme_id", "member_id", "mailed_at"),
    )
