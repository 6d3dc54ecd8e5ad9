"""Paying a member of a partner scheme: two ledgers, one unit of work.

A payment from a member of A to a member of B (``pay_partner``) is, in ONE unit of work:

1. the payer's leg in A's ledger: member → clearing[B], ``amount`` A-minutes;
2. the payee's leg in B's ledger: clearing[A] → member, ``credited =
   round_half_up(amount × rate_A→B)`` B-minutes, at the exact rate;
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

from fractions import Fraction
from typing import Any

from sqlalchemy import select

from timebank.platform.api.errors import FieldError, Forbidden, NotFound, RuleViolation
from timebank.platform.db import db, next_ids, run_atomic
from timebank.platform.exchange.models import Agreement, Exchange
from timebank.platform.exchange.terms import (
    between,
    leg_context,
    limit_for,
    rate_from,
    require_exchange_enabled,
    round_half_up,
    show_rate,
)
from timebank.platform.identity.models import User
from timebank.platform.schemes.models import Scheme
from timebank.tenants.ledger.credit_mail import notify_credit
from timebank.tenants.ledger.locking import lock_accounts
from timebank.tenants.ledger.models import Account
from timebank.tenants.ledger.services import (
    MAX_AMOUNT,
    Leg,
    Posted,
    describe_transactions,
    format_minutes,
    post_transaction,
    resolve_payee,
)
from timebank.tenants.memberships.models import Member
from timebank.tenants.policy.services import current_policy


def _agreement_between(first: int, second: int, *, lock: bool) -> Agreement | None:
    """The pair's current agreement: the open one, else the last ended one (declined: none).

    An open agreement is always the newest, since none can be proposed while one is open.
    """
    statement = (
        select(Agreement)
        .where(between(first, second), Agreement.status != "declined")
        .order_by(Agreement.id.desc())
        .limit(1)
    )
    if lock:
        # Payments share the row; a suspension (FOR UPDATE) waits for them, and vice versa.
        statement = statement.with_for_update(read=True).execution_options(populate_existing=True)
    return db.session.execute(statement).scalar_one_or_none()


def _lock_leg_accounts(scheme_id: int, member_id: int, partner_id: int) -> tuple[Account, Account]:
    """Lock a member's account and the clearing account for ``partner_id`` in ``scheme_id``.

    One statement, in account id order, balances reloaded: the caller takes the schemes in
    scheme id order, so every payment locks in the one global order (scheme id, account id).
    """
    locked = lock_accounts(scheme_id, member_ids=(member_id,), clearing_partner_id=partner_id)
    member, clearing = locked.of_member(member_id), locked.clearing(partner_id)
    if member is None:  # pragma: no cover - every member has an account
        raise NotFound("This member has no account in this scheme.")
    if clearing is None:  # pragma: no cover - opened on acceptance
        raise RuleViolation("This agreement has no clearing account yet.", code="no_agreement")
    return member, clearing


def pay_partner(
    scheme: Scheme,
    member: Member,
    *,
    to_scheme: str,
    to_member_id: int | None = None,
    to_member_number: int | None = None,
    amount: int,
    memo: str | None,
    actor_user_id: int,
) -> dict[str, Any]:
    """Pay a member of a partner scheme; returns the payer's leg as the ledger describes it.

    The payee is ``to_member_id`` (the API) or ``to_member_number`` (the number members
    are shown in their scheme: the pages); errors name ``to_member_id`` either way.

    Raises 422 on ``to_scheme``/``to_member_id``/``amount``, 422 ``exchange_disabled``,
    ``no_agreement``, ``agreement_not_active``, ``agreement_limit_exceeded``,
    ``insufficient_balance``, ``balance_above_maximum``; 403 ``scheme_suspended`` when the
    partner scheme is suspended. Nothing is written unless everything succeeds.
    """
    payer_scheme = scheme

    def work() -> dict[str, Any]:
        payee_scheme = _partner_scheme(payer_scheme, to_scheme)
        a, b = payer_scheme.id, payee_scheme.id
        agreement = _payable_agreement(payer_scheme, payee_scheme)
        rate = rate_from(agreement, a)
        credited = _credited_amount(amount, rate, payee_scheme)

        with leg_context(b, a):
            payee_id = to_member_id
            if to_member_number is not None:
                payee_id = _member_by_number(payee_scheme, to_member_number)
            assert payee_id is not None
            payee = resolve_payee("to_member_id", payee_id)
            payee_name = _payee_display_name(payee_scheme, payee)

        (payer_account, payer_clearing), (payee_account, payee_clearing) = _lock_both_legs(
            a, member.id, b, payee.id
        )
        _check_agreement_limits(
            agreement,
            (
                (payer_scheme, payer_clearing.balance + amount),
                (payee_scheme, payee_clearing.balance - credited),
            ),
        )

        exchange_id, payer_leg = _post_exchange(
            agreement,
            payer=(payer_scheme, payer_account, payer_clearing),
            payee=(payee_scheme, payee_account, payee_clearing),
            amount=amount,
            credited=credited,
            memo=memo,
            actor_user_id=actor_user_id,
        )
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


def _member_by_number(payee_scheme: Scheme, number: int) -> int:
    """The member of the partner scheme with this member number (422 on ``to_member_id``)."""
    found = db.session.execute(select(Member.id).where(Member.number == number)).scalar()
    if found is None:
        raise FieldError("to_member_id", f"{payee_scheme.name} has no member with this number.")
    return int(found)


def _partner_scheme(payer_scheme: Scheme, slug: str) -> Scheme:
    """The scheme a payment goes to (422 on ``to_scheme``: unknown, or the payer's own)."""
    payee_scheme = db.session.execute(
        select(Scheme).where(Scheme.slug == slug)
    ).scalar_one_or_none()
    if payee_scheme is None:
        raise FieldError("to_scheme", "No scheme with this address.")
    if payee_scheme.id == payer_scheme.id:
        raise FieldError(
            "to_scheme", "This is your own scheme: leave out to_scheme to pay a member here."
        )
    return payee_scheme


def _payable_agreement(payer_scheme: Scheme, payee_scheme: Scheme) -> Agreement:
    """The pair's active agreement, locked for sharing; the payee scheme must be able to receive.

    Raises 422 ``exchange_disabled``, ``no_agreement``, ``agreement_not_active``; 403
    ``scheme_suspended``.
    """
    require_exchange_enabled(payer_scheme, payee_scheme)
    agreement = _agreement_between(payer_scheme.id, payee_scheme.id, lock=True)
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
    return agreement


def _credited_amount(amount: int, rate: Fraction, payee_scheme: Scheme) -> int:
    """The payee's minutes for ``amount`` at ``rate`` (422 on ``amount``: under one, too large)."""
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
    return credited


def _lock_both_legs(
    payer_scheme_id: int, payer_member_id: int, payee_scheme_id: int, payee_member_id: int
) -> tuple[tuple[Account, Account], tuple[Account, Account]]:
    """Lock every account of both legs in one global order, (scheme id, account id).

    Returns ``((payer account, payer's clearing), (payee account, payee's clearing))``.
    """
    legs = {
        payer_scheme_id: (payer_member_id, payee_scheme_id),
        payee_scheme_id: (payee_member_id, payer_scheme_id),
    }
    locked: dict[int, tuple[Account, Account]] = {}
    for scheme_id in sorted(legs):
        member_id, other_id = legs[scheme_id]
        with leg_context(scheme_id, other_id):
            locked[scheme_id] = _lock_leg_accounts(scheme_id, member_id, other_id)
    return locked[payer_scheme_id], locked[payee_scheme_id]


def _check_agreement_limits(
    agreement: Agreement, positions: tuple[tuple[Scheme, int], ...]
) -> None:
    """Refuse (422 ``agreement_limit_exceeded``) a position beyond the agreement's limit."""
    for side, position in positions:
        limit = limit_for(agreement, side.id)
        if abs(position) > limit:
            raise RuleViolation(
                f"This payment would take {side.name}'s exchange position to "
                f"{format_minutes(position)}, beyond the agreement's limit of "
                f"{format_minutes(limit)} in its minutes.",
                code="agreement_limit_exceeded",
                extra={"scheme": side.slug, "limit": limit, "position_after": position},
            )


def _post_exchange(
    agreement: Agreement,
    *,
    payer: tuple[Scheme, Account, Account],
    payee: tuple[Scheme, Account, Account],
    amount: int,
    credited: int,
    memo: str | None,
    actor_user_id: int,
) -> tuple[int, Posted]:
    """Post both legs and the :class:`Exchange` linking them; ``(exchange id, payer's leg)``.

    ``payer``/``payee``: (scheme, the member's account, the clearing account for the other).
    """
    payer_scheme, payer_account, payer_clearing = payer
    payee_scheme, payee_account, payee_clearing = payee
    a, b = payer_scheme.id, payee_scheme.id
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
        if payee_account.member_id is not None:
            notify_credit(
                payee_scheme,
                member_id=payee_account.member_id,
                kind="paid",
                amount=credited,
                transaction_id=payee_leg.id,
                from_scheme_id=a,
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
    return exchange_id, payer_leg


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
