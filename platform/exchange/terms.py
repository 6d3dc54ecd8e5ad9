"""An agreement's terms in each scheme's own minutes, and the two-scheme context.

An agreement links a proposer scheme P and a partner scheme Q. Its ``rate`` is an exact
decimal in P's terms (how many of Q's minutes one of P's buys); Q's rate is its exact
reciprocal. Its ``limit`` bounds |P's position| in P's minutes; Q's limit is
``round_half_up(limit × rate)``. Everything is computed with :class:`Fraction`; only what
is shown is rounded (rates half up to 6 places).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import and_, or_

from timebank.platform import tenancy
from timebank.platform.api.errors import RuleViolation
from timebank.platform.db import db
from timebank.platform.exchange.models import Agreement
from timebank.platform.schemes.models import Scheme
from timebank.tenants.policy.services import current_policy

OPEN_STATUSES = ("proposed", "active", "suspended")
FINAL_STATUSES = ("ended", "declined")


# --- exact rates -------------------------------------------------------------


def round_half_up(value: Fraction) -> int:
    """Round to the nearest integer, halves away from zero."""
    magnitude = (abs(value.numerator) * 2 + value.denominator) // (2 * value.denominator)
    return magnitude if value >= 0 else -magnitude


def show_rate(rate: Fraction) -> str:
    """A rate as shown: rounded half up to 6 decimal places, trailing zeros dropped."""
    millionths = round_half_up(rate * 1_000_000)
    return format((Decimal(millionths) / Decimal(1_000_000)).normalize(), "f")


def rate_from(agreement: Agreement, scheme_id: int) -> Fraction:
    """How many of the partner's minutes one of ``scheme_id``'s buys (exact)."""
    rate = Fraction(Decimal(agreement.rate))
    return rate if scheme_id == agreement.proposer_scheme_id else 1 / rate


def limit_for(agreement: Agreement, scheme_id: int) -> int:
    """The bound on |position| of ``scheme_id``, in its own minutes."""
    if scheme_id == agreement.proposer_scheme_id:
        return int(agreement.limit)
    return round_half_up(agreement.limit * Fraction(Decimal(agreement.rate)))


def partner_of(agreement: Agreement, scheme_id: int) -> int:
    """The other side of the agreement from ``scheme_id``."""
    if scheme_id == agreement.proposer_scheme_id:
        return int(agreement.partner_scheme_id)
    return int(agreement.proposer_scheme_id)


# --- scheme contexts -----------------------------------------------------------


@contextmanager
def leg_context(scheme_id: int, other_id: int) -> Iterator[None]:
    """ORM scoped to ``scheme_id``; the RLS setting admits both schemes of this unit of work."""
    with tenancy.scheme_context(scheme_id, also_visible=(other_id,)):
        yield


def scheme_by_id(scheme_id: int) -> Scheme:
    scheme = db.session.get(Scheme, scheme_id)
    assert scheme is not None
    return scheme


def exchange_enabled(scheme: Scheme, *, other_id: int) -> bool:
    with leg_context(scheme.id, other_id):
        return bool(current_policy(scheme)["exchange"]["enabled"])


def require_exchange_enabled(ours: Scheme, partner: Scheme) -> None:
    for scheme, other in ((ours, partner), (partner, ours)):
        if not exchange_enabled(scheme, other_id=other.id):
            raise RuleViolation(
                f"{scheme.name} does not accept payments with partner schemes: "
                "its coordinators have switched them off in its rules.",
                code="exchange_disabled",
                extra={"scheme": scheme.slug},
            )


def between(first: int, second: int) -> Any:
    """Agreements between two schemes, whichever proposed."""
    return or_(
        and_(Agreement.proposer_scheme_id == first, Agreement.partner_scheme_id == second),
        and_(Agreement.proposer_scheme_id == second, Agreement.partner_scheme_id == first),
    )
