"""Warnings before a cap refuses a claim.

The policy's ``claims.cap`` is enforced when a claim is credited
(:func:`timebank.tenants.earning.services._check_cap`), counting approved claims
only. A member whose pending claims already fill the period would otherwise be
thanked for a claim that can only fail at approval; these helpers count the
pending claims too, so the member is told when logging it and the coordinator
sees it in the queue. They warn; they never refuse.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import select

from timebank.platform.db import db
from timebank.platform.schemes.models import Scheme
from timebank.tenants.earning.models import Claim
from timebank.tenants.earning.services import period_bounds
from timebank.tenants.ledger.services import format_minutes, member_names
from timebank.tenants.policy.services import current_policy


def _cap(scheme: Scheme) -> dict[str, Any] | None:
    cap: dict[str, Any] | None = current_policy(scheme)["claims"]["cap"]
    return cap


def _counted(member_ids: set[int], start: date, end: date) -> list[Claim]:
    """Approved and pending claims of these members performed in [start, end)."""
    if not member_ids:
        return []
    return list(
        db.session.execute(
            select(Claim).where(
                Claim.member_id.in_(sorted(member_ids)),
                Claim.status.in_(("approved", "pending")),
                Claim.performed_on >= start,
                Claim.performed_on < end,
            )
        ).scalars()
    )


def _warning(
    claim: Claim, others: Iterable[Claim], cap: dict[str, Any], scheme: Scheme, *, name: str | None
) -> str | None:
    """``name`` is the member's, or ``None`` when they are the reader ("you")."""
    start, end = period_bounds(claim.performed_on, cap["period"])
    approved = pending = 0
    for other in others:
        if other.member_id != claim.member_id or other.id == claim.id:
            continue
        if not start <= other.performed_on < end:
            continue
        if other.status == "approved":
            approved += other.credited_minutes
        else:
            pending += other.credited_minutes
    limit = int(cap["minutes"])
    period = cap["period"]
    which = f"the {period} from {start.strftime('%d %b %Y')}"
    allowed = f"the {format_minutes(limit)} that can be earned per {period} in {scheme.name}"
    if approved + claim.credited_minutes > limit:
        left = format_minutes(max(0, limit - approved))
        who = "you have" if name is None else f"{name} has"
        return (
            f"Over the cap: {who} only {left} left of {allowed} ({which}), so this claim "
            f"of {format_minutes(claim.credited_minutes)} cannot be approved as it is."
        )
    total = approved + pending + claim.credited_minutes
    if total > limit:
        whose = "your" if name is None else f"{name}'s"
        return (
            f"With {whose} claims still waiting for approval, {which} comes to "
            f"{format_minutes(total)}, more than {allowed}: not all of them can be approved."
        )
    return None


def claim_warning(scheme: Scheme, claim: Claim, *, own: bool) -> str | None:
    """For a claim just logged and waiting: whether it takes the member past the cap.

    Counts the member's approved and pending claims of the claim's period; ``None``
    when the claim fits, was credited at once, or the scheme has no cap.
    """
    cap = _cap(scheme)
    if cap is None or claim.status != "pending":
        return None
    start, end = period_bounds(claim.performed_on, cap["period"])
    others = _counted({claim.member_id}, start, end)
    name = None if own else member_names([claim.member_id]).get(claim.member_id, "The member")
    return _warning(claim, others, cap, scheme, name=name)


def queue_warnings(scheme: Scheme, claims: list[Claim]) -> dict[int, str]:
    """For the coordinators' queue: ``{claim id: warning}`` for pending claims past the cap.

    One query for every claim shown, whatever their number.
    """
    cap = _cap(scheme)
    pending = [claim for claim in claims if claim.status == "pending"]
    if cap is None or not pending:
        return {}
    bounds = [period_bounds(claim.performed_on, cap["period"]) for claim in pending]
    others = _counted(
        {claim.member_id for claim in pending},
        min(start for start, _ in bounds),
        max(end for _, end in bounds),
    )
    names = member_names(claim.member_id for claim in pending)
    warnings: dict[int, str] = {}
    for claim in pending:
        name = names.get(claim.member_id, "The member")
        message = _warning(claim, others, cap, scheme, name=name)
        if message is not None:
            warnings[claim.id] = message
    return warnings
