"""Billing plans as configuration, each scheme's billing row and member limit.

Billing is *on* only when ``STRIPE_API_KEY`` is configured. Off (the embedded
default), every scheme is on ``free`` without the member limit and nothing
calls Stripe. Billing never touches a ledger of time credits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from timebank.platform import audit, tenancy
from timebank.platform.api.errors import FieldError, Forbidden, NotFound
from timebank.platform.billing.models import SchemeBilling
from timebank.platform.db import atomic, db
from timebank.platform.identity.models import User
from timebank.platform.operators.services import describe_schemes
from timebank.platform.schemes.models import Scheme
from timebank.tenants.memberships.models import Member
from timebank.tenants.memberships.services import register_invite_guard

OVERDUE_REASON = "Payment overdue"
ACTIVE_SUBSCRIPTION = ("active", "trialing")


@dataclass(frozen=True)
class Plan:
    key: str
    label: str
    description: str
    member_limit: int | None
    config_key: str | None  # the setting holding the Stripe Plan id


PLANS: dict[str, Plan] = {
    "free": Plan("free", "Free", "Up to 30 active members, no charge.", 30, None),
    "community": Plan(
        "community",
        "Community",
        "Priced per active member per month.",
        None,
        "STRIPE_PLAN_COMMUNITY",
    ),
    "organisation": Plan(
        "organisation",
        "Organisation",
        "Priced per active member per month, for organisations.",
        None,
        "STRIPE_PLAN_ORGANISATION",
    ),
}
PAID_PLANS = ("community", "organisation")


# --- configuration -------------------------------------------------------


def billing_enabled() -> bool:
    return bool(current_app.config.get("STRIPE_API_KEY"))


def member_limit(scheme: Scheme) -> int | None:
    """The most active members the scheme's plan allows (``None``: no limit).

    No limit with billing off, nor on a plan an operator set by hand (a free
    plan for a charity).
    """
    if not billing_enabled():
        return None
    row = find_billing(scheme.id)
    if row is not None and row.plan_set_by_operator:
        return None
    plan = scheme.plan
    if plan == "free":
        return int(current_app.config.get("BILLING_FREE_MEMBER_LIMIT", 30))
    return PLANS[plan].member_limit if plan in PLANS else None


def stripe_plan_id(plan: str) -> str:
    config_key = PLANS[plan].config_key if plan in PLANS else None
    plan_id = current_app.config.get(config_key) if config_key else None
    if not plan_id:
        raise FieldError("plan", f"The {plan} plan cannot be bought here.")
    return str(plan_id)


def plan_for_stripe_id(plan_id: str | None) -> str | None:
    for key in PAID_PLANS:
        if plan_id and current_app.config.get(PLANS[key].config_key or "") == plan_id:
            return key
    return None


# --- reads ---------------------------------------------------------------


def active_member_count(scheme_id: int) -> int:

    with tenancy.scheme_context(scheme_id):
        return int(
            db.session.execute(
                select(func.count()).select_from(Member).where(Member.status == "active")
            ).scalar_one()
        )


def billing_row(scheme_id: int, *, lock: bool = False) -> SchemeBilling:
    """The scheme's billing row (created empty on first use)."""
    query = select(SchemeBilling).where(SchemeBilling.scheme_id == scheme_id)
    if lock:
        query = query.with_for_update()
    row = db.session.execute(query).scalar_one_or_none()
    if row is None:
        row = SchemeBilling(scheme_id=scheme_id, status="ok")
        db.session.add(row)
        db.session.flush()
    return row


def find_billing(scheme_id: int) -> SchemeBilling | None:
    return db.session.get(SchemeBilling, scheme_id)


def check_can_invite(scheme: Scheme) -> None:
    """Refuse a new invitation when the scheme is at its plan's member limit (trading goes on)."""
    limit = member_limit(scheme)
    if limit is None:
        return
    members = active_member_count(scheme.id)
    if members >= limit:
        raise Forbidden(
            f"{scheme.name} has {members} active members, the most the "
            f"{PLANS[scheme.plan].label} plan allows ({limit}). Members can still trade; "
            f"to invite more, a coordinator can change the plan on the billing page "
            f"(/s/{scheme.slug}/billing).",
            code="plan_limit_reached",
        )


def plan_configured(key: str) -> bool:
    config_key = PLANS[key].config_key
    return bool(config_key and current_app.config.get(config_key))


def audit_billing(
    scheme_id: int, slug: str, action: str, *, actor_user_id: int | None, details: dict[str, Any]
) -> None:
    """A billing entry in the scheme's own audit log (billing runs outside any scheme; leaving
    the context flushes the entry under it)."""
    with tenancy.scheme_context(scheme_id):
        audit.record(
            scheme_id, action, actor_user_id=actor_user_id, target=f"scheme:{slug}", details=details
        )


def scheme_of(row: SchemeBilling) -> Scheme:
    scheme = db.session.get(Scheme, row.scheme_id)
    assert scheme is not None
    return scheme


# --- operators -----------------------------------------------------------


def describe_for_operators(schemes: list[Scheme]) -> list[dict[str, Any]]:

    rows = describe_schemes(schemes)
    ids = [scheme.id for scheme in schemes]
    billing = (
        {
            row.scheme_id: row
            for row in db.session.execute(
                select(SchemeBilling).where(SchemeBilling.scheme_id.in_(ids))
            ).scalars()
        }
        if ids
        else {}
    )
    for scheme, out in zip(schemes, rows, strict=True):
        row = billing.get(scheme.id)
        out["billing_status"] = row.status if row else "ok"
        out["subscription_status"] = row.subscription_status if row else None
        out["last_payment_at"] = row.last_payment_at if row else None
        out["grace_until"] = row.grace_until if row else None
        out["plan_set_by_operator"] = bool(row and row.plan_set_by_operator)
    return rows


@atomic
def set_plan_by_hand(slug: str, plan: str, *, actor: User, reason: str | None = None) -> Scheme:
    """An operator puts a scheme on a plan (e.g. free for a charity), audited."""
    if plan not in PLANS:
        raise FieldError("plan", "Not a plan: choose free, community or organisation.")
    scheme = db.session.execute(
        select(Scheme).where(Scheme.slug == slug).with_for_update()
    ).scalar_one_or_none()
    if scheme is None:
        raise NotFound("No scheme with this address.")
    row = billing_row(scheme.id, lock=True)
    before = scheme.plan
    scheme.plan = plan
    row.plan_set_by_operator = True
    audit_billing(
        scheme.id,
        slug,
        "billing.plan_set_by_operator",
        actor_user_id=actor.id,
        details={"before": before, "after": plan, "reason": reason},
    )
    return scheme


register_invite_guard(check_can_invite)
