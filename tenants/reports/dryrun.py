"""A draft policy tried on history: what the last months would have been under it.

``dry_run`` replays the scheme's last ``months`` calendar months (this one
included) in memory and writes nothing: it only reads. Every decision is taken
by the live rule code (:mod:`timebank.tenants.ledger.rules`, the posting
service's limit check, the claim's credit arithmetic, the expiry's FIFO lots),
called with the replay's state instead of the database's (the expiry's
``LotQueue`` is fed the replay's movements one by one).

What is replayed, in order of day (a claim's ``performed_on``, a transaction's
date in the scheme's time zone), then of the moment it was written:

- approved claims performed in the period: claims on/off, the longest claim,
  the credit at the draft's activity rates, the cap (counting the claims the
  replay credited), then the limits of the member's and the issuance account;
- peer transfers: transfers on/off, the largest payment, then both limits;
- redemptions (``spend``): rewards on/off, then the member's limits;
- expiry: the draft's ``expiry.after_days`` lapses lots as the nightly job
  would (before a member's next event, and at the end as of today); the
  period's real expiry transactions are left out and only counted;
- every other transaction (bulk awards, gifts, exchange legs, adjustments,
  reversals of what came before the period) as it happened, unjudged.

A transaction reversed within the period and its reversal cancel out and are
left out. Balances start from each account's real balance on the period's
first day. A member is *outside limits* when the predicted balance at the end
is outside the limits the draft gives them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from timebank.platform.api.errors import FieldError, RuleViolation
from timebank.platform.db import db
from timebank.platform.schemes.models import Scheme
from timebank.tenants.earning.models import Activity, Claim
from timebank.tenants.earning.services import credited_minutes, period_bounds, scheme_today
from timebank.tenants.ledger.models import Account, Posting, Transaction, posting_transaction
from timebank.tenants.ledger.posting import effective_limits
from timebank.tenants.ledger.rules import (
    check_cap,
    check_claim_length,
    check_claims_enabled,
    check_limits,
    check_rewards_enabled,
    check_transfer,
)
from timebank.tenants.policy.schemas import validate_policy
from timebank.tenants.spending.expiry import LotQueue, account_histories, due_minutes, lot_queue


@dataclass
class Refusal:
    kind: str  # claim, transfer, redemption
    id: int  # the claim's or the transaction's id
    member_id: int | None
    minutes: int
    code: str


@dataclass
class DryRun:
    months: list[str]
    refusals: list[Refusal] = field(default_factory=list)
    actual_earned: dict[str, int] = field(default_factory=dict)
    predicted_earned: dict[str, int] = field(default_factory=dict)
    actual_expired: int = 0
    predicted_expired: int = 0
    balances: dict[int, int] = field(default_factory=dict)  # member id → predicted minutes
    outside_limits: list[int] = field(default_factory=list)

    def of(self, kind: str) -> list[Refusal]:
        return [refusal for refusal in self.refusals if refusal.kind == kind]

    def as_dict(self) -> dict[str, Any]:
        claims = self.of("claim")
        return {
            "claims_refused": len(claims),
            "minutes_not_credited": sum(refusal.minutes for refusal in claims),
            "transfers_refused": len(self.of("transfer")),
            "redemptions_refused": len(self.of("redemption")),
            "refused": [refusal.__dict__ for refusal in self.refusals],
            "minutes_expired": {"actual": self.actual_expired, "predicted": self.predicted_expired},
            "members_outside_limits": self.outside_limits,
            "by_month": [
                {
                    "month": month,
                    "actual_minutes_earned": self.actual_earned.get(month, 0),
                    "predicted_minutes_earned": self.predicted_earned.get(month, 0),
                }
                for month in self.months
            ],
        }


@dataclass(frozen=True, slots=True)
class _Event:
    day: date
    at: datetime
    order: int  # the transaction's (or the claim's) id: ties broken as written
    kind: str  # claim, transfer, spend, other
    claim: Any = None  # a row of the claim's columns (id, member_id, minutes …)
    legs: tuple[tuple[int, int], ...] = ()  # (account id, amount)
    transaction_id: int | None = None


def _month(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _months_back(today: date, months: int) -> list[date]:
    firsts = []
    year, month = today.year, today.month
    for _ in range(months):
        firsts.append(date(year, month, 1))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return firsts[::-1]


def resolve_rates(rates: list[dict[str, Any]]) -> dict[int, str]:
    """``[{activity_id, rate}]`` of the request → ``{activity id: rate}``; 422 for an unknown id."""
    known = set(db.session.execute(select(Activity.id)).scalars())
    resolved: dict[int, str] = {}
    for index, item in enumerate(rates):
        if item["activity_id"] not in known:
            raise FieldError(
                f"activity_rates.{index}.activity_id", "No activity with this id in this scheme."
            )
        resolved[item["activity_id"]] = item["rate"]
    return resolved


class _Replay:
    def __init__(self, scheme: Scheme, draft: dict[str, Any], rates: dict[int, str]) -> None:
        self.scheme = scheme
        self.draft = draft
        self.zone = ZoneInfo(scheme.timezone)
        self.accounts = {a.id: a for a in db.session.execute(select(Account)).scalars()}
        self.by_member = {a.member_id: a for a in self.accounts.values() if a.member_id}
        self.issuance = next(a for a in self.accounts.values() if a.kind == "issuance")
        self.rates = {
            a.id: rates.get(a.id, a.rate) for a in db.session.execute(select(Activity)).scalars()
        }
        self.balance: dict[int, int] = {}
        self.used: dict[tuple[int, date], int] = defaultdict(int)
        # Per member account, its unspent credits (the live expiry's FIFO, fed move by move).
        self.lots: dict[int, LotQueue] = {}
        self.expiry_days: int | None = (draft["expiry"] or {}).get("after_days")
        self.predicted_expired = 0

    # --- state ----------------------------------------------------------------

    def open(self, start: datetime, first_day: date) -> None:
        """Balances, lots and cap usage as they were when the period began."""
        since = dict(
            db.session.execute(
                select(Posting.account_id, func.sum(Posting.amount))
                .join(Transaction, posting_transaction())
                .where(Transaction.created_at >= start)
                .group_by(Posting.account_id)
            ).all()
        )
        self.balance = {i: a.balance - int(since.get(i, 0)) for i, a in self.accounts.items()}
        if self.expiry_days is not None:
            members = [a.id for a in self.by_member.values()]
            self.lots = {account_id: LotQueue() for account_id in members}
            for batch in range(0, len(members), 500):
                chunk = members[batch : batch + 500]
                for account_id, history in account_histories(chunk, before=start):
                    self.lots[account_id] = lot_queue(history, self.scheme.timezone)
        cap = self.draft["claims"]["cap"]
        if cap is not None:
            earliest = period_bounds(first_day, cap["period"])[0]
            for member_id, performed_on, minutes in db.session.execute(
                select(Claim.member_id, Claim.performed_on, Claim.credited_minutes).where(
                    Claim.status == "approved",
                    Claim.performed_on >= earliest,
                    Claim.performed_on < first_day,
                )
            ):
                self.used[(member_id, period_bounds(performed_on, cap["period"])[0])] += minutes

    def lapse(self, account_id: int, day: date) -> None:
        """The nightly expiry of ``day`` for one member account, under the draft."""
        queue = self.lots.get(account_id)
        if self.expiry_days is None or queue is None or not queue.lots:
            return
        if (day - queue.lots[0].earned_on).days < self.expiry_days:
            return  # the oldest lot is not due yet, so none is
        amount = min(due_minutes(queue.lots, self.expiry_days, day), self.balance[account_id])
        if amount > 0:
            self.balance[account_id] -= amount
            self.predicted_expired += amount
            queue.debit(amount)

    def move(self, legs: tuple[tuple[int, int], ...], at: datetime, *, judge: bool) -> None:
        """Check (when ``judge``) and apply legs, as the posting service does."""
        net: dict[int, int] = defaultdict(int)
        for account_id, amount in legs:
            net[account_id] += amount
        if judge:
            for account_id, delta in net.items():
                account = self.accounts[account_id]
                check_limits(
                    self.scheme, self.draft, account, self.balance[account_id], delta, "The balance"
                )
        for account_id, delta in net.items():
            self.balance[account_id] += delta
            queue = self.lots.get(account_id)
            if queue is not None and delta > 0:
                queue.credit(delta, at.astimezone(self.zone).date())
            elif queue is not None and delta < 0:
                queue.debit(-delta)


def _events(start: datetime, first_day: date, zone: ZoneInfo) -> tuple[list[_Event], int]:
    """The period's events, in replay order, and the minutes really expired in it."""
    rows = db.session.execute(
        select(
            Transaction.id,
            Transaction.kind,
            Transaction.created_at,
            Transaction.reverses_id,
            Posting.account_id,
            Posting.amount,
        )
        .join(Posting, posting_transaction())
        .where(Transaction.created_at >= start)
        .order_by(Transaction.id, Posting.id)
    ).all()
    transactions: dict[int, dict[str, Any]] = {}
    for tid, kind, created_at, reverses_id, account_id, amount in rows:
        item = transactions.setdefault(
            tid, {"kind": kind, "at": created_at, "reverses": reverses_id, "legs": []}
        )
        item["legs"].append((account_id, amount))
    cancelled: set[int] = set()
    for tid, item in transactions.items():
        if item["reverses"] in transactions:
            cancelled.update((tid, item["reverses"]))
    claims = db.session.execute(
        select(
            Claim.id,
            Claim.member_id,
            Claim.activity_id,
            Claim.minutes,
            Claim.credited_minutes,
            Claim.performed_on,
            Claim.transaction_id,
        ).where(Claim.status == "approved", Claim.performed_on >= first_day)
    ).all()
    events: list[_Event] = []
    judged: set[int] = set()
    for claim in claims:
        if claim.transaction_id is None or claim.transaction_id in cancelled:
            continue
        judged.add(claim.transaction_id)
        at = transactions.get(claim.transaction_id, {}).get("at") or datetime.combine(
            claim.performed_on, time.min, zone
        )
        events.append(_Event(claim.performed_on, at, claim.transaction_id, "claim", claim=claim))
    expired = 0
    for tid, item in transactions.items():
        if tid in cancelled or tid in judged:
            continue
        if item["kind"] == "expiry":
            expired += max(amount for _, amount in item["legs"])
            continue
        kind = item["kind"] if item["kind"] in ("transfer", "spend") else "other"
        day = item["at"].astimezone(zone).date()
        events.append(
            _Event(day, item["at"], tid, kind, legs=tuple(item["legs"]), transaction_id=tid)
        )
    events.sort(key=lambda event: (event.day, event.at, event.order))
    return events, expired


def dry_run(
    scheme: Scheme,
    draft: Any,
    *,
    months: int = 12,
    activity_rates: dict[int, str] | None = None,
) -> DryRun:
    """Replay the last ``months`` under ``draft`` (a full policy document); reads only.

    Raises ``ValidationError`` (dotted keys) for a draft that is not a valid policy.
    """
    policy = validate_policy(draft)
    today = scheme_today(scheme)
    firsts = _months_back(today, months)
    zone = ZoneInfo(scheme.timezone)
    start = datetime.combine(firsts[0], time.min, zone).astimezone(UTC)
    replay = _Replay(scheme, policy, activity_rates or {})
    replay.open(start, firsts[0])
    result = DryRun(months=[_month(first) for first in firsts])
    events, result.actual_expired = _events(start, firsts[0], zone)
    member_of = {a.id: a.member_id for a in replay.accounts.values()}
    for event in events:
        for account_id in {account_id for account_id, _ in event.legs} | (
            {replay.by_member[event.claim.member_id].id} if event.claim else set()
        ):
            replay.lapse(account_id, event.day)
        if event.claim is not None:
            _claim(replay, result, event)
            continue
        if event.kind == "other":
            replay.move(event.legs, event.at, judge=False)
            for account_id, amount in event.legs:
                if account_id == replay.issuance.id and amount < 0:
                    month = _month(event.day)
                    result.actual_earned[month] = result.actual_earned.get(month, 0) - amount
                    result.predicted_earned[month] = result.predicted_earned.get(month, 0) - amount
            continue
        payer = next((member_of[i] for i, amount in event.legs if amount < 0), None)
        try:
            if event.kind == "transfer":
                check_transfer(policy, scheme.name, max(a for _, a in event.legs))
            else:
                check_rewards_enabled(policy, scheme.name)
            replay.move(event.legs, event.at, judge=True)
        except RuleViolation as refusal:
            result.refusals.append(
                Refusal(
                    "transfer" if event.kind == "transfer" else "redemption",
                    event.order,
                    payer,
                    max(a for _, a in event.legs),
                    refusal.code or "refused",
                )
            )
    for account in replay.by_member.values():
        replay.lapse(account.id, today)
    result.predicted_expired = replay.predicted_expired
    for member_id, account in sorted(replay.by_member.items()):
        balance = replay.balance[account.id]
        result.balances[member_id] = balance
        low, high = effective_limits(account, policy)
        if account.status == "open" and (
            (low is not None and balance < low) or (high is not None and balance > high)
        ):
            result.outside_limits.append(member_id)
    return result


def _claim(replay: _Replay, result: DryRun, event: _Event) -> None:
    claim = event.claim
    assert claim is not None
    policy, scheme = replay.draft, replay.scheme
    month = _month(claim.performed_on)
    result.actual_earned[month] = result.actual_earned.get(month, 0) + claim.credited_minutes
    account = replay.by_member[claim.member_id]
    try:
        check_claims_enabled(policy, scheme.name)
        check_claim_length(policy, scheme.name, claim.minutes)
        credited = credited_minutes(claim.minutes, replay.rates[claim.activity_id])
        if credited < 1:
            raise RuleViolation("Earns nothing at the draft rate.", code="earns_nothing")
        cap = policy["claims"]["cap"]
        key = (
            (claim.member_id, period_bounds(claim.performed_on, cap["period"])[0])
            if cap
            else (claim.member_id, claim.performed_on)
        )
        check_cap(
            cap,
            used=replay.used[key],
            credited=credited,
            period_start=key[1],
            scheme_name=scheme.name,
            whose="The member has",
        )
        replay.move(((replay.issuance.id, -credited), (account.id, credited)), event.at, judge=True)
    except RuleViolation as refusal:
        result.refusals.append(
            Refusal("claim", claim.id, claim.member_id, claim.credited_minutes, refusal.code or "")
        )
        return
    replay.used[key] += credited
    result.predicted_earned[month] = result.predicted_earned.get(month, 0) + credited
