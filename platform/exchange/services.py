"""Agreements between schemes: proposing, deciding, reading, settlement statements.

The exchange is the one package that touches two tenants in one unit of work; the rules of
an agreement's terms live in ``terms.py``, payments across schemes in ``payments.py``
(``pay_partner``, re-exported here for the ledger's transfer route), the invariant checks
in ``verify.py``.

Decisions: one open (proposed, active or suspended) agreement per pair of schemes — a
second proposal either way is 409 ``agreement_exists``; the partner accepts or declines; either
side suspends, resumes or ends; ``ended`` and ``declined`` are final (422 ``agreement_ended``);
another impossible change is 422 ``invalid_transition``. Every change is audited in both
schemes. Each side's clearing account for the other is opened on acceptance and kept for
later agreements between the same pair (the position belongs to the pair).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, or_, select

from timebank.platform import audit, links, tenancy
from timebank.platform.api.errors import Conflict, FieldError, Forbidden, NotFound, RuleViolation
from timebank.platform.db import db, run_atomic, utcnow
from timebank.platform.exchange.models import Agreement, Exchange
from timebank.platform.exchange.payments import pay_partner
from timebank.platform.exchange.terms import (
    FINAL_STATUSES,
    OPEN_STATUSES,
    between,
    leg_context,
    limit_for,
    partner_of,
    rate_from,
    require_exchange_enabled,
    scheme_by_id,
    show_rate,
)
from timebank.platform.mail import send_mail
from timebank.platform.schemes.models import Scheme
from timebank.tenants.ledger.models import Account
from timebank.tenants.ledger.services import register_cross_scheme_payer
from timebank.tenants.memberships.services import coordinators_to_mail
from timebank.tenants.policy.models import PolicyVersion

__all__ = ["pay_partner"]


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
                    "partner": scheme_by_id(other_id).slug,
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
        require_exchange_enabled(scheme, partner)
        # Both scheme rows, in id order: two proposals between one pair cannot both pass.
        db.session.execute(
            select(Scheme.id)
            .where(Scheme.id.in_(sorted((scheme.id, partner.id))))
            .order_by(Scheme.id)
            .with_for_update()
        ).all()
        existing = db.session.execute(
            select(Agreement.id, Agreement.status).where(
                between(scheme.id, partner.id), Agreement.status.in_(OPEN_STATUSES)
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
        mail_partner(scheme, partner, "proposed")
        return describe_agreements(scheme, [agreement])[0]

    return run_atomic(work)


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
        partner = scheme_by_id(partner_of(agreement, scheme.id))
        if action == "accept":
            require_exchange_enabled(scheme, partner)
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
        mail_partner(scheme, partner, _past(action))
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
    partner = scheme_by_id(partner_of(agreement, scheme.id))
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


# The ledger's transfer route pays members of partner schemes through this.
register_cross_scheme_payer(pay_partner)


# --- telling the partner; finding partners ---------------------------------------


def mail_partner(scheme: Scheme, partner: Scheme, event: str) -> None:
    """Mail the partner scheme's active coordinators what ``scheme`` did (in the unit of work)."""
    people = coordinators_to_mail(partner.id)
    base = links.base_url(remembered=partner.link_base)
    for email, name in people:
        send_mail(
            to=email,
            template="agreement_changed",
            context={
                "name": name,
                "scheme_name": partner.name,
                "other_name": scheme.name,
                "event": event,
                "link": f"{base}/s/{partner.slug}/manage/partners",
            },
        )


PARTNER_LIST_LIMIT = 500


def partner_candidates(scheme: Scheme) -> list[tuple[str, str]]:
    """``(slug, name)`` of active schemes whose current rules accept partner schemes."""
    with tenancy.all_schemes():
        rows = db.session.execute(
            select(Scheme.slug, Scheme.name, PolicyVersion.document)
            .join(
                PolicyVersion,
                and_(
                    PolicyVersion.scheme_id == Scheme.id,
                    PolicyVersion.version == Scheme.policy_version,
                ),
            )
            .where(Scheme.status == "active", Scheme.id != scheme.id)
            .order_by(Scheme.name)
            .limit(PARTNER_LIST_LIMIT)
        ).all()
    return [
        (slug, name)
        for slug, name, document in rows
        if (document or {}).get("exchange", {}).get("enabled")
    ]
