"""A partner's terms for its offers, checked under the reward's row lock by ``redeem``."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from timebank.platform.api.errors import RuleViolation
from timebank.platform.db import db
from timebank.platform.schemes.models import Scheme
from timebank.tenants.memberships.models import Member
from timebank.tenants.partners.models import Partner
from timebank.tenants.spending.models import Redemption, Reward


def check_partner_offer(
    scheme: Scheme, member: Member, reward: Reward, quantity: int, *, since: datetime
) -> None:
    """A partner's terms: the partner is active, the offer is on, the member is old
    enough (when the membership records an age), the month's allowance is not used up."""
    partner = db.session.get(Partner, (scheme.id, reward.partner_id))
    if partner is None or partner.status != "active":
        raise RuleViolation(
            "This partner is not accepting credits at the moment.", code="partner_inactive"
        )
    today = datetime.now(ZoneInfo(scheme.timezone)).date()
    if (reward.available_from and today < reward.available_from) or (
        reward.available_until and today > reward.available_until
    ):
        raise RuleViolation(f"'{reward.name}' is not on at the moment.", code="offer_not_available")
    born = getattr(member, "date_of_birth", None)  # recorded for some memberships only
    if reward.min_age is not None and isinstance(born, date):
        age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
        if age < reward.min_age:
            raise RuleViolation(
                f"'{reward.name}' is for members aged {reward.min_age} or over.",
                code="too_young",
            )
    if reward.monthly_allowance is not None:
        used = db.session.execute(
            select(func.coalesce(func.sum(Redemption.quantity), 0)).where(
                Redemption.reward_id == reward.id,
                Redemption.status != "cancelled",
                Redemption.created_at >= since,
            )
        ).scalar_one()
        if used + quantity > reward.monthly_allowance:
            raise RuleViolation(
                f"'{reward.name}' has had all {reward.monthly_allowance} of this month's "
                "places; try again next month.",
                code="monthly_allowance_reached",
                extra={"monthly_allowance": reward.monthly_allowance, "used": int(used)},
            )
