"""Safeguarding checks of adults who work with children (kind, number, expiry).

One check per member, replaced when renewed. The rule that refuses crediting an
adult for a ``with_children`` activity without a valid check lives with the
other minors' rules (``tenants.policy.minors.check_may_earn``).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from timebank.platform import audit
from timebank.platform.db import atomic, db, utcnow
from timebank.platform.identity.models import User
from timebank.platform.schemes.models import Scheme
from timebank.tenants.access import ensure_writable, get_member
from timebank.tenants.memberships.models import Member, SafeguardingCheck

EXPIRING_WITHIN_DAYS = 30


@atomic
def record_check(
    scheme: Scheme,
    member_id: int,
    *,
    kind: str,
    number: str,
    expires_on: date,
    actor: User,
) -> SafeguardingCheck:
    """Record (or renew) a member's safeguarding check."""
    ensure_writable(scheme)
    member = get_member(member_id)
    check = db.session.execute(
        select(SafeguardingCheck).where(SafeguardingCheck.member_id == member.id).with_for_update()
    ).scalar_one_or_none()
    if check is None:
        check = SafeguardingCheck(scheme_id=scheme.id, member_id=member.id)
        db.session.add(check)
    check.kind = kind.strip()
    check.number = number.strip()
    check.expires_on = expires_on
    check.recorded_by = actor.id
    check.updated_at = utcnow()
    db.session.flush()
    audit.record(
        scheme.id,
        "member.check_recorded",
        actor_user_id=actor.id,
        target=f"member:{member.id}",
        details={"kind": check.kind, "expires_on": expires_on.isoformat()},
    )
    return check


def check_of(member_id: int) -> SafeguardingCheck | None:
    return db.session.execute(
        select(SafeguardingCheck).where(SafeguardingCheck.member_id == member_id)
    ).scalar_one_or_none()


def describe_check(check: SafeguardingCheck, today: date | None = None) -> dict[str, Any]:
    return {
        "member_id": check.member_id,
        "kind": check.kind,
        "number": check.number,
        "expires_on": check.expires_on,
        "valid": check.expires_on >= (today or date.today()),
    }


def expiring_checks(today: date, *, days: int = EXPIRING_WITHIN_DAYS) -> list[dict[str, Any]]:
    """Checks of current members that expired already or expire within ``days``."""
    rows = db.session.execute(
        select(SafeguardingCheck, User.name)
        .join(
            Member,
            (Member.scheme_id == SafeguardingCheck.scheme_id)
            & (Member.id == SafeguardingCheck.member_id),
        )
        .join(User, User.id == Member.user_id)
        .where(
            Member.status != "left",
            SafeguardingCheck.expires_on <= today + timedelta(days=days),
        )
        .order_by(SafeguardingCheck.expires_on, User.name)
    ).all()
    return [{**describe_check(check, today), "name": name} for check, name in rows]
