"""Agreements between schemes and the exchanges (cross-scheme payments) under them.

Platform tables: an agreement and an exchange record belong to two schemes at
once. Each leg of an exchange is an ordinary transaction in its own scheme's
ledger, linked here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from timebank.platform.db import UTCDateTime, db, utcnow_column

AGREEMENT_STATUSES = ("proposed", "active", "suspended", "ended", "declined")


class Agreement(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "agreements"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    proposer_scheme_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("schemes.id"))
    partner_scheme_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("schemes.id"))
    # How many of the partner's minutes one of the proposer's buys: an exact decimal string.
    rate: Mapped[str] = mapped_column(String(40))
    # Bound on |proposer's position|, in the proposer's minutes.
    limit: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20), default="proposed")
    proposed_by: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    accepted_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    created_at: Mapped[datetime] = utcnow_column()
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        CheckConstraint("proposer_scheme_id <> partner_scheme_id", name="two_schemes"),
        CheckConstraint('"limit" >= 0', name="limit_not_negative"),
        CheckConstraint(
            "status IN ('proposed', 'active', 'suspended', 'ended', 'declined')", name="status"
        ),
        Index("ix_agreements_pair", "proposer_scheme_id", "partner_scheme_id"),
        Index("ix_agreements_partner", "partner_scheme_id"),
    )


class Exchange(db.Model):  # type: ignore[name-defined,misc]
    """One cross-scheme payment: the payer's leg and the payee's leg, committed together."""

    __tablename__ = "exchanges"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    agreement_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("agreements.id"))
    payer_scheme_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("schemes.id"))
    payee_scheme_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("schemes.id"))
    payer_transaction_id: Mapped[int] = mapped_column(BigInteger)
    payee_transaction_id: Mapped[int] = mapped_column(BigInteger)
    # In the payer's minutes, and what the payee was credited in theirs.
    amount: Mapped[int] = mapped_column(BigInteger)
    credited: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    created_at: Mapped[datetime] = utcnow_column()

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("credited >= 0", name="credited_not_negative"),
        Index("ix_exchanges_agreement", "agreement_id", "id"),
    )
