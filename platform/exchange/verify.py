"""The exchange's part of ``timebank ledger verify``: both legs, both clearing accounts, the mirror.

For every pair of schemes that has agreements (and touches the schemes verified):

- each exchange credited exactly ``round_half_up(amount × rate)`` at its agreement's exact
  rate in the payer's direction — the mirror invariant holds exactly on every recorded pair;
- each exchange has its two legs: in the payer's ledger a transaction of kind ``exchange``
  for ``amount`` naming the payee scheme, in the payee's ledger one for ``credited`` naming
  the payer scheme, both carrying the exchange id; no ``exchange`` transaction lacks its record;
- only those legs touch clearing accounts, each on the clearing account of its partner;
- each clearing account's balance equals what the records say:
  ``clearing_A[B] = Σ amount(A→B) − Σ credited(B→A)`` and the same for B;
- summed over the pair, ``clearing_A × rate + clearing_B`` is exactly the sum of the
  recorded roundings, so ``|clearing_A × rate + clearing_B|`` is within half a B-minute per
  A→B payment plus ``rate``/2 per B→A payment (reported; checked when all the pair's
  agreements share one rate).
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from fractions import Fraction

from sqlalchemy import and_, or_, select

from timebank.platform import tenancy
from timebank.platform.db import db
from timebank.platform.exchange.models import Agreement, Exchange
from timebank.platform.exchange.terms import round_half_up
from timebank.platform.schemes.models import Scheme
from timebank.tenants.ledger.models import (
    Account,
    Posting,
    Transaction,
    posting_account,
    posting_transaction,
)
from timebank.tenants.ledger.verify import Report, extra_verifiers


def verify_exchanges(report: Report, schemes: list[Scheme]) -> None:
    ids = [scheme.id for scheme in schemes]
    if not ids:
        return
    agreements = {
        agreement.id: agreement
        for agreement in db.session.execute(
            select(Agreement).where(
                or_(Agreement.proposer_scheme_id.in_(ids), Agreement.partner_scheme_id.in_(ids))
            )
        ).scalars()
    }
    slugs = dict(db.session.execute(select(Scheme.id, Scheme.slug)).all())
    pairs: dict[tuple[int, int], set[Fraction]] = defaultdict(set)
    for agreement in agreements.values():
        low, high = sorted((agreement.proposer_scheme_id, agreement.partner_scheme_id))
        rate = Fraction(Decimal(agreement.rate))
        pairs[(low, high)].add(rate if agreement.proposer_scheme_id == low else 1 / rate)
    legs = _legs({scheme_id for pair in pairs for scheme_id in pair} | set(ids), report, slugs)

    for (low, high), rates in sorted(pairs.items()):
        name = f"exchange {slugs[low]}↔{slugs[high]}"
        # Per scheme: what its clearing account for the other must hold.
        expected = {low: 0, high: 0}
        residual = Fraction(0)  # Σ (Δclearing_low × rate + Δclearing_high), in high's minutes
        bound = Fraction(0)
        count = 0
        exchanges = db.session.execute(
            select(Exchange)
            .where(
                or_(
                    and_(Exchange.payer_scheme_id == low, Exchange.payee_scheme_id == high),
                    and_(Exchange.payer_scheme_id == high, Exchange.payee_scheme_id == low),
                )
            )
            .order_by(Exchange.id)
            .execution_options(yield_per=5000)
        ).scalars()
        for exchange in exchanges:
            count += 1
            owner = agreements.get(exchange.agreement_id)
            if owner is None or {exchange.payer_scheme_id, exchange.payee_scheme_id} != {
                owner.proposer_scheme_id,
                owner.partner_scheme_id,
            }:
                report.breaks.append(f"{name}: exchange {exchange.id} names the wrong agreement")
                continue
            rate = Fraction(Decimal(owner.rate))
            if exchange.payer_scheme_id != owner.proposer_scheme_id:
                rate = 1 / rate
            if exchange.credited != round_half_up(exchange.amount * rate):
                report.breaks.append(
                    f"{name}: exchange {exchange.id} credited {exchange.credited} for "
                    f"{exchange.amount} at rate {rate}, not round_half_up(amount × rate)"
                )
            expected[exchange.payer_scheme_id] += exchange.amount
            expected[exchange.payee_scheme_id] -= exchange.credited
            low_to_high = rate if exchange.payer_scheme_id == low else 1 / rate
            if exchange.payer_scheme_id == low:
                residual += exchange.amount * low_to_high - exchange.credited
                bound += Fraction(1, 2)
            else:
                residual += exchange.amount - exchange.credited * low_to_high
                bound += low_to_high / 2
            _check_legs(report, name, exchange, legs)

        balances = {}
        for scheme_id, other_id in ((low, high), (high, low)):
            with tenancy.scheme_context(scheme_id):
                balance = db.session.execute(
                    select(Account.balance).where(
                        Account.kind == "clearing", Account.partner_scheme_id == other_id
                    )
                ).scalar_one_or_none()
            balances[scheme_id] = int(balance or 0)
            if balances[scheme_id] != expected[scheme_id]:
                report.breaks.append(
                    f"{name}: {slugs[scheme_id]}'s clearing account holds "
                    f"{balances[scheme_id]}, but its exchanges add up to {expected[scheme_id]}"
                )
        report.checked.append(
            f"{name}: {count} exchange(s), each credited round_half_up(amount × rate), "
            "legs and clearing balances match"
        )
        if len(rates) == 1:
            (rate,) = rates
            mirror = balances[low] * rate + balances[high]
            if mirror != residual or abs(mirror) > bound:
                report.breaks.append(
                    f"{name}: clearing {balances[low]} × {rate} + {balances[high]} = {mirror}, "
                    f"recorded rounding {residual}, bound {bound}"
                )
            report.checked.append(
                f"{name}: mirror clearing_{slugs[low]} × {_show(rate)} + clearing_{slugs[high]}"
                f" = {_show(mirror)} = recorded rounding, |·| ≤ {_show(bound)}"
            )
    _check_orphans(report, legs, slugs)


def _show(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    return f"{float(value):.6g}"


Leg = tuple[int, int, int | None, int | None]  # transaction id, amount, partner scheme, exchange id


def _legs(
    scheme_ids: set[int], report: Report, slugs: dict[int, str]
) -> dict[tuple[int, int | None], list[Leg]]:
    """Every ``exchange`` transaction by (scheme, exchange id); checks clearing postings."""
    legs: dict[tuple[int, int | None], list[Leg]] = defaultdict(list)
    for scheme_id in sorted(scheme_ids):
        with tenancy.scheme_context(scheme_id):
            rows = db.session.execute(
                select(
                    Transaction.id,
                    Transaction.amount,
                    Transaction.partner_scheme_id,
                    Transaction.exchange_id,
                ).where(Transaction.kind == "exchange")
            )
            for row in rows:
                legs[(scheme_id, row.exchange_id)].append(
                    (row.id, row.amount, row.partner_scheme_id, row.exchange_id)
                )
            stray = db.session.execute(
                select(Posting.transaction_id, Account.id)
                .join(Account, posting_account())
                .join(Transaction, posting_transaction())
                .where(
                    Account.kind == "clearing",
                    or_(
                        Transaction.kind != "exchange",
                        Transaction.partner_scheme_id.is_(None),
                        Transaction.partner_scheme_id != Account.partner_scheme_id,
                    ),
                )
            ).all()
        for transaction_id, account_id in stray:
            report.breaks.append(
                f"{slugs[scheme_id]}: transaction {transaction_id} touches clearing account "
                f"{account_id} without being an exchange leg with that partner"
            )
    return legs


def _check_legs(
    report: Report, name: str, exchange: Exchange, legs: dict[tuple[int, int | None], list[Leg]]
) -> None:
    for scheme_id, other_id, transaction_id, amount in (
        (
            exchange.payer_scheme_id,
            exchange.payee_scheme_id,
            exchange.payer_transaction_id,
            exchange.amount,
        ),
        (
            exchange.payee_scheme_id,
            exchange.payer_scheme_id,
            exchange.payee_transaction_id,
            exchange.credited,
        ),
    ):
        found = legs.get((scheme_id, exchange.id), [])
        if found != [(transaction_id, amount, other_id, exchange.id)]:
            report.breaks.append(
                f"{name}: exchange {exchange.id} expects transaction {transaction_id} of "
                f"{amount} in scheme {scheme_id}, found {found}"
            )


def _check_orphans(
    report: Report, legs: dict[tuple[int, int | None], list[Leg]], slugs: dict[int, str]
) -> None:
    """Every exchange leg belongs to an exchange record of its own scheme."""
    records = {
        (scheme_id, exchange_id)
        for exchange_id, payer, payee in db.session.execute(
            select(Exchange.id, Exchange.payer_scheme_id, Exchange.payee_scheme_id)
        ).all()
        for scheme_id in (payer, payee)
    }
    for (scheme_id, exchange_id), rows in legs.items():
        if (scheme_id, exchange_id) not in records:
            for transaction_id, *_rest in rows:
                report.breaks.append(
                    f"{slugs[scheme_id]}: exchange transaction {transaction_id} "
                    "has no exchange record"
                )


extra_verifiers.append(verify_exchanges)
