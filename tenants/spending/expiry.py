"""Credits that lapse: ``expiry.after_days`` after they were earned, oldest first.

Each credit to a member's account is a *lot*, dated by its transaction's
``created_at`` in the scheme's time zone. Debits consume the oldest lots
first (FIFO), and so do earlier ``expiry`` transactions. A credit that later
pays off a negative balance repays that debt before it becomes a lot, so the
unspent lots always add up to ``max(balance, 0)``. A reversed transaction and
its reversal cancel out on the account: a reversed credit is no lot, a
refunded debit consumed nothing.

A lot earned on day D lapses on D + ``after_days``. ``expire_credits`` posts,
per member, one ``expiry`` transaction to the scheme's ``expiry`` account with
the idempotency key ``expiry:{member_id}:{as_of}``, so a second run for the
same day changes nothing. Accounts are settled in chunks, one unit of work
each, with the chunk's accounts locked (in id order) while their lots are
recomputed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from itertools import groupby
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from timebank.platform import audit, links, tenancy
from timebank.platform.db import db, run_atomic
from timebank.platform.identity.models import User
from timebank.platform.mail import send_mail
from timebank.platform.schemes.models import Scheme
from timebank.tenants.ledger.locking import lock_accounts
from timebank.tenants.ledger.models import Account, Posting, Transaction, posting_transaction
from timebank.tenants.ledger.services import Leg, format_minutes, post_transaction, scheme_account
from timebank.tenants.memberships.models import Member
from timebank.tenants.policy.services import current_policy
from timebank.tenants.spending.models import ExpiryNotice

NOTICE_DAYS = 14
BATCH = 500  # accounts read per query
CHUNK = 50  # accounts settled per unit of work


@dataclass
class Lot:
    earned_on: date
    remaining: int


@dataclass(frozen=True)
class Entry:
    """One transaction's net effect on one account."""

    transaction_id: int
    amount: int
    reverses_id: int | None
    created_at: datetime


class LotQueue:
    """An account's unspent credits (lots, oldest first) and its debt: the FIFO state.

    The one copy of the rule: :func:`unspent_lots` feeds it an account's history;
    the policy dry-run feeds it the replay's movements one by one.
    """

    def __init__(self) -> None:
        self.lots: deque[Lot] = deque()
        self.debt = 0

    def credit(self, amount: int, earned_on: date) -> None:
        """A credit repays the debt first; what is left is a lot."""
        repaid = min(self.debt, amount)
        self.debt -= repaid
        if amount > repaid:
            self.lots.append(Lot(earned_on, amount - repaid))

    def debit(self, amount: int) -> None:
        """A debit consumes the oldest lots first; beyond them it is debt."""
        need = amount
        lots = self.lots
        while need and lots:
            taken = min(need, lots[0].remaining)
            lots[0].remaining -= taken
            need -= taken
            if lots[0].remaining == 0:
                lots.popleft()
        self.debt += need


def lot_queue(history: Sequence[Entry], timezone: str) -> LotQueue:
    """The FIFO state an account's history leaves (``history`` in account order)."""
    zone = ZoneInfo(timezone)
    net = {entry.transaction_id: entry.amount for entry in history}
    cancelled: set[int] = set()
    for entry in history:
        original = entry.reverses_id
        if original is not None and net.get(original) == -entry.amount:
            cancelled.update((entry.transaction_id, original))
    queue = LotQueue()
    for entry in history:
        if entry.transaction_id in cancelled or entry.amount == 0:
            continue
        if entry.amount > 0:
            queue.credit(entry.amount, entry.created_at.astimezone(zone).date())
        else:
            queue.debit(-entry.amount)
    return queue


def unspent_lots(history: Sequence[Entry], timezone: str) -> list[Lot]:
    """The account's credits not yet consumed, oldest first (``history`` in account order)."""
    return list(lot_queue(history, timezone).lots)


def lapse_date(lot: Lot, after_days: int) -> date:
    return lot.earned_on + timedelta(days=after_days)


def account_histories(
    account_ids: Sequence[int], *, before: datetime | None = None
) -> Iterator[tuple[int, list[Entry]]]:
    """Each account's entries in account order (one query per batch of accounts);
    only those of transactions made before ``before`` when it is given."""
    statement = (
        select(
            Posting.account_id,
            Posting.transaction_id,
            Posting.amount,
            Transaction.reverses_id,
            Transaction.created_at,
        )
        .join(Transaction, posting_transaction())
        .where(Posting.account_id.in_(account_ids))
        .order_by(Posting.account_id, Posting.account_version)
    )
    if before is not None:
        statement = statement.where(Transaction.created_at < before)
    rows = db.session.execute(statement).all()
    for account_id, group in groupby(rows, key=lambda row: row[0]):
        entries: list[Entry] = []
        for _account, transaction_id, amount, reverses_id, created_at in group:
            if entries and entries[-1].transaction_id == transaction_id:
                last = entries.pop()  # two legs of one transaction on one account
                amount += last.amount
            entries.append(Entry(transaction_id, amount, reverses_id, created_at))
        yield account_id, entries


def _candidates() -> Iterator[list[tuple[int, int]]]:
    """``(account_id, member_id)`` of open member accounts in credit, in batches."""
    last = 0
    while True:
        batch = [
            (account_id, member_id)
            for account_id, member_id in db.session.execute(
                select(Account.id, Account.member_id)
                .where(
                    Account.kind == "member",
                    Account.status == "open",
                    Account.balance > 0,
                    Account.id > last,
                )
                .order_by(Account.id)
                .limit(BATCH)
            ).all()
            if member_id is not None
        ]
        if not batch:
            return
        yield batch
        last = batch[-1][0]


def due_minutes(lots: Iterable[Lot], after_days: int, as_of: date) -> int:
    return sum(lot.remaining for lot in lots if lapse_date(lot, after_days) <= as_of)


def expire_credits(scheme: Scheme, as_of: date) -> int:
    """Lapse every credit older than the policy allows on ``as_of``; the minutes lapsed.

    Runs inside the scheme's context; idempotent per ``as_of`` day.
    """
    expiry = current_policy(scheme)["expiry"]
    if not expiry:
        return 0
    after_days: int = expiry["after_days"]
    lapsed: list[int] = []
    for batch in _candidates():
        member_of = dict(batch)
        due = [
            account_id
            for account_id, history in account_histories(list(member_of))
            if due_minutes(unspent_lots(history, scheme.timezone), after_days, as_of) > 0
        ]
        for start in range(0, len(due), CHUNK):
            chunk = {account_id: member_of[account_id] for account_id in due[start : start + CHUNK]}
            lapsed += run_atomic(partial(_expire_accounts, scheme, chunk, after_days, as_of))
    total = sum(lapsed)
    if total:
        run_atomic(
            lambda: audit.record(
                scheme.id,
                "credits.expired",
                actor_user_id=None,
                target=f"scheme:{scheme.slug}",
                details={"as_of": as_of.isoformat(), "minutes": total, "members": len(lapsed)},
            )
        )
    return total


def _expire_accounts(
    scheme: Scheme, member_of: dict[int, int], after_days: int, as_of: date
) -> list[int]:
    """One unit of work for a chunk of accounts: lock them, recompute, post; the amounts."""
    keys = {account_id: f"expiry:{member_of[account_id]}:{as_of}" for account_id in member_of}
    done = set(
        db.session.execute(
            select(Transaction.idempotency_key).where(
                Transaction.idempotency_key.in_(list(keys.values()))
            )
        ).scalars()
    )
    accounts = lock_accounts(scheme.id, account_ids=member_of).by_id
    histories = dict(account_histories(sorted(accounts)))
    expiry_account = scheme_account("expiry")
    lapsed = []
    for account_id, account in accounts.items():
        if keys[account_id] in done or account.status != "open" or account.balance <= 0:
            continue
        lots = unspent_lots(histories.get(account_id, []), scheme.timezone)
        amount = min(due_minutes(lots, after_days, as_of), account.balance)
        if amount <= 0:
            continue
        post_transaction(
            scheme,
            kind="expiry",
            legs=[Leg(account.id, -amount), Leg(expiry_account.id, amount)],
            actor_user_id=None,
            memo=f"Credits earned on or before {as_of - timedelta(days=after_days)} lapsed",
            idempotency_key=keys[account_id],
        )
        lapsed.append(amount)
    return lapsed


# --- notices ------------------------------------------------------------------


def send_expiry_notices(scheme: Scheme, as_of: date) -> int:
    """Mail members whose credits lapse within 14 days of ``as_of``; the mails sent.

    One notice per member and coming lapse: while a notice about a lapse on
    or after ``as_of`` stands, the member is not mailed again.
    """
    expiry = current_policy(scheme)["expiry"]
    if not expiry:
        return 0
    after_days: int = expiry["after_days"]
    horizon = as_of + timedelta(days=NOTICE_DAYS)
    sent = 0
    for batch in _candidates():
        member_of = dict(batch)
        for account_id, history in account_histories(list(member_of)):
            soon = [
                lot
                for lot in unspent_lots(history, scheme.timezone)
                if as_of < lapse_date(lot, after_days) <= horizon
            ]
            if not soon:
                continue
            first = min(lapse_date(lot, after_days) for lot in soon)
            minutes = sum(lot.remaining for lot in soon)
            try:
                sent += run_atomic(
                    partial(_notify, scheme, member_of[account_id], first, minutes, as_of)
                )
            except IntegrityError:
                continue  # a concurrent run sent this notice
    return sent


def _notify(scheme: Scheme, member_id: int, lapses_on: date, minutes: int, as_of: date) -> int:
    standing = db.session.execute(
        select(ExpiryNotice.id).where(
            ExpiryNotice.member_id == member_id, ExpiryNotice.lapses_on >= as_of
        )
    ).first()
    if standing is not None:
        return 0
    row = db.session.execute(
        select(Member.status, User.email, User.name)
        .join(User, User.id == Member.user_id)
        .where(Member.id == member_id)
    ).one()
    if row.status == "left":
        return 0
    db.session.add(
        ExpiryNotice(scheme_id=scheme.id, member_id=member_id, lapses_on=lapses_on, minutes=minutes)
    )
    db.session.flush()
    send_mail(
        to=row.email,
        template="credits_expiring",
        context={
            "name": row.name,
            "scheme_name": scheme.name,
            "minutes": minutes,
            "minutes_text": format_minutes(minutes),
            "lapses_on": lapses_on,
            "link": links.link(f"/s/{scheme.slug}", remembered=scheme.link_base),
        },
    )
    return 1


# --- every scheme (CLI, scheduler) --------------------------------------------


def scheme_today(scheme: Scheme) -> date:
    return datetime.now(UTC).astimezone(ZoneInfo(scheme.timezone)).date()


def expire_all(slug: str | None = None, as_of: date | None = None) -> list[dict[str, Any]]:
    """Run expiry and notices for every scheme (or one); ``as_of`` defaults to each one's today.

    Raises ``LookupError`` for an unknown ``slug``.
    """
    statement = select(Scheme).order_by(Scheme.id)
    if slug is not None:
        statement = statement.where(Scheme.slug == slug)
    schemes = list(db.session.execute(statement).scalars())
    if slug is not None and not schemes:
        raise LookupError(slug)
    results = []
    for scheme in schemes:
        day = as_of or scheme_today(scheme)
        with tenancy.scheme_context(scheme.id):
            lapsed = expire_credits(scheme, day)
            notices = send_expiry_notices(scheme, day)
        results.append({"scheme": scheme.slug, "as_of": day, "minutes": lapsed, "notices": notices})
    return results
