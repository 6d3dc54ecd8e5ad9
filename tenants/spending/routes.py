"""Spending API: rewards, redemptions, gifts, the community pot, leaving a scheme."""

from __future__ import annotations

from typing import Any

from timebank.platform.api.blueprint import Blueprint
from timebank.platform.api.idempotency import idempotent
from timebank.platform.api.pagination import keyset_page, page
from timebank.tenants.access import readable_member, scheme_access
from timebank.tenants.ledger.schemas import TransactionOut
from timebank.tenants.ledger.services import describe_transactions
from timebank.tenants.spending import gifts, goals, leaving, services
from timebank.tenants.spending.models import Redemption, Reward
from timebank.tenants.spending.schemas import (
    DecisionIn,
    GiftIn,
    GoalIn,
    GoalOut,
    GrantIn,
    LeaveIn,
    MembershipEndOut,
    NearGoalList,
    PotOut,
    RedemptionCreate,
    RedemptionOut,
    RedemptionPage,
    RedemptionQuery,
    RewardCreate,
    RewardOut,
    RewardPage,
    RewardPatch,
    RewardQuery,
    SettleIn,
)

blp = Blueprint(
    "spending",
    __name__,
    url_prefix="/api/v1/schemes/<slug>",
    description="Rewards, redemptions, gifts, the community pot, leaving a scheme",
    credentials="scheme",
)


# --- rewards ------------------------------------------------------------------


@blp.route("/rewards")
@blp.arguments(RewardQuery, location="query")
@blp.response(200, RewardPage)
def rewards(args: dict[str, Any], slug: str) -> dict[str, Any]:
    access = scheme_access(slug)
    rows, cursor = keyset_page(
        services.rewards_query(
            active=args["active"],
            partner_id=args["partner_id"],
            area=args["area"],
            approved_only=not access.is_coordinator,
        ),
        keys=[Reward.id],
        limit=args["limit"],
        cursor=args["cursor"],
        descending=False,
        key_of=lambda reward: [reward.id],
    )
    return page([services.describe_reward(reward) for reward in rows], cursor)


@blp.route("/rewards", methods=["POST"])
@blp.arguments(RewardCreate)
@blp.response(201, RewardOut)
def create_reward(body: dict[str, Any], slug: str) -> dict[str, Any]:
    access = scheme_access(slug, write=True, coordinator=True)
    reward = services.create_reward(access.scheme, body, actor_user_id=access.user.id)
    return services.describe_reward(reward)


@blp.route("/rewards/<int:reward_id>")
@blp.response(200, RewardOut)
def reward_detail(slug: str, reward_id: int) -> dict[str, Any]:
    scheme_access(slug)
    return services.describe_reward(services.get_reward(reward_id))


@blp.route("/rewards/<int:reward_id>", methods=["PATCH"])
@blp.arguments(RewardPatch)
@blp.response(200, RewardOut)
def update_reward(body: dict[str, Any], slug: str, reward_id: int) -> dict[str, Any]:
    access = scheme_access(slug, write=True, coordinator=True)
    reward = services.update_reward(access.scheme, reward_id, body, actor_user_id=access.user.id)
    return services.describe_reward(reward)


# --- redemptions --------------------------------------------------------------


@blp.route("/redemptions", methods=["POST"])
@idempotent
@blp.arguments(RedemptionCreate)
@blp.response(201, RedemptionOut)
def redeem(body: dict[str, Any], slug: str) -> dict[str, Any]:
    access = scheme_access(slug, write=True)
    redemption = services.redeem(
        access.scheme,
        access.member,
        reward_id=body["reward_id"],
        quantity=body["quantity"],
        actor_user_id=access.user.id,
    )
    return services.describe_redemptions([redemption])[0]


@blp.route("/redemptions")
@blp.arguments(RedemptionQuery, location="query")
@blp.response(200, RedemptionPage)
def redemptions(args: dict[str, Any], slug: str) -> dict[str, Any]:
    """Members see their own redemptions; coordinators all (``?member_id=``, ``?status=``)."""
    access = scheme_access(slug)
    member_id = readable_member(
        access, args["member_id"], what="redemptions", all_for_coordinators=True
    )
    rows, cursor = keyset_page(
        services.redemptions_query(member_id=member_id, status=args["status"]),
        keys=[Redemption.id],
        limit=args["limit"],
        cursor=args["cursor"],
        key_of=lambda redemption: [redemption.id],
    )
    return page(services.describe_redemptions(rows), cursor)


@blp.route("/redemptions/<int:redemption_id>/fulfil", methods=["POST"])
@blp.arguments(DecisionIn)
@blp.response(200, RedemptionOut)
def fulfil(body: dict[str, Any], slug: str, redemption_id: int) -> dict[str, Any]:
    access = scheme_access(slug, write=True, coordinator=True)
    redemption = services.fulfil_redemption(
        access.scheme, redemption_id, actor_user_id=access.user.id
    )
    return services.describe_redemptions([redemption])[0]


@blp.route("/redemptions/<int:redemption_id>/cancel", methods=["POST"])
@idempotent
@blp.arguments(DecisionIn)
@blp.response(200, RedemptionOut)
def cancel(body: dict[str, Any], slug: str, redemption_id: int) -> dict[str, Any]:
    access = scheme_access(slug, write=True, coordinator=True)
    redemption = services.cancel_redemption(
        access.scheme, redemption_id, actor_user_id=access.user.id, memo=body["memo"]
    )
    return services.describe_redemptions([redemption])[0]


# --- gifts and the pot --------------------------------------------------------


@blp.route("/gifts", methods=["POST"])
@idempotent
@blp.arguments(GiftIn)
@blp.response(201, TransactionOut)
def gift(body: dict[str, Any], slug: str) -> dict[str, Any]:
    """Give credits to the community pot (``"to": "pot"``) or to a member (``"to": <member id>``)."""
    access = scheme_access(slug, write=True)
    transaction = gifts.give(
        access.scheme,
        access.member,
        to=body["to"],
        amount=body["amount"],
        memo=body["memo"],
        actor_user_id=access.user.id,
    )
    return describe_transactions([transaction])[0]


@blp.route("/pot")
@blp.response(200, PotOut)
def pot(slug: str) -> dict[str, Any]:
    scheme_access(slug)
    return {"balance": gifts.pot_balance()}


@blp.route("/pot/grants", methods=["POST"])
@idempotent
@blp.arguments(GrantIn)
@blp.response(201, TransactionOut)
def grant(body: dict[str, Any], slug: str) -> dict[str, Any]:
    access = scheme_access(slug, write=True, coordinator=True)
    transaction = gifts.grant_from_pot(
        access.scheme,
        access.member,
        to_member_id=body["to_member_id"],
        amount=body["amount"],
        memo=body["memo"],
        actor_user_id=access.user.id,
    )
    return describe_transactions([transaction])[0]


# --- leaving ------------------------------------------------------------------


# --- the caller's reward goal --------------------------------------------------------

NO_GOAL = dict.fromkeys(GoalOut().fields, None)


@blp.route("/goal")
@blp.response(200, GoalOut)
def goal(slug: str) -> dict[str, Any]:
    """The caller's reward goal and progress (every field ``null`` when none is set)."""
    access = scheme_access(slug)
    return goals.goal_of(access.member.id) or NO_GOAL


@blp.route("/goal", methods=["PUT"])
@blp.arguments(GoalIn)
@blp.response(200, GoalOut)
def set_goal(body: dict[str, Any], slug: str) -> dict[str, Any]:
    """Mark one active reward as the caller's goal (replacing any other)."""
    access = scheme_access(slug, write=True)
    goals.set_goal(access.scheme, access.member, body["reward_id"], actor_user_id=access.user.id)
    return goals.goal_of(access.member.id) or NO_GOAL


@blp.route("/goal", methods=["DELETE"])
@blp.response(204)
def clear_goal(slug: str) -> None:
    access = scheme_access(slug, write=True)
    goals.clear_goal(access.scheme, access.member, actor_user_id=access.user.id)


@blp.route("/goals")
@blp.response(200, NearGoalList)
def near_goals(slug: str) -> dict[str, Any]:
    """Coordinators: every member's goal and progress, nearest to their goal first."""
    scheme_access(slug, coordinator=True)
    return {"items": goals.near_goals()}


@blp.route("/leave", methods=["POST"])
@idempotent
@blp.arguments(LeaveIn)
@blp.response(200, MembershipEndOut)
def leave(body: dict[str, Any], slug: str) -> dict[str, Any]:
    """Leave the scheme; a positive balance goes to ``balance_to`` (``"pot"`` or a member id)."""
    access = scheme_access(slug, write=True)
    return leaving.leave_scheme(
        access.scheme,
        access.member.id,
        balance_to=body["balance_to"],
        memo=body["memo"],
        actor_user_id=access.user.id,
    )


@blp.route("/members/<int:member_id>/settle", methods=["POST"])
@idempotent
@blp.arguments(SettleIn)
@blp.response(200, MembershipEndOut)
def settle(body: dict[str, Any], slug: str, member_id: int) -> dict[str, Any]:
    """Settle a member's account and remove them (``write_off``), or keep them (``keep_open``)."""
    access = scheme_access(slug, write=True, coordinator=True)
    return leaving.settle_member(
        access.scheme,
        member_id,
        action=body["action"],
        memo=body["memo"],
        actor_user_id=access.user.id,
    )
