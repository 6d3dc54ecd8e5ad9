"""``timebank ledger verify``: check every ledger invariant, scheme by scheme.

Checked: each transaction's postings sum to zero and its amount is what it
credits; each scheme's balances sum to zero; each account's cached balance
and version equal its postings; each account's postings form an unbroken
chain (versions 1..n, every ``balance_after`` = previous + amount) and an
unbroken hash chain (every ``prev_hash`` the previous posting's ``hash``, every
``hash`` recomputed from the posting's fields by :mod:`.chain`, the account's
``head_hash`` its last posting's); explicit account limits hold; each partner has
one account, never below zero; plus what other packages register (the exchange's
mirror invariant).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from timebank.platform import tenancy
from timebank.platform.db import db
from timebank.platform.schemes.models import Scheme
from timebank.tenants.ledger.chain import ZERO_HASH, format_time, posting_hash
from timebank.tenants.ledger.models import Account, Posting, Transaction, posting_transaction
from timebank.tenants.policy.services import current_policy


@dataclass
class Report:
    checked: list[str] = field(default_factory=list)
    breaks: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"checked: {line}" for line in self.checked]
        out += [f"WARNING: {line}" for line in self.warnings]
        out += [f"BREAK: {line}" for line in self.breaks]
        out.append(
            f"{len(self.breaks)} break(s), {len(self.warnings)} warning(s)"
            if self.breaks or self.warnings
            else "ledger OK: no breaks"
        )
        return out


Verifier = Callable[[Report, list[Scheme]], None]
extra_verifiers: list[Verifier] = []


def verify_ledger(slug: str | None = None) -> Report:
    report = Report()
    statement = select(Scheme).order_by(Scheme.id)
    if slug:
        statement = statement.where(Scheme.slug == slug)
    schemes = list(db.session.execute(statement).scalars())
    if slug and not schemes:
        report.breaks.append(f"no scheme {slug!r}")
        return report
    for scheme in schemes:
        with tenancy.scheme_context(scheme.id):
            _verify_scheme(scheme, report)
    for verifier in extra_verifiers:
        verifier(report, schemes)
    db.session.rollback()
    return report


def _verify_scheme(scheme: Scheme, report: Report) -> None:
    name = scheme.slug
    unbalanced = db.session.execute(
        select(Posting.transaction_id, func.sum(Posting.amount))
        .group_by(Posting.transaction_id)
        .having(func.sum(Posting.amount) != 0)
    ).all()
    for transaction_id, total in unbalanced:
        report.breaks.append(f"{name}: transaction {transaction_id} postings sum to {total}, not 0")
    credited = (
        select(Posting.transaction_id, func.sum(Posting.amount).label("credited"))
        .where(Posting.amount > 0)
        .group_by(Posting.transaction_id)
        .subquery()
    )
    wrong_amounts = db.session.execute(
        select(Transaction.id, Transaction.amount, credited.c.credited)
        .outerjoin(credited, credited.c.transaction_id == Transaction.id)
        .where(func.coalesce(credited.c.credited, 0) != Transaction.amount)
    ).all()
    for transaction_id, amount, total in wrong_amounts:
        report.breaks.append(
            f"{name}: transaction {transaction_id} amount {amount} but postings credit {total}"
        )
    count = db.session.execute(select(func.count()).select_from(Transaction)).scalar_one()
    report.checked.append(f"{name}: {count} transactions balanced")

    total = db.session.execute(select(func.coalesce(func.sum(Account.balance), 0))).scalar_one()
    if total != 0:
        report.breaks.append(f"{name}: account balances sum to {total}, not 0")
    report.checked.append(f"{name}: balances sum to zero")

    sums = (
        select(
            Posting.account_id,
            func.sum(Posting.amount).label("total"),
            func.count().label("n"),
            func.max(Posting.account_version).label("top"),
        )
        .group_by(Posting.account_id)
        .subquery()
    )
    rows = db.session.execute(
        select(
            Account.id, Account.balance, Account.version, sums.c.total, sums.c.n, sums.c.top
        ).outerjoin(sums, sums.c.account_id == Account.id)
    ).all()
    for account_id, balance, version, total_, n, top in rows:
        if balance != (total_ or 0):
            report.breaks.append(
                f"{name}: account {account_id} cached balance {balance} != postings {total_ or 0}"
            )
        if version != (n or 0) or (n or 0) != (top or 0):
            report.breaks.append(
                f"{name}: account {account_id} version {version}, {n or 0} postings, top {top or 0}"
            )
    report.checked.append(f"{name}: {len(rows)} accounts match their postings")

    previous = func.lag(Posting.balance_after, 1, 0).over(
        partition_by=Posting.account_id, order_by=Posting.account_version
    )
    position = func.row_number().over(
        partition_by=Posting.account_id, order_by=Posting.account_version
    )
    chain = select(
        Posting.id,
        Posting.account_id,
        Posting.account_version,
        Posting.amount,
        Posting.balance_after,
        previous.label("previous"),
        position.label("position"),
    ).subquery()
    broken = db.session.execute(
        select(chain.c.account_id, chain.c.account_version).where(
            (chain.c.previous + chain.c.amount != chain.c.balance_after)
            | (chain.c.position != chain.c.account_version)
        )
    ).all()
    for account_id, version in broken:
        report.breaks.append(f"{name}: account {account_id} chain broken at version {version}")
    report.checked.append(f"{name}: posting chains continuous")
    _verify_hashes(scheme, report)

    policy = current_policy(scheme)
    for account in db.session.execute(select(Account)).scalars():
        if account.min_balance is not None and account.balance < account.min_balance:
            report.breaks.append(f"{name}: account {account.id} below its minimum")
        if account.max_balance is not None and account.balance > account.max_balance:
            report.breaks.append(f"{name}: account {account.id} above its maximum")
        if account.kind == "member" and account.min_balance is None:
            low = policy["balance"]["min"]
            if low is not None and account.balance < low:
                report.warnings.append(
                    f"{name}: account {account.id} is below the policy minimum (policy changed since)"
                )
    report.checked.append(f"{name}: account limits hold")
    _verify_partner_accounts(scheme, report, policy)


def _verify_partner_accounts(scheme: Scheme, report: Report, policy: dict[str, Any]) -> None:
    """Partner accounts: one per partner, never below zero, within the policy's ceiling."""
    name = scheme.slug
    ceiling = policy["rewards"].get("partner_max_balance")
    owners = db.session.execute(
        select(
            Account.partner_id, func.count(), func.min(Account.balance), func.max(Account.balance)
        )
        .where(Account.kind == "partner")
        .group_by(Account.partner_id)
    ).all()
    for partner_id, count, lowest, highest in owners:
        if count != 1:
            report.breaks.append(f"{name}: partner {partner_id} has {count} accounts, not 1")
        if lowest < 0:
            report.breaks.append(f"{name}: partner {partner_id}'s account is below zero")
        if ceiling is not None and highest > ceiling:
            report.warnings.append(
                f"{name}: partner {partner_id}'s account is above the policy's ceiling "
                "(policy changed since)"
            )
    report.checked.append(f"{name}: {len(owners)} partner accounts within their limits")


def _verify_hashes(scheme: Scheme, report: Report) -> None:
    """Recompute every posting's hash, account by account in version order."""
    name = scheme.slug
    rows = db.session.execute(
        select(
            Posting.id,
            Posting.account_id,
            Posting.account_version,
            Posting.transaction_id,
            Transaction.kind,
            Posting.amount,
            Posting.balance_after,
            Transaction.created_at,
            Posting.prev_hash,
            Posting.hash,
        )
        .join(Transaction, posting_transaction())
        .order_by(Posting.account_id, Posting.account_version)
        .execution_options(yield_per=5000)
    )
    heads: dict[int, str] = {}
    broken: set[int] = set()
    count = 0
    for posting_id, account_id, version, tx_id, kind, amount, after, at, prev, hash_ in rows:
        count += 1
        previous = heads.get(account_id, ZERO_HASH)
        expected = posting_hash(
            scheme_id=scheme.id,
            account_id=account_id,
            account_version=version,
            transaction_id=tx_id,
            kind=kind,
            amount=amount,
            balance_after=after,
            created_at=format_time(at),
            prev_hash=previous,
        )
        # Carry the stored hash on, so one altered posting is reported once.
        heads[account_id] = hash_
        if account_id in broken:
            continue
        if prev != previous:
            broken.add(account_id)
            report.breaks.append(
                f"{name}: account {account_id} hash chain broken at version {version} "
                f"(posting {posting_id}: prev_hash is not the previous posting's hash)"
            )
        elif hash_ != expected:
            broken.add(account_id)
            report.breaks.append(
                f"{name}: account {account_id} hash chain broken at version {version} "
                f"(posting {posting_id}: hash does not match its fields)"
            )
    stored = db.session.execute(select(Account.id, Account.head_hash)).all()
    for account_id, head in stored:
        if account_id not in broken and head != heads.get(account_id, ZERO_HASH):
            report.breaks.append(
                f"{name}: account {account_id} head_hash is not its last posting's hash"
            )
    report.checked.append(f"{name}: {count} posting hashes recomputed")
