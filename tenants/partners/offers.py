"""A partner's offers (rewards with ``partner_id``) and the reads the routes need.

A new offer waits as ``pending`` when the policy's
``rewards.partner_offers_need_approval`` is true and its creator is not a
coordinator; a coordinator approves or refuses it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from timebank.platform import audit
from timebank.platform.api.errors import NotFound, RuleViolation
from timebank.platform.db import atomic, db
from timebank.tenants.partners.models import PartnerSettlement
from timebank.tenants.partners.services import PartnerAccess
from timebank.tenants.policy.services import current_policy
from timebank.tenants.spending.models import Redemption, Reward

OFFER_FIELDS = (
    "name",
    "price",
    "stock",
    "description",
    "monthly_allowance",
    "min_age",
    "available_from",
    "available_until",
)


@atomic
def create_offer(access: PartnerAccess, fields: dict[str, Any]) -> Reward:
    """Publish an offer of the partner (``fields`` as loaded by ``OfferCreate``)."""
    needs_approval = current_policy(access.scheme)["rewards"].get(
        "partner_offers_need_approval", False
    )
    reward = Reward(
        scheme_id=access.scheme.id,
        partner_id=access.partner.id,
        active=True,
        approval="pending" if needs_approval and not access.is_coordinator else "approved",
    )
    for name in OFFER_FIELDS:
        setattr(reward, name, fields.get(name))
    db.session.add(reward)
    db.session.flush()
    audit.record(
        access.scheme.id,
        "partner.offer_created",
        actor_user_id=access.user.id,
        target=f"reward:{reward.id}",
        details={"partner_id": access.partner.id, "price": reward.price, "status": reward.approval},
    )
    return reward


@atomic
def decide_offer(access: PartnerAccess, reward_id: int, *, approve: bool) -> Reward:
    """A coordinator approves or refuses a waiting offer (422 ``already_decided``)."""
    reward = db.session.execute(
        select(Reward)
        .where(Reward.id == reward_id, Reward.partner_id == access.partner.id)
        .with_for_update()
    ).scalar_one_or_none()
    if reward is None:
        raise NotFound("No offer with this id at this partner.")
    if reward.approval != "pending":
        raise RuleViolation(f"This offer was already {reward.approval}.", code="already_decided")
    reward.approval = "approved" if approve else "refused"
    audit.record(
        access.scheme.id,
        "partner.offer_approved" if approve else "partner.offer_refused",
        actor_user_id=access.user.id,
        target=f"reward:{reward.id}",
        details={"partner_id": access.partner.id},
    )
    return reward


def partner_offers(partner_id: int, *, approved_only: bool = False) -> list[Reward]:
    """The partner's offers (``approved_only``: what can be charged now), by name."""
    statement = select(Reward).where(Reward.partner_id == partner_id)
    if approved_only:
        statement = statement.where(Reward.active.is_(True), Reward.approval == "approved")
    return list(db.session.execute(statement.order_by(Reward.name)).scalars())


def settlements_query(partner_id: int) -> Any:
    return select(PartnerSettlement).where(PartnerSettlement.partner_id == partner_id)


def own_redemption_code(member_id: int, redemption_id: int) -> str:
    """The code of one of the member's redemptions (404 for anyone else's)."""
    code = db.session.execute(
        select(Redemption.code).where(
            Redemption.id == redemption_id, Redemption.member_id == member_id
        )
    ).scalar_one_or_none()
    if code is None:
        raise NotFound("No redemption with this id in this scheme.")
    return code
