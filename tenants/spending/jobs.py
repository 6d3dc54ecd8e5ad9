"""Spending jobs: lapse old credits and warn members before theirs lapse.

Both take primitive arguments, reload the scheme, run in its context and are
idempotent per day (expiry by idempotency key, notices by ``ExpiryNotice``).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from timebank.platform import tenancy
from timebank.platform.db import db
from timebank.platform.jobs import enqueue, job
from timebank.platform.schemes.models import Scheme
from timebank.tenants.spending import services
from timebank.tenants.spending.expiry import scheme_today


def _scheme(scheme_id: int) -> Scheme | None:
    return db.session.get(Scheme, scheme_id)


@job
def expire_scheme_credits(scheme_id: int, as_of: str) -> int:
    """Lapse the scheme's credits due on ``as_of`` (YYYY-MM-DD); the minutes lapsed."""
    scheme = _scheme(scheme_id)
    if scheme is None:
        return 0
    with tenancy.scheme_context(scheme.id):
        return services.expire_credits(scheme, date.fromisoformat(as_of))


@job
def notify_expiring(scheme_id: int, as_of: str) -> int:
    """Mail members of the scheme whose credits lapse within 14 days of ``as_of``."""
    scheme = _scheme(scheme_id)
    if scheme is None:
        return 0
    with tenancy.scheme_context(scheme.id):
        return services.send_expiry_notices(scheme, date.fromisoformat(as_of))


@job
def expire_every_scheme() -> int:
    """The daily run: an expiry and a notice job per scheme, each for the scheme's own today."""

    schemes = list(db.session.execute(select(Scheme).order_by(Scheme.id)).scalars())
    for scheme in schemes:
        day = scheme_today(scheme).isoformat()
        enqueue("default", "timebank.tenants.spending.jobs.expire_scheme_credits", scheme.id, day)
        enqueue("default", "timebank.tenants.spending.jobs.notify_expiring", scheme.id, day)
    return len(schemes)
