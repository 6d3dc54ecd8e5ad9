"""The weekly digest: coordinators hear how many claims wait for their decision."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import func, select

from timebank.platform import audit, links, tenancy
from timebank.platform.audit import AuditEvent
from timebank.platform.db import db, run_atomic
from timebank.platform.identity.models import User
from timebank.platform.jobs import job
from timebank.platform.mail import send_mail
from timebank.platform.schemes.models import Scheme
from timebank.tenants.earning.models import Activity, Claim
from timebank.tenants.memberships.models import Member

log = logging.getLogger(__name__)
LISTED = 10


@job
def send_claims_digest(scheme_id: int, week: str) -> int:
    """Mail each active coordinator the scheme's pending claims, once per ``week`` (``2025-W07``).

    Returns the number of messages queued (0 when nothing waits or it was sent already).
    """
    with tenancy.scheme_context(scheme_id):
        return run_atomic(lambda: _send(scheme_id, week))


def _send(scheme_id: int, week: str) -> int:

    scheme = db.session.get(Scheme, scheme_id)
    if scheme is None or scheme.is_suspended:
        return 0
    target = f"week:{week}"
    already = db.session.execute(
        select(AuditEvent.id).where(AuditEvent.action == "digest.sent", AuditEvent.target == target)
    ).first()
    if already is not None:
        return 0
    count = db.session.execute(
        select(func.count()).select_from(Claim).where(Claim.status == "pending")
    ).scalar_one()
    if not count:
        return 0
    claimant = User.__table__.alias("claimant")
    oldest = db.session.execute(
        select(Claim, Activity.name, claimant.c.name)
        .join(
            Activity, (Activity.scheme_id == Claim.scheme_id) & (Activity.id == Claim.activity_id)
        )
        .join(Member, (Member.scheme_id == Claim.scheme_id) & (Member.id == Claim.member_id))
        .join(claimant, claimant.c.id == Member.user_id)
        .where(Claim.status == "pending")
        .order_by(Claim.id)
        .limit(LISTED)
    ).all()
    claims: list[dict[str, Any]] = [
        {
            "member": member_name,
            "activity": activity_name,
            "minutes": claim.minutes,
            "performed_on": claim.performed_on,
        }
        for claim, activity_name, member_name in oldest
    ]
    coordinators = db.session.execute(
        select(User.email, User.name)
        .join(Member, Member.user_id == User.id)
        .where(Member.role == "coordinator", Member.status == "active")
        .order_by(Member.id)
    ).all()
    for email, name in coordinators:
        send_mail(
            to=email,
            template="digest",
            context={
                "scheme_name": scheme.name,
                "name": name,
                "count": count,
                "claims": claims,
                "more": max(0, count - len(claims)),
                "link": links.link(
                    f"/s/{scheme.slug}/claims?status=pending", remembered=scheme.link_base
                ),
                "week": week,
            },
        )
    audit.record(
        scheme_id,
        "digest.sent",
        actor_user_id=None,
        target=target,
        details={"pending": count, "coordinators": len(coordinators)},
    )
    log.info(
        "digest for %s (%s): %d pending, %d coordinators",
        scheme.slug,
        week,
        count,
        len(coordinators),
    )
    return len(coordinators)
