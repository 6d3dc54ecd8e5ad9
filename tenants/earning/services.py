"""Earning: activities, claims (logged hours), their approval, caps, and bulk awards.

A claim credits ``round_half_up(minutes × rate)`` minutes, computed with
``Decimal`` from the activity's exact rate and fixed when the claim is made.
Credits are minted from the scheme's ``issuance`` account through the posting
service, as ``earn`` transactions. Whether a claim is credited at once or waits
for a coordinator is the activity's ``approval``, or the policy's when that is
``policy``.

The policy's ``claims.cap`` limits the credited minutes of a member's approved
claims per calendar week (from Monday), month or year of the scheme's time
zone, counted by ``performed_on``. It is checked when a claim is credited,
with the member's ledger account locked first, so concurrent approvals for
one member queue up and each sees the others' results. Bulk awards are
coordinator decisions and are not capped (``awards.py``).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from timebank.platform import audit, links
from timebank.platform.api.errors import FieldError, Forbidden, NotFound, RuleViolation
from timebank.platform.db import atomic, db, utcnow
from timebank.platform.identity.models import User
from timebank.platform.mail import send_mail
from timebank.platform.schemes.models import Scheme
from timebank.platform.schemes.services import provisioner
from timebank.tenants.earning.models import Activity, Claim
from timebank.tenants.earning.schemas import ActivityIn
from timebank.tenants.ledger.models import Transaction
from timebank.tenants.ledger.rules import check_cap, check_claim_length, check_claims_enabled
from timebank.tenants.ledger.services import (
    MAX_AMOUNT,
    Leg,
    format_minutes,
    lock_accounts,
    member_account,
    member_names,
    post_transaction,
    scheme_account,
)
from timebank.tenants.memberships.models import Member
from timebank.tenants.policy import minors
from timebank.tenants.policy.services import current_policy

# --- amounts and periods ----------------------------------------------------


def credited_minutes(minutes: int, rate: str) -> int:
    """``round_half_up(minutes × rate)`` in exact decimal arithmetic: 3 × "1.5" → 5."""
    exact = Decimal(minutes) * Decimal(rate)
    return int(exact.to_integral_value(rounding=ROUND_HALF_UP))


def credit_for(minutes: int, activity: Activity) -> int:
    """The minutes a claim or an award credits, or a 422 on ``minutes`` when none or too many."""
    credited = credited_minutes(minutes, activity.rate)
    if credited < 1:
        raise FieldError(
            "minutes",
            f"{minutes} minutes at {activity.rate} credits an hour earn nothing; log more time.",
        )
    if credited > MAX_AMOUNT:
        raise FieldError("minutes", "Too many minutes.")
    return credited


def scheme_today(scheme: Scheme) -> date:
    """Today's date in the scheme's time zone."""
    return utcnow().astimezone(ZoneInfo(scheme.timezone)).date()


def period_bounds(day: date, period: str) -> tuple[date, date]:
    """The calendar ``week`` (from Monday), ``month`` or ``year`` holding ``day``: [start, end)."""
    if period == "week":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=7)
    if period == "month":
        start = day.replace(day=1)
        end = (
            date(start.year + 1, 1, 1)
            if start.month == 12
            else start.replace(month=start.month + 1)
        )
        return start, end
    if period == "year":
        return date(day.year, 1, 1), date(day.year + 1, 1, 1)
    raise ValueError(f"unknown period {period!r}")


# --- activities -------------------------------------------------------------


@provisioner(order=40)
def provision_activities(scheme: Scheme, data: dict[str, Any], creator: User) -> None:
    """Seed the template's activities (validated like a coordinator's)."""
    for item in data.get("activities", []):
        db.session.add(Activity(scheme_id=scheme.id, **ActivityIn().load(item)))


def activities_query(*, active: bool | None = None) -> Any:
    statement = select(Activity)
    if active is not None:
        statement = statement.where(Activity.active.is_(active))
    return statement


def get_activity(activity_id: int) -> Activity:
    """An activity of the current scheme, or 404 (also for another scheme's)."""
    activity = db.session.execute(
        select(Activity).where(Activity.id == activity_id)
    ).scalar_one_or_none()
    if activity is None:
        raise NotFound("No such activity in this scheme.")
    return activity


def resolve_activity(field: str, activity_id: int) -> Activity:
    """An active activity of this scheme named by a request body, or a 422 on ``field``."""
    activity = db.session.execute(
        select(Activity).where(Activity.id == activity_id)
    ).scalar_one_or_none()
    if activity is None:
        raise FieldError(field, "No activity with this id in this scheme.")
    if not activity.active:
        raise FieldError(field, f"“{activity.name}” is no longer offered in this scheme.")
    return activity


@atomic
def create_activity(scheme: Scheme, fields: dict[str, Any], *, actor_user_id: int) -> Activity:
    activity = Activity(scheme_id=scheme.id, **fields)
    db.session.add(activity)
    db.session.flush()
    audit.record(
        scheme.id,
        "activity.created",
        actor_user_id=actor_user_id,
        target=f"activity:{activity.id}",
        details={"name": activity.name, "rate": activity.rate, "approval": activity.approval},
    )
    return activity


@atomic
def update_activity(
    scheme: Scheme, activity_id: int, changes: dict[str, Any], *, actor_user_id: int
) -> Activity:
    activity = get_activity(activity_id)
    changes = {name: value for name, value in changes.items() if getattr(activity, name) != value}
    if not changes:
        return activity
    before = {name: getattr(activity, name) for name in changes}
    for name, value in changes.items():
        setattr(activity, name, value)
    audit.record(
        scheme.id,
        "activity.updated",
        actor_user_id=actor_user_id,
        target=f"activity:{activity.id}",
        details={"before": before, "after": changes},
    )
    return activity


# --- claims -----------------------------------------------------------------


def effective_approval(activity: Activity, policy: dict[str, Any]) -> str:
    """``auto`` or ``coordinator``: the activity's own rule, else the policy's."""
    if activity.approval == "policy":
        return str(policy["claims"]["approval"])
    return activity.approval


def _claimant(caller: Member, member_id: int | None, *, is_coordinator: bool) -> Member:
    """Whose claim this is: the caller's own, or a member's entered by a coordinator."""
    if member_id is None or member_id == caller.id:
        return caller
    if not is_coordinator:
        raise Forbidden(
            "Only a coordinator may log hours on behalf of another member.",
            code="coordinator_only",
        )
    member = db.session.execute(select(Member).where(Member.id == member_id)).scalar_one_or_none()
    if member is None or member.status == "left":
        raise FieldError("member_id", "No member with this id in this scheme.")
    if member.status != "active":
        raise FieldError("member_id", "This member's membership is suspended.")
    return member


def _check_date(scheme: Scheme, performed_on: date, policy: dict[str, Any]) -> None:
    today = scheme_today(scheme)
    if performed_on > today:
        raise FieldError(
            "performed_on", f"Cannot be in the future (today is {today.isoformat()} here)."
        )
    max_age = policy["claims"].get("max_age_days")
    if max_age is not None and performed_on < today - timedelta(days=max_age):
        raise FieldError(
            "performed_on",
            f"Hours can be logged up to {max_age} days after they were given in {scheme.name}.",
        )


@atomic
def submit_claim(
    scheme: Scheme,
    caller: Member,
    *,
    activity_id: int,
    minutes: int,
    performed_on: date,
    note: str | None,
    member_id: int | None,
    is_coordinator: bool,
    actor_user_id: int,
) -> Claim:
    """Log hours; credit them at once when the activity's approval is ``auto``.

    Raises 403 ``coordinator_only`` (a member logging for someone else), 422 on
    a field, or the rules ``claims_disabled``, ``claim_too_long``,
    ``cap_exceeded`` (and the ledger's limits), writing nothing.
    """
    policy = current_policy(scheme)
    member = _claimant(caller, member_id, is_coordinator=is_coordinator)
    check_claims_enabled(policy, scheme.name)
    activity = resolve_activity("activity_id", activity_id)
    if activity.requires_note and not (note or "").strip():
        raise FieldError("note", f"“{activity.name}” needs a note saying what was done.")
    _check_date(scheme, performed_on, policy)
    minors.check_may_earn(scheme, [member.id], activity, performed_on=performed_on, minutes=minutes)
    check_claim_length(policy, scheme.name, minutes)
    credited = credit_for(minutes, activity)
    claim = Claim(
        scheme_id=scheme.id,
        member_id=member.id,
        activity_id=activity.id,
        minutes=minutes,
        credited_minutes=credited,
        performed_on=performed_on,
        note=note,
        status="pending",
        entered_by=actor_user_id,
    )
    if effective_approval(activity, policy) == "auto":
        own = member.id == caller.id
        transaction = _credit(scheme, claim, activity, actor_user_id=actor_user_id, own=own)
        claim.status = "approved"
        claim.transaction_id = transaction.id
        claim.decided_at = utcnow()
    db.session.add(claim)
    db.session.flush()
    if member.id != caller.id:
        audit.record(
            scheme.id,
            "claim.entered_on_behalf",
            actor_user_id=actor_user_id,
            target=f"claim:{claim.id}",
            details={"member_id": member.id, "minutes": minutes, "status": claim.status},
        )
    return claim


def _credit(
    scheme: Scheme, claim: Claim, activity: Activity, *, actor_user_id: int, own: bool
) -> Transaction:
    """Mint a claim's credited minutes to its member, within the policy's cap."""
    issuance = scheme_account("issuance")
    account = member_account(claim.member_id)
    # The ledger's lock order (ids ascending): concurrent credits to this
    # member wait here, then see each other's approved claims.
    lock_accounts(scheme.id, account_ids=(issuance.id, account.id))
    # Again at approval: consent may have been withdrawn, a check may have expired.
    minors.check_may_earn(scheme, [claim.member_id], activity, performed_on=claim.performed_on)
    _check_cap(scheme, claim, own=own)
    label = "Your balance" if own else f"{_name_of(claim.member_id)}'s balance"
    return post_transaction(
        scheme,
        kind="earn",
        legs=[Leg(issuance.id, -claim.credited_minutes), Leg(account.id, claim.credited_minutes)],
        actor_user_id=actor_user_id,
        memo=activity.name,
        names={account.id: label},
    ).transaction


def _check_cap(scheme: Scheme, claim: Claim, *, own: bool) -> None:
    cap = current_policy(scheme)["claims"]["cap"]
    if cap is None:
        return
    start, end = period_bounds(claim.performed_on, cap["period"])
    used = db.session.execute(
        select(func.coalesce(func.sum(Claim.credited_minutes), 0)).where(
            Claim.member_id == claim.member_id,
            Claim.status == "approved",
            Claim.performed_on >= start,
            Claim.performed_on < end,
        )
    ).scalar_one()
    check_cap(
        cap,
        used=int(used),
        credited=claim.credited_minutes,
        period_start=start,
        scheme_name=scheme.name,
        whose="You have" if own else f"{_name_of(claim.member_id)} has",
    )


def _name_of(member_id: int) -> str:
    return member_names([member_id]).get(member_id, "The member")


def get_claim(claim_id: int, *, lock: bool = False) -> Claim:
    """A claim of the current scheme, or 404 (also for another scheme's)."""
    statement = select(Claim).where(Claim.id == claim_id)
    if lock:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    claim = db.session.execute(statement).scalar_one_or_none()
    if claim is None:
        raise NotFound("No such claim in this scheme.")
    return claim


def _decidable(claim_id: int, decider: Member, *, is_coordinator: bool) -> Claim:
    claim = get_claim(claim_id, lock=True)
    if claim.member_id == decider.id:
        raise Forbidden(
            "You cannot decide your own claim; another coordinator must.", code="own_claim"
        )
    if not is_coordinator:
        raise Forbidden("Only a coordinator of this scheme may do this.", code="coordinator_only")
    if claim.status != "pending":
        raise RuleViolation(f"This claim has already been {claim.status}.", code="already_decided")
    return claim


@atomic
def approve_claim(
    scheme: Scheme, claim_id: int, decider: Member, *, is_coordinator: bool, actor_user_id: int
) -> Claim:
    """Credit a pending claim. 403 ``own_claim``; 422 ``already_decided``, ``cap_exceeded``."""
    claim = _decidable(claim_id, decider, is_coordinator=is_coordinator)
    activity = get_activity(claim.activity_id)
    transaction = _credit(scheme, claim, activity, actor_user_id=actor_user_id, own=False)
    claim.status = "approved"
    claim.transaction_id = transaction.id
    _decided(scheme, claim, activity, actor_user_id=actor_user_id)
    return claim


@atomic
def reject_claim(
    scheme: Scheme,
    claim_id: int,
    decider: Member,
    *,
    reason: str | None,
    is_coordinator: bool,
    actor_user_id: int,
) -> Claim:
    """Refuse a pending claim with a reason the member will see. 422 ``already_decided``."""
    claim = _decidable(claim_id, decider, is_coordinator=is_coordinator)
    claim.status = "rejected"
    claim.reason = reason
    _decided(scheme, claim, get_activity(claim.activity_id), actor_user_id=actor_user_id)
    return claim


def _decided(scheme: Scheme, claim: Claim, activity: Activity, *, actor_user_id: int) -> None:
    claim.decided_by = actor_user_id
    claim.decided_at = utcnow()
    db.session.flush()
    audit.record(
        scheme.id,
        f"claim.{claim.status}",
        actor_user_id=actor_user_id,
        target=f"claim:{claim.id}",
        details={
            "member_id": claim.member_id,
            "activity_id": claim.activity_id,
            "minutes": claim.minutes,
            "credited_minutes": claim.credited_minutes,
            "transaction_id": claim.transaction_id,
            "reason": claim.reason,
        },
    )
    member = db.session.execute(select(Member).where(Member.id == claim.member_id)).scalar_one()
    user = db.session.get(User, member.user_id)
    if user is None:
        return
    send_mail(
        to=user.email,
        template="claim_decided",
        context={
            "name": user.name,
            "scheme_name": scheme.name,
            "activity": activity.name,
            "status": claim.status,
            "performed_on": claim.performed_on,
            "minutes_text": format_minutes(claim.minutes),
            "credited_text": format_minutes(claim.credited_minutes),
            "reason": claim.reason,
            "link": links.link(f"/s/{scheme.slug}", remembered=scheme.link_base),
        },
    )


def claims_query(*, member_id: int | None = None, status: str | None = None) -> Any:
    statement = select(Claim)
    if member_id is not None:
        statement = statement.where(Claim.member_id == member_id)
    if status is not None:
        statement = statement.where(Claim.status == status)
    return statement
