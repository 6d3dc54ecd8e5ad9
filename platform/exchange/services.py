"""Agreements between schemes and payments across them: the one place that touches two tenants.

An agreement links a proposer scheme P and a partner scheme Q. Its ``rate`` is an exact
decimal in P's terms (how many of Q's minutes one of P's buys); Q's rate is its exact
reciprocal. Its ``limit`` bounds |P's position| in P's minutes; Q's limit is
``round_half_up(limit × rate)``. Everything is computed with :class:`Fraction`; only what
is shown is rounded (rates half up to 6 places).

A payment from a member of A to a member of B (``pay_partner``) is, in ONE unit of work:

1. the payer's leg in A's ledger: member → clearing[B], ``amount`` A-minutes;
2. the payee's leg in B's ledger: clearing[A] → member, ``credited =
   round_half_up(amount × rate_A→B)`` B-minutes;
3. the :class:`Exchange` row linking them (both transactions carry its id).

Each leg is written under ``scheme_context(its scheme, also_visible=(the other,))``: the ORM
is scoped to one scheme at a time while the RLS setting admits both schemes for this one
unit of work. All four accounts are locked first, in one global order — (scheme id,
account id) — so payments crossing in both directions cannot deadlock; the posting service
then checks the payer's minimum and the payee's maximum; the agreement limit is checked on
both sides (inclusive). Any refusal rolls the whole unit back: no half-payment remains.

Positions and the mirror invariant. A's position is the balance of A's clearing account for
B. Every exchange adds ``+amount`` to the payer side and ``−credited`` to the payee side,
with ``credited`` rounded from the exact rate, so ``clearing_A × rate = −clearing_B`` holds
exactly for every recorded pair and, summed, up to the recorded rounding of each payment
(at most half a payee minute each). ``timebank ledger verify`` (see ``verify.py``) checks
the pairs, the sums and that bound.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, or_, select

from timebank.platform import audit, tenancy
from timebank.platform.api.errors import Conflict, FieldError, Forbidden, NotFound, RuleViolation
from timebank.platform.db import db, next_ids, run_atomic, utcnow
from timebank.platform.exchange.models import Agreement, Exchange
from timebank.platform.identity.models import User
from timebank.platform.schemes.models import Scheme
from timebank.tenants.ledger.models import Account
from timebank.tenants.ledger.services import (
    MAX_AMOUNT,
    Leg,
    describe_transactions,
    format_minutes,
    member_account,
    post_transaction,
    resolve_payee,
)
from timebank.tenants.memberships.models import Member
from timebank.tenants.policy.services import current_policy

OPEN_STATUSES = ("proposed", "active", "suspended")
FINAL_STATUSES = ("ended", "declined")


# --- exact rates -------------------------------------------------------------


def round_half_up(value: Fraction) -> int:
    """Round to the nearest integer, halves away from zero."""
    magnitude = (abs(value.numerator) * 2 + value.denominator) // (2 * value.denominator)
    return magnitude if value >= 0 else -magnitude


def show_rate(rate: Fraction) -> str:
    """A rate as shown: rounded half up to 6 decimal places, trailing zeros dropped."""
    millionths = round_half_up(rate * 1_000_000)
    return format((Decimal(millionths) / Decimal(1_000_000)).normalize(), "f")


def rate_from(agreement: Agreement, scheme_id: int) -> Fraction:
    """How many of the partner's minutes one of ``scheme_id``'s buys (exact)."""
    rate = Fraction(Decimal(agreement.rate))
    return rate if scheme_id == agreement.proposer_scheme_id else 1 / rate


def limit_for(agreement: Agreement, scheme_id: int) -> int:
    """The bound on |position| of ``scheme_id``, in its own minutes."""
    if scheme_id == agreement.proposer_scheme_id:
        return int(agreement.limit)
    return round_half_up(agreement.limit * Fraction(Decimal(agreement.rate)))


def partner_of(agreement: Agreement, scheme_id: int) -> int:
    if scheme_id == agreement.proposer_scheme_id:
        return int(agreement.partner_scheme_id)
    return int(agreement.proposer_scheme_id)


# --- scheme contexts -----------------------------------------------------------


@contextmanager
def leg_context(scheme_id: int, other_id: int) -> Iterator[None]:
    """ORM scoped to ``scheme_id``; the RLS setting admits both schemes of this unit of work."""
    with tenancy.scheme_context(scheme_id, also_visible=(other_id,)):
        yield


def _scheme(scheme_id: int) -> Scheme:
    scheme = db.session.get(Scheme, scheme_id)
    assert scheme is not None
    return scheme


def _exchange_enabled(scheme: Scheme, *, other_id: int) -> bool:
    with leg_context(scheme.id, other_id):
        return bool(current_policy(scheme)["exchange"]["enabled"])


def _require_exchange_enabled(ours: Scheme, partner: Scheme) -> None:
    for scheme, other in ((ours, partner), (partner, ours)):
        if not _exchange_enabled(scheme, other_id=other.id):
            raise RuleViolation(
                f"{scheme.name} does not take part in exchange between schemes "
                "(its policy has exchange.enabled false).",
                code="exchange_disabled",
                extra={"scheme": scheme.slug},
            )


def _audit_both(agreement: Agreement, action: str, *, actor_user_id: int, **details: Any) -> None:
    """Record one change in the audit trail of each scheme, under that scheme's context."""
    pair = (agreement.proposer_scheme_id, agreement.partner_scheme_id)
    for scheme_id in pair:
        other_id = partner_of(agreement, scheme_id)
        with tenancy.scheme_context(scheme_id):
            audit.record(
                scheme_id,
                action,
                actor_user_id=actor_user_id,
                target=f"agreement:{agreement.id}",
                details={
                    "partner": _scheme(other_id).slug,
                    "status": agreement.status,
                    "rate": show_rate(rate_from(agreement, scheme_id)),
                    "limit": limit_for(agreement, scheme_id),
                    **details,
                },
            )


# --- reading agreements ---------------------------------------------------------


def _involving(scheme_id: int) -> Any:
    return or_(Agreement.proposer_scheme_id == scheme_id, Agreement.partner_scheme_id == scheme_id)


def get_agreement(scheme: Scheme, agreement_id: int, *, lock: bool = False) -> Agreement:
    """An agreement ``scheme`` is a side of, or the same 404 as a missing one."""
    statement = select(Agreement).where(Agreement.id == agreement_id, _involving(scheme.id))
    if lock:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    agreement = db.session.execute(statement).scalar_one_or_none()
    if agreement is None:
        raise NotFound("No such agreement for this scheme.")
    return agreement


def agreements_query(scheme: Scheme, *, status: str | None = None) -> Any:
    statement = select(Agreement).where(_involving(scheme.id))
    if status is not None:
        statement = statement.where(Agreement.status == status)
    return statement


def positions(scheme: Scheme, partner_ids: set[int]) -> dict[int, int]:
    """Balance of ``scheme``'s clearing account for each partner (missing → 0)."""
    if not partner_ids:
        return {}
    rows = db.session.execute(
        select(Account.partner_scheme_id, Account.balance).where(
            Account.kind == "clearing", Account.partner_scheme_id.in_(sorted(partner_ids))
        )
    ).all()
    return {int(partner): int(balance) for partner, balance in rows if partner is not None}


def describe_agreements(scheme: Scheme, agreements: list[Agreement]) -> list[dict[str, Any]]:
    """Agreements in ``scheme``'s own terms (the current scheme context must be ``scheme``)."""
    partner_ids = {partner_of(a, scheme.id) for a in agreements}
    names = {
        row.id: row
        for row in db.session.execute(
            select(Scheme).where(Scheme.id.in_(sorted(partner_ids)))
        ).scalars()
    }
    position = positions(scheme, partner_ids)
    out = []
    for agreement in agreements:
        partner = names[partner_of(agreement, scheme.id)]
        out.append(
            {
                "id": agreement.id,
                "partner": partner.slug,
                "partner_name": partner.name,
                "role": "proposer" if agreement.proposer_scheme_id == scheme.id else "partner",
                "rate": show_rate(rate_from(agreement, scheme.id)),
                "limit": limit_for(agreement, scheme.id),
                "position": position.get(partner.id, 0),
                "status": agreement.status,
                "created_at": agreement.created_at,
                "accepted_at": agreement.accepted_at,
                "ended_at": agreement.ended_at,
            }
        )
    return out


# --- changing agreements ----------------------------------------------------------


def propose_agreement(
    scheme: Scheme, *, partner_slug: str, rate: str, limit: int, actor_user_id: int
) -> dict[str, Any]:
    """Propose an agreement to another scheme. 409 ``agreement_exists`` for an open one."""

    def work() -> dict[str, Any]:
        partner = db.session.execute(
            select(Scheme).where(Scheme.slug == partner_slug)
        ).scalar_one_or_none()
        if partner is None:
            raise FieldError("partner", "No scheme with this address.")
        if partner.id == scheme.id:
            raise FieldError("partner", "A scheme cannot make an agreement with itself.")
        _require_exchange_enabled(scheme, partner)
        # Both scheme rows, in id order: two proposals between one pair cannot both pass.
        db.session.execute(
            select(Scheme.id)
            .where(Scheme.id.in_(sorted((scheme.id, partner.id))))
            .order_by(Scheme.id)
            .with_for_update()
        ).all()
        existing = db.session.execute(
            select(Agreement.id, Agreement.status).where(
                _pair(scheme.id, partner.id), Agreement.status.in_(OPEN_STATUSES)
            )
        ).first()
        if existing is not None:
            raise Conflict(
                f"There is already an agreement with {partner.name} "
                f"(id {existing.id}, {existing.status}); end it before proposing another.",
                code="agreement_exists",
                extra={"agreement_id": existing.id},
            )
        agreement = Agreement(
            proposer_scheme_id=scheme.id,
            partner_scheme_id=partner.id,
            rate=rate,
            limit=limit,
            status="proposed",
            proposed_by=actor_user_id,
        )
        db.session.add(agreement)
        db.session.flush()
        _audit_both(agreement, "agreement.proposed", actor_user_id=actor_user_id)
        return describe_agreements(scheme, [agreement])[0]

    return run_atomic(work)


def _pair(first: int, second: int) -> Any:
    return or_(
        and_(Agreement.proposer_scheme_id == first, Agreement.partner_scheme_id == second),
        and_(Agreement.proposer_scheme_id == second, Agreement.partner_scheme_id == first),
    )


@dataclass(frozen=True)
class Transition:
    source: tuple[str, ...]
    target: str
    partner_only: bool = False


TRANSITIONS = {
    "accept": Transition(("proposed",), "active", partner_only=True),
    "decline": Transition(("proposed",), "declined", partner_only=True),
    "suspend": Transition(("active",), "suspended"),
    "resume": Transition(("suspended",), "active"),
    "end": Transition(OPEN_STATUSES, "ended"),
}


def change_agreement(
    scheme: Scheme, agreement_id: int, action: str, *, actor_user_id: int
) -> dict[str, Any]:
    """Accept, decline, suspend, resume or end an agreement, as ``scheme``'s coordinator.

    Raises 404 for another pair's agreement, 403 ``proposer_cannot_accept`` when the
    proposer accepts or declines, 422 ``agreement_ended`` once ended or declined, 422
    ``invalid_transition`` otherwise (e.g. resuming an active agreement).
    """
    transition = TRANSITIONS[action]

    def work() -> dict[str, Any]:
        agreement = get_agreement(scheme, agreement_id, lock=True)
        if transition.partner_only and agreement.partner_scheme_id != scheme.id:
            raise Forbidden(
                f"Only the partner scheme's coordinator can {action} this agreement.",
                code="proposer_cannot_accept",
            )
        if agreement.status in FINAL_STATUSES:
            raise RuleViolation(
                f"This agreement is {agreement.status}: it cannot change any more.",
                code="agreement_ended",
            )
        if agreement.status not in transition.source:
            raise RuleViolation(
                f"A {agreement.status} agreement cannot be {_past(action)}.",
                code="invalid_transition",
                extra={"agreement_status": agreement.status},
            )
        partner = _scheme(partner_of(agreement, scheme.id))
        if action == "accept":
            _require_exchange_enabled(scheme, partner)
            for side, other in ((scheme, partner), (partner, scheme)):
                with leg_context(side.id, other.id):
                    open_clearing_account(side.id, other.id)
            agreement.accepted_by = actor_user_id
            agreement.accepted_at = utcnow()
        if transition.target in FINAL_STATUSES:
            agreement.ended_at = utcnow()
        before = agreement.status
        agreement.status = transition.target
        db.session.flush()
        _audit_both(
            agreement,
            f"agreement.{_past(action)}",
            actor_user_id=actor_user_id,
            before=before,
            by_scheme=scheme.slug,
        )
        return describe_agreements(scheme, [agreement])[0]

    return run_atomic(work)


def _past(action: str) -> str:
    return {
        "accept": "accepted",
        "decline": "declined",
        "suspend": "suspended",
        "resume": "resumed",
        "end": "ended",
    }[action]


def open_clearing_account(scheme_id: int, partner_id: int) -> Account:
    """The current scheme's clearing account for ``partner_id``, opened if missing."""
    account = db.session.execute(
        select(Account).where(Account.kind == "clearing", Account.partner_scheme_id == partner_id)
    ).scalar_one_or_none()
    if account is None:
        account = Account(scheme_id=scheme_id, kind="clearing", partner_scheme_id=partner_id)
        db.session.add(account)
        db.session.flush()
    return account


# --- paying across ------------------------------------------------------------------


def _agreement_between(first: int, second: int, *, lock: bool) -> Agreement | None:
    """The pair's current agreement: the open one, else the last ended one (declined: none).

    An open agreement is always the newest, since none can be proposed while one is open.
    """
    statement = (
        select(Agreement)
        .where(_pair(first, second), Agreement.status != "declined")
        .order_by(Agreement.id.desc())
        .limit(1)
    )
    if lock:
        # Payments share the row; a suspension (FOR UPDATE) waits for them, and vice versa.
        statement = statement.with_for_update(read=True).execution_options(populate_existing=True)
    return db.session.execute(statement).scalar_one_or_none()


def _clearing(partner_id: int) -> Account:
    account = db.session.execute(
        select(Account).where(Account.kind == "clearing", Account.partner_scheme_id == partner_id)
    ).scalar_one_or_none()
    if account is None:  # pragma: no cover - opened on acceptance
        raise RuleViolation("This agreement has no clearing account yet.", code="no_agreement")
    return account


def _lock(account_ids: list[int]) -> dict[int, Account]:
    """Lock accounts of the current scheme in id order, with their balances reloaded."""
    rows = db.session.execute(
        select(Account)
        .where(Account.id.in_(sorted(account_ids)))
        .order_by(Account.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalars()
    return {account.id: account for account in rows}


def pay_partner(
    scheme: Scheme,
    member: Member,
    *,
    to_scheme: str,
    to_member_id: int,
    amount: int,
    memo: str | None,
    actor_user_id: int,
) -> dict[str, Any]:
    """Pay a member of a partner scheme; returns the payer's leg as the ledger describes it.

    Raises 422 on ``to_scheme``/``to_member_id``/``amount``, 422 ``exchange_disabled``,
    ``no_agreement``, ``agreement_not_active``, ``agreement_limit_exceeded``,
    ``insufficient_balance``, ``balance_above_maximum``; 403 ``scheme_suspended`` when the
    partner scheme is suspended. Nothing is written unless everything succeeds.
    """
    payer_scheme = scheme

    def work() -> dict[str, Any]:
        payee_scheme = db.session.execute(
            select(Scheme).where(Scheme.slug == to_scheme)
        ).scalar_one_or_none()
        if payee_scheme is None:
            raise FieldError("to_scheme", "No scheme with this address.")
        if payee_scheme.id == payer_scheme.id:
            raise FieldError(
                "to_scheme", "This is your own scheme: leave out to_scheme to pay a member here."
            )
        a, b = payer_scheme.id, payee_scheme.id
        _require_exchange_enabled(payer_scheme, payee_scheme)
        agreement = _agreement_between(a, b, lock=True)
        if agreement is None:
            raise RuleViolation(
                f"{payer_scheme.name} has no exchange agreement with {payee_scheme.name}.",
                code="no_agreement",
            )
        if agreement.status != "active":
            raise RuleViolation(
                f"The agreement with {payee_scheme.name} is {agreement.status}: "
                "payments need an active agreement.",
                code="agreement_not_active",
                extra={"agreement_status": agreement.status},
            )
        if payee_scheme.is_suspended:
            raise Forbidden(
                f"{payee_scheme.name} is suspended: it cannot receive payments now.",
                code="scheme_suspended",
            )
        rate = rate_from(agreement, a)
        credited = round_half_up(amount * rate)
        if credited < 1:
            least = _least_amount(rate)
            raise FieldError(
                "amount",
                f"At this rate {amount} minute(s) buy less than one minute in "
                f"{payee_scheme.name}; pay at least {least}.",
            )
        if credited > MAX_AMOUNT:
            raise FieldError("amount", "Too large at this rate.")

        with leg_context(a, b):
            payer_account = member_account(member.id)
            payer_clearing = _clearing(b)
        with leg_context(b, a):
            payee = resolve_payee("to_member_id", to_member_id)
            payee_account = member_account(payee.id)
            payee_clearing = _clearing(a)
            payee_name = _payee_display_name(payee_scheme, payee)

        # Every account of both legs, in one global order: (scheme id, account id).
        locks = {a: [payer_account.id, payer_clearing.id], b: [payee_account.id, payee_clearing.id]}
        locked: dict[int, dict[int, Account]] = {}
        for scheme_id in sorted(locks):
            with leg_context(scheme_id, b if scheme_id == a else a):
                locked[scheme_id] = _lock(locks[scheme_id])
        position_a = locked[a][payer_clearing.id].balance + amount
        position_b = locked[b][payee_clearing.id].balance - credited
        for side, position in ((payer_scheme, position_a), (payee_scheme, position_b)):
            limit = limit_for(agreement, side.id)
            if abs(position) > limit:
                raise RuleViolation(
                    f"This payment would take {side.name}'s exchange position to "
                    f"{format_minutes(position)}, beyond the agreement's limit of "
                    f"{format_minutes(limit)} in its minutes.",
                    code="agreement_limit_exceeded",
                    extra={"scheme": side.slug, "limit": limit, "position_after": position},
                )

        exchange_id = next_ids(db.session(), "exchanges", 1)[0]
        with leg_context(a, b):
            payer_leg = post_transaction(
                payer_scheme,
                kind="exchange",
                legs=[Leg(payer_account.id, -amount), Leg(payer_clearing.id, amount)],
                actor_user_id=actor_user_id,
                memo=memo,
                partner_scheme_id=b,
                exchange_id=exchange_id,
                names={payer_account.id: "Your balance"},
            )
        with leg_context(b, a):
            payee_leg = post_transaction(
                payee_scheme,
                kind="exchange",
                legs=[Leg(payee_clearing.id, -credited), Leg(payee_account.id, credited)],
                actor_user_id=actor_user_id,
                memo=memo,
                partner_scheme_id=a,
                exchange_id=exchange_id,
                names={payee_account.id: "The payee's balance"},
            )
        db.session.add(
            Exchange(
                id=exchange_id,
                agreement_id=agreement.id,
                payer_scheme_id=a,
                payee_scheme_id=b,
                payer_transaction_id=payer_leg.id,
                payee_transaction_id=payee_leg.id,
                amount=amount,
                credited=credited,
                created_by=actor_user_id,
            )
        )
        db.session.flush()
        with leg_context(a, b):
            described = describe_transactions([payer_leg])[0]
        described["exchange"] = {
            "id": exchange_id,
            "agreement_id": agreement.id,
            "rate": show_rate(rate),
            "credited": credited,
            "payee_name": payee_name,
        }
        return described

    return run_atomic(work)


def _least_amount(rate: Fraction) -> int:
    """The smallest payment that credits at least one minute: amount × rate ≥ ½."""
    least = Fraction(1, 2) / rate
    return int(-(-least.numerator // least.denominator))


def _payee_display_name(payee_scheme: Scheme, payee: Member) -> str | None:
    """The payee's name as the payee scheme's directory shows it to members (or none)."""
    mode = current_policy(payee_scheme)["privacy"]["member_directory"]
    if mode == "hidden":
        return None
    user = db.session.get(User, payee.user_id)
    name = user.name if user else ""
    return name.split()[0] if mode == "first_names" and name.split() else name


# --- settlement ----------------------------------------------------------------------


def settlement(
    scheme: Scheme, agreement_id: int, *, start: date | None, end: date | None
) -> dict[str, Any]:
    """What flowed each way under one agreement in a period, in ``scheme``'s terms.

    ``start``/``end`` are inclusive dates in the scheme's time zone (default: from the
    agreement's creation to today). Positions are those of our clearing account for the
    partner at the start and the end of the period.
    """
    agreement = get_agreement(scheme, agreement_id)
    partner = _scheme(partner_of(agreement, scheme.id))
    zone = ZoneInfo(scheme.timezone or "UTC")
    start = start or agreement.created_at.astimezone(zone).date()
    end = end or datetime.now(zone).date()
    if start > end:
        raise FieldError("to", "Must not be before `from`.")
    lower = datetime.combine(start, time(), zone).astimezone(UTC)
    upper = datetime.combine(end + timedelta(days=1), time(), zone).astimezone(UTC)

    outgoing = Exchange.payer_scheme_id == scheme.id
    rows = db.session.execute(
        select(
            outgoing.label("outgoing"),
            func.count(),
            func.coalesce(func.sum(Exchange.amount), 0),
            func.coalesce(func.sum(Exchange.credited), 0),
        )
        .where(
            Exchange.agreement_id == agreement.id,
            Exchange.created_at >= lower,
            Exchange.created_at < upper,
        )
        .group_by(outgoing)
    ).all()
    flows = {True: _flow(), False: _flow()}
    for is_outgoing, count, amount, credited in rows:
        flows[bool(is_outgoing)] = {
            "count": int(count),
            "amount": int(amount),
            "credited": int(credited),
        }
    return {
        "agreement_id": agreement.id,
        "partner": partner.slug,
        "rate": show_rate(rate_from(agreement, scheme.id)),
        "status": agreement.status,
        "from_": start,
        "to": end,
        "paid_out": flows[True],
        "received": flows[False],
        "net": flows[True]["amount"] - flows[False]["credited"],
        "opening_position": _position_at(scheme.id, partner.id, lower),
        "closing_position": _position_at(scheme.id, partner.id, upper),
        "position": positions(scheme, {partner.id}).get(partner.id, 0),
    }


def _flow() -> dict[str, int]:
    return {"count": 0, "amount": 0, "credited": 0}


def _position_at(scheme_id: int, partner_id: int, moment: datetime) -> int:
    """Our clearing balance for the partner just before ``moment``, from the exchange records."""
    delta = case(
        (Exchange.payer_scheme_id == scheme_id, Exchange.amount),
        else_=-Exchange.credited,
    )
    total = db.session.execute(
        select(func.coalesce(func.sum(delta), 0)).where(
            or_(
                and_(Exchange.payer_scheme_id == scheme_id, Exchange.payee_scheme_id == partner_id),
                and_(Exchange.payer_scheme_id == partner_id, Exchange.payee_scheme_id == scheme_id),
            ),
            Exchange.created_at < moment,
        )
    ).scalar_one()
    return int(total)
