"""Listing jobs: the nightly expiry, the warning mails before it, the weekly digest.

Each takes primitive arguments, reloads the scheme, runs in its context and is
idempotent (see ``life.py``). The scheduler enqueues them per scheme.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from timebank.platform import tenancy
from timebank.platform.db import db
from timebank.platform.jobs import job
from timebank.platform.schemes.models import Scheme
from timebank.tenants.marketplace import life


def _scheme(scheme_id: int) -> Scheme | None:
    scheme = db.session.get(Scheme, scheme_id)
    return None if scheme is None or scheme.is_suspended else scheme


@job
def expire_listings(scheme_id: int, as_of: str) -> int:
    """Mark the scheme's listings whose last day was before ``as_of`` (YYYY-MM-DD) expired."""
    scheme = _scheme(scheme_id)
    if scheme is None:
        return 0
    with tenancy.scheme_context(scheme.id):
        return life.expire_listings(scheme, date.fromisoformat(as_of))


@job
def warn_expiring_listings(scheme_id: int, as_of: str) -> int:
    """Mail authors whose listings end within a week of ``as_of``."""
    scheme = _scheme(scheme_id)
    if scheme is None:
        return 0
    with tenancy.scheme_context(scheme.id):
        return life.warn_expiring(scheme, date.fromisoformat(as_of))


@job
def send_listings_digest(scheme_id: int, week: str) -> int:
    """The weekly digest of new listings (``week`` like ``2025-W07``), once per week."""
    scheme = _scheme(scheme_id)
    if scheme is None:
        return 0
    with tenancy.scheme_context(scheme.id):
        return life.send_digest(scheme, week, now=datetime.now(UTC))
