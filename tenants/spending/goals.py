"""Reward goals: the one reward a member is saving up for, and how far they are.

A member marks one active reward as their goal (marking another replaces it);
their overview shows a progress bar toward it and the rewards page says what is
missing. What a member can spend is their balance down to their lower limit
(a scheme that lets balances go below zero lets them spend that too).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, select

from timebank.platform import audit
from timebank.platform.api.errors import FieldError
from timebank.platform.db import atomic, db
from timebank.platform.identity.models import User
from timebank.platform.schemes.models import Scheme
from timebank.tenants.ledger.models import Account
from timebank.tenants.ledger.services import effective_limits, member_account
from timebank.tenants.memberships.models import Member
from timebank.tenants.policy.services import current_policy
from timebank.tenants.spending.models import Reward, RewardGoal


def spendable(scheme: Scheme, member_id: int) -> int:
    """Minutes the member can spend now: the balance down to their lower limit."""
    account = member_account(member_id)
    low, _high = effective_limits(account, current_policy(scheme))
    if low is None:
        return 2**62  # no lower limit: any price can be paid
    return max(0, account.balance - low)


def missing_for(scheme: Scheme, member_id: int, rewards: list[dict[str, Any]]) -> dict[int, int]:
    """``{reward id: minutes still missing}`` for the rewards the member cannot afford yet
    (``rewards`` as described by the API: ``id`` and ``price``)."""
    can_spend = spendable(scheme, member_id)
    return {r["id"]: r["price"] - can_spend for r in rewards if r["price"] > can_spend}


def _goal_row(member_id: int) -> RewardGoal | None:
    return db.session.execute(
        select(RewardGoal).where(RewardGoal.member_id == member_id)
    ).scalar_one_or_none()


def goal_of(member_id: int) -> dict[str, Any] | None:
    """The member's goal and their progress, or ``None`` (none set, or the reward withdrawn)."""
    row = _goal_row(member_id)
    if row is None:
        return None
    reward = db.session.execute(
        select(Reward).where(Reward.id == row.reward_id, Reward.active.is_(True))
    ).scalar_one_or_none()
    if reward is None:
        return None
    balance = member_account(member_id).balance
    return {
        "reward_id": reward.id,
        "reward_name": reward.name,
        "price": reward.price,
        "balance": balance,
        # Saving up: what the balance still lacks (a scheme that lets balances go
        # below zero may let the member redeem sooner; the rewards page says so).
        "missing_minutes": max(0, reward.price - balance),
        "progress_minutes": min(reward.price, max(0, balance)),
        "set_at": row.created_at,
    }


@atomic
def set_goal(scheme: Scheme, member: Member, reward_id: int, *, actor_user_id: int) -> None:
    """Mark an active reward of this scheme as the member's goal (replacing any other).

    A reward of another scheme, unknown or withdrawn → 422 on ``reward_id``.
    """
    reward = db.session.execute(
        select(Reward).where(Reward.id == reward_id, Reward.active.is_(True))
    ).scalar_one_or_none()
    if reward is None:
        raise FieldError("reward_id", "Choose one of the rewards on offer.")
    if not reward.is_goal and goal_rewards_marked():
        raise FieldError("reward_id", "Choose one of the rewards marked as a goal.")
    row = _goal_row(member.id)
    if row is None:
        db.session.add(RewardGoal(scheme_id=scheme.id, member_id=member.id, reward_id=reward.id))
    else:
        row.reward_id = reward.id
    audit.record(
        scheme.id,
        "reward_goal.set",
        actor_user_id=actor_user_id,
        target=f"member:{member.id}",
        details={"reward_id": reward.id},
    )


@atomic
def clear_goal(scheme: Scheme, member: Member, *, actor_user_id: int) -> bool:
    """Drop the member's goal; whether there was one."""
    row = _goal_row(member.id)
    if row is None:
        return False
    db.session.delete(row)
    audit.record(
        scheme.id,
        "reward_goal.cleared",
        actor_user_id=actor_user_id,
        target=f"member:{member.id}",
        details={"reward_id": row.reward_id},
    )
    return True


def goal_rewards_marked() -> bool:
    """Whether a coordinator has marked any active reward as a goal (members then choose
    among those; with none marked, any active reward may be a goal)."""
    found = db.session.execute(
        select(Reward.id).where(Reward.active.is_(True), Reward.is_goal.is_(True)).limit(1)
    ).first()
    return found is not None


def goal_choices() -> list[Reward]:
    """The rewards a member may choose as a goal, cheapest first."""
    statement = select(Reward).where(Reward.active.is_(True))
    if goal_rewards_marked():
        statement = statement.where(Reward.is_goal.is_(True))
    return list(db.session.execute(statement.order_by(Reward.price, Reward.id)).scalars())


def near_goals() -> list[dict[str, Any]]:
    """Every member with a goal (of an active reward) and how far they are, nearest first.

    ``share`` is the part of the price the balance covers (0 to 1); members who left
    are not listed.
    """
    rows = db.session.execute(
        select(Member.id, User.name, Reward.id, Reward.name, Reward.price, Account.balance)
        .join(RewardGoal, RewardGoal.member_id == Member.id)
        .join(
            Reward,
            and_(
                Reward.scheme_id == RewardGoal.scheme_id,
                Reward.id == RewardGoal.reward_id,
                Reward.active.is_(True),
            ),
        )
        .join(User, User.id == Member.user_id)
        .join(Account, and_(Account.scheme_id == Member.scheme_id, Account.member_id == Member.id))
        .where(Member.status != "left")
    ).all()
    items: list[dict[str, Any]] = []
    for member_id, name, reward_id, reward_name, price, balance in rows:
        progress = min(price, max(0, balance))
        items.append(
            {
                "member_id": member_id,
                "name": name,
                "reward_id": reward_id,
                "reward_name": reward_name,
                "price": price,
                "balance": balance,
                "progress_minutes": progress,
                "missing_minutes": price - progress,
                "share": round(progress / price, 4),
            }
        )
    items.sort(key=lambda item: (-item["share"], item["missing_minutes"], item["member_id"]))
    return items
