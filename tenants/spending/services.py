"""What credits buy: rewards, redemptions, gifts and grants from the community pot.

A redemption moves ``price × quantity`` from the member to the scheme's
``redemption`` account through the posting service (kind ``spend``) — or, for a
partner's offer, to that partner's own account at once (status ``issued``
until its counter honours the code, :mod:`timebank.tenants.partners.counter`). The
reward's row is locked (``SELECT … FOR UPDATE``) before its stock and the
member's per-period limit are checked, so concurrent redemptions of the same
reward queue up: stock never goes below zero and a limit is never overshot.
Lock order everywhere: redemption → reward → accounts (the posting service
locks accounts in id order). Cancelling posts the refund as the reversal of
the spend, once: the redemption row is locked first, and the ledger allows
one reversal per transaction.

Credit expiry lives in :mod:`.expiry` (handed on from here), gifts and the
pot in :mod:`.gifts`, leaving a scheme in :mod:`.leaving`.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from timebank.platform import audit
from timebank.platform.api.errors import FieldError, NotFound, RuleViolation
from timebank.platform.db import atomic, db
from timebank.platform.identity.models import User
from timebank.platform.schemes.models import Scheme
from timebank.platform.schemes.services import provisioner
from timebank.tenants.ledger.rules import check_rewards_enabled
from timebank.tenants.ledger.services import (
    MAX_AMOUNT,
    Leg,
    member_account,
    partner_account,
    post_transaction,
    reversal_of,
    reverse_transaction,
    scheme_account,
)
from timebank.tenants.memberships.models import Member
from timebank.tenants.partners.models import Partner
from timebank.tenants.policy.services import current_policy
from timebank.tenants.spending.expiry import expire_credits as expire_credits
from timebank.tenants.spending.expiry import send_expiry_notices as send_expiry_notices
from timebank.tenants.spending.models import Redemption, Reward
from timebank.tenants.spending.offers import check_partner_offer
from timebank.tenants.spending.schemas import RewardCreate

# No 0/O, 1/I/L: codes are read aloud and typed in by coordinators.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8


# --- periods ------------------------------------------------------------------


def period_start(timezone: str, period: str, now: datetime | None = None) -> datetime:
    """The UTC instant the current calendar ``week``/``month``/``year`` began in ``timezone``."""
    zone = ZoneInfo(timezone)
    today = (now or datetime.now(UTC)).astimezone(zone).date()
    if period == "week":
        first: date = today - timedelta(days=today.weekday())
    elif period == "month":
        first = today.replace(day=1)
    elif period == "year":
        first = today.replace(month=1, day=1)
    else:
        raise ValueError(f"unknown period {period!r}")
    return datetime.combine(first, time.min, tzinfo=zone).astimezone(UTC)


# --- rewards ------------------------------------------------------------------


def describe_reward(reward: Reward) -> dict[str, Any]:
    limit = None
    if reward.limit_quantity is not None:
        limit = {"quantity": reward.limit_quantity, "period": reward.limit_period}
    return {
        "id": reward.id,
        "name": reward.name,
        "description": reward.description,
        "price": reward.price,
        "stock": reward.stock,
        "active": reward.active,
        "per_member_limit": limit,
        "eligible_roles": _roles(reward),
        "goal": reward.is_goal,
        "created_at": reward.created_at,
        "partner_id": reward.partner_id,
        "monthly_allowance": reward.monthly_allowance,
        "min_age": reward.min_age,
        "available_from": reward.available_from,
        "available_until": reward.available_until,
        "status": reward.approval,
    }


def _roles(reward: Reward) -> list[str] | None:
    return reward.eligible_roles.split(",") if reward.eligible_roles else None


def rewards_query(
    *,
    active: bool | None = None,
    partner_id: int | None = None,
    area: str | None = None,
    approved_only: bool = False,
) -> Any:
    """The catalogue: the scheme's rewards and its partners' offers (``approved_only``:
    what members see — approved offers of active partners)."""
    statement = select(Reward)
    if active is not None:
        statement = statement.where(Reward.active.is_(active))
    if partner_id is not None:
        statement = statement.where(Reward.partner_id == partner_id)
    if area is not None:
        in_area = select(Partner.id).where(func.lower(Partner.area) == area.strip().lower())
        statement = statement.where(Reward.partner_id.in_(in_area))
    if approved_only:
        active_partners = select(Partner.id).where(Partner.status == "active")
        statement = statement.where(
            Reward.approval == "approved",
            Reward.partner_id.is_(None) | Reward.partner_id.in_(active_partners),
        )
    return statement


def get_reward(reward_id: int) -> Reward:
    """A reward of the current scheme, or 404 (also for another scheme's)."""
    reward = db.session.execute(select(Reward).where(Reward.id == reward_id)).scalar_one_or_none()
    if reward is None:
        raise NotFound("No reward with this id in this scheme.")
    return reward


def _apply(reward: Reward, changes: dict[str, Any]) -> None:
    for name in ("name", "price", "stock", "description", "active"):
        if name in changes:
            setattr(reward, name, changes[name])
    if "goal" in changes:
        reward.is_goal = bool(changes["goal"])
    if "per_member_limit" in changes:
        limit = changes["per_member_limit"]
        reward.limit_quantity = limit["quantity"] if limit else None
        reward.limit_period = limit["period"] if limit else None
    if "eligible_roles" in changes:
        roles = changes["eligible_roles"]
        reward.eligible_roles = ",".join(sorted(set(roles))) if roles else None


@atomic
def create_reward(scheme: Scheme, fields: dict[str, Any], *, actor_user_id: int | None) -> Reward:
    """Add a reward to the scheme's catalogue (``fields`` as loaded by ``RewardCreate``)."""
    reward = Reward(scheme_id=scheme.id, active=True)
    _apply(reward, fields)
    db.session.add(reward)
    db.session.flush()
    audit.record(
        scheme.id,
        "reward.created",
        actor_user_id=actor_user_id,
        target=f"reward:{reward.id}",
        details={"name": reward.name, "price": reward.price, "stock": reward.stock},
    )
    return reward


@atomic
def update_reward(
    scheme: Scheme, reward_id: int, changes: dict[str, Any], *, actor_user_id: int
) -> Reward:
    """Change a reward; its row is locked so a stock change cannot cross a redemption."""
    reward = _lock_reward(reward_id)
    if reward is None:
        raise NotFound("No reward with this id in this scheme.")
    before = describe_reward(reward)
    _apply(reward, changes)
    audit.record(
        scheme.id,
        "reward.updated",
        actor_user_id=actor_user_id,
        target=f"reward:{reward.id}",
        details={
            "before": {k: before[k] for k in changes if k in before},
            "changes": changes,
        },
    )
    return reward


def _lock_reward(reward_id: int) -> Reward | None:
    return db.session.execute(
        select(Reward)
        .where(Reward.id == reward_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


@provisioner(order=50)
def provision_rewards(scheme: Scheme, data: dict[str, Any], creator: User) -> None:
    """Seed the catalogue from the template's ``rewards`` (validated like an API request)."""

    for item in data.get("rewards") or []:
        create_reward(scheme, RewardCreate().load(item), actor_user_id=creator.id)


# --- redemptions --------------------------------------------------------------


@atomic
def redeem(
    scheme: Scheme,
    member: Member,
    *,
    reward_id: int,
    quantity: int,
    actor_user_id: int,
    partner_id: int | None = None,
    honoured: bool = False,
) -> Redemption:
    """Spend credits on ``quantity`` of a reward and hand back a code to show a coordinator.

    Raises ``RuleViolation``: ``rewards_disabled``, ``reward_not_eligible``,
    ``out_of_stock``, ``reward_limit_reached``, ``insufficient_balance``;
    ``FieldError`` on ``reward_id`` for an unknown or withdrawn reward. A partner's
    offer also refuses ``monthly_allowance_reached``, ``offer_not_available``,
    ``too_young``; ``partner_id`` (a counter charging it) must be the offer's partner.
    ``honoured``: handed over at once (a charge at the counter), status ``fulfilled``.
    """
    check_rewards_enabled(current_policy(scheme), scheme.name)
    reward = _lock_reward(reward_id)
    if reward is None:
        raise FieldError("reward_id", "No reward with this id in this scheme.")
    if not reward.active or reward.approval != "approved":
        raise FieldError("reward_id", "This reward is no longer offered.")
    if partner_id is not None and reward.partner_id != partner_id:
        raise FieldError("reward_id", "No offer with this id at this partner.")
    roles = _roles(reward)
    if roles is not None and member.role not in roles:
        raise RuleViolation(
            f"'{reward.name}' is only for {' and '.join(r + 's' for r in roles)}.",
            code="reward_not_eligible",
        )
    total = reward.price * quantity
    if total > MAX_AMOUNT:
        raise FieldError("quantity", "That many would cost more than any balance can hold.")
    if reward.stock is not None and reward.stock < quantity:
        left = "none are" if reward.stock == 0 else f"only {reward.stock} are"
        raise RuleViolation(
            f"'{reward.name}' is out of stock: {left} left.",
            code="out_of_stock",
            extra={"stock": reward.stock},
        )
    if reward.limit_quantity is not None and reward.limit_period is not None:
        _check_limit(scheme, reward, member.id, quantity)
    if reward.partner_id is not None:
        check_partner_offer(
            scheme, member, reward, quantity, since=period_start(scheme.timezone, "month")
        )

    account = member_account(member.id)
    receiving = (
        scheme_account("redemption")
        if reward.partner_id is None
        else partner_account(reward.partner_id)
    )
    transaction = post_transaction(
        scheme,
        kind="spend",
        legs=[Leg(account.id, -total), Leg(receiving.id, total)],
        actor_user_id=actor_user_id,
        memo=f"{quantity} × {reward.name}" if quantity > 1 else reward.name,
        names={account.id: "Your balance"},
    )
    if reward.stock is not None:
        reward.stock -= quantity
    redemption = Redemption(
        scheme_id=scheme.id,
        member_id=member.id,
        reward_id=reward.id,
        quantity=quantity,
        total=total,
        code=_new_code(),
        status="pending" if reward.partner_id is None else "issued",
        transaction_id=transaction.id,
        partner_id=reward.partner_id,
    )
    if reward.partner_id is not None:
        days = current_policy(scheme)["rewards"].get("partner_code_valid_days", 30)
        redemption.expires_at = datetime.now(UTC) + timedelta(days=days)
    if honoured:
        redemption.status = "fulfilled"
        redemption.decided_by = actor_user_id
        redemption.decided_at = datetime.now(UTC)
    db.session.add(redemption)
    db.session.flush()
    return redemption


def _check_limit(scheme: Scheme, reward: Reward, member_id: int, quantity: int) -> None:
    assert reward.limit_quantity is not None and reward.limit_period is not None
    since = period_start(scheme.timezone, reward.limit_period)
    used = db.session.execute(
        select(func.coalesce(func.sum(Redemption.quantity), 0)).where(
            Redemption.member_id == member_id,
            Redemption.reward_id == reward.id,
            Redemption.status != "cancelled",
            Redemption.created_at >= since,
        )
    ).scalar_one()
    if used + quantity > reward.limit_quantity:
        raise RuleViolation(
            f"'{reward.name}' is limited to {reward.limit_quantity} per member per "
            f"{reward.limit_period}; you have had {used} this {reward.limit_period}.",
            code="reward_limit_reached",
            extra={
                "limit": reward.limit_quantity,
                "period": reward.limit_period,
                "used": int(used),
            },
        )


def _new_code() -> str:
    for _attempt in range(20):
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        taken = db.session.execute(select(Redemption.id).where(Redemption.code == code)).first()
        if taken is None:
            return code
    raise RuntimeError("could not find a free redemption code")  # pragma: no cover


def redemptions_query(*, member_id: int | None = None, status: str | None = None) -> Any:
    statement = select(Redemption)
    if member_id is not None:
        statement = statement.where(Redemption.member_id == member_id)
    if status is not None:
        statement = statement.where(Redemption.status == status)
    return statement


def describe_redemptions(redemptions: Sequence[Redemption]) -> list[dict[str, Any]]:
    """Serialisable redemptions with their reward's name (one query for any number)."""
    reward_ids = {r.reward_id for r in redemptions}
    names = (
        dict(
            db.session.execute(
                select(Reward.id, Reward.name).where(Reward.id.in_(reward_ids))
            ).all()
        )
        if reward_ids
        else {}
    )
    return [
        {
            "id": r.id,
            "code": r.code,
            "status": r.status,
            "transaction_id": r.transaction_id,
            "refund_transaction_id": r.refund_transaction_id,
            "reward_id": r.reward_id,
            "reward_name": names.get(r.reward_id, ""),
            "member_id": r.member_id,
            "quantity": r.quantity,
            "total": r.total,
            "created_at": r.created_at,
            "decided_at": r.decided_at,
            "partner_id": r.partner_id,
            "expires_at": r.expires_at,
        }
        for r in redemptions
    ]


def _lock_redemption(redemption_id: int) -> Redemption:
    redemption = db.session.execute(
        select(Redemption)
        .where(Redemption.id == redemption_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if redemption is None:
        raise NotFound("No redemption with this id in this scheme.")
    return redemption


def _refuse_decided(redemption: Redemption) -> None:
    if redemption.status == "cancelled":
        raise RuleViolation(
            f"Redemption {redemption.code} was already cancelled and refunded.",
            code="already_cancelled",
        )
    if redemption.status not in ("pending", "issued"):
        raise RuleViolation(
            f"Redemption {redemption.code} was already {redemption.status}.",
            code="already_decided",
        )


@atomic
def fulfil_redemption(scheme: Scheme, redemption_id: int, *, actor_user_id: int) -> Redemption:
    """Mark a pending redemption as handed over. 422 ``already_decided``/``already_cancelled``."""
    redemption = _lock_redemption(redemption_id)
    _refuse_decided(redemption)
    redemption.status = "fulfilled"
    redemption.decided_by = actor_user_id
    redemption.decided_at = datetime.now(UTC)
    audit.record(
        scheme.id,
        "redemption.fulfilled",
        actor_user_id=actor_user_id,
        target=f"redemption:{redemption.id}",
        details={"code": redemption.code},
    )
    return redemption


@atomic
def cancel_redemption(
    scheme: Scheme, redemption_id: int, *, actor_user_id: int, memo: str | None = None
) -> Redemption:
    """Cancel a pending redemption: refund it (a reversal of the spend) and restore stock.

    Exactly once: the redemption row is locked, so a second or concurrent
    cancel waits and then gets 422 ``already_cancelled``. When the spend was
    already reversed through the ledger, that reversal is taken as the refund.
    """
    redemption = _lock_redemption(redemption_id)
    _refuse_decided(redemption)
    reward = _lock_reward(redemption.reward_id)
    refund_id = reversal_of(redemption.transaction_id)
    if refund_id is None:
        refund = reverse_transaction(
            scheme,
            redemption.transaction_id,
            actor_user_id=actor_user_id,
            memo=memo or f"Refund of redemption {redemption.code}",
        )
        refund_id = refund.id
    if reward is not None and reward.stock is not None:
        reward.stock += redemption.quantity
    redemption.status = "cancelled"
    redemption.refund_transaction_id = refund_id
    redemption.decided_by = actor_user_id
    redemption.decided_at = datetime.now(UTC)
    audit.record(
        scheme.id,
        "redemption.cancelled",
        actor_user_id=actor_user_id,
        target=f"redemption:{redemption.id}",
        details={"code": redemption.code, "refund_transaction_id": refund_id},
    )
    return redemption
