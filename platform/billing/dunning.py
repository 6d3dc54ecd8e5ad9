"""Dunning: the grace period after a failed payment, then suspension for writes."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import cast

from sqlalchemy import select

from timebank.platform import links
from timebank.platform.billing.models import SchemeBilling
from timebank.platform.billing.plans import (
    OVERDUE_REASON,
    billing_row,
    scheme_of,
)
from timebank.platform.db import db, run_atomic
from timebank.platform.identity.models import User
from timebank.platform.mail import send_mail
from timebank.platform.schemes.models import Scheme
from timebank.platform.schemes.services import set_scheme_status
from timebank.tenants.memberships.services import coordinators_to_mail

SYSTEM = cast(User, SimpleNamespace(id=None))


def end_dunning(row: SchemeBilling, scheme: Scheme) -> bool:
    """Clear the grace period; reactivate a scheme that billing suspended. True if reactivated."""
    was_suspended = row.status == "suspended"
    row.status = "ok"
    row.grace_until = None
    if was_suspended and scheme.status == "suspended" and scheme.suspended_reason == OVERDUE_REASON:
        set_scheme_status(scheme.slug, "active", actor=SYSTEM)
        return True
    return False


def mail_coordinators(scheme: Scheme, row: SchemeBilling, days: int) -> None:

    people = coordinators_to_mail(scheme.id)
    link = links.link(f"/s/{scheme.slug}/billing", remembered=scheme.link_base)
    for email, name in people:
        send_mail(
            to=email,
            template="dunning",
            context={
                "scheme_name": scheme.name,
                "name": name,
                "grace_until": row.grace_until,
                "days": days,
                "error": row.last_payment_error,
                "link": link,
            },
        )


def end_grace_periods(now: datetime | None = None) -> list[str]:
    """Suspend for writes every scheme whose grace period ended unpaid; their slugs."""
    now = now or datetime.now(UTC)
    due = list(
        db.session.execute(
            select(SchemeBilling.scheme_id).where(
                SchemeBilling.status == "grace", SchemeBilling.grace_until <= now
            )
        ).scalars()
    )
    db.session.rollback()
    suspended = []
    for scheme_id in due:

        def work(scheme_id: int = scheme_id) -> str | None:
            row = billing_row(scheme_id, lock=True)
            if row.status != "grace" or row.grace_until is None or row.grace_until > now:
                return None  # paid meanwhile
            row.status = "suspended"
            scheme = scheme_of(row)
            if scheme.status != "suspended":
                set_scheme_status(scheme.slug, "suspended", actor=SYSTEM, reason=OVERDUE_REASON)
            return scheme.slug

        slug = run_atomic(work)
        if slug:
            suspended.append(slug)
    return suspended
