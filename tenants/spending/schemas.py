"""Request and response shapes of the spending API (API.md "Spending")."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from timebank.platform.api.pagination import page_schema
from timebank.platform.api.schemas import (
    PageQuery,
    Strict,
    StrictBoolean,
    free_text,
    minutes,
    object_id,
    query_id,
)
from timebank.tenants.memberships.models import ROLES
from timebank.tenants.spending.models import PERIODS, REDEMPTION_STATUSES

MAX_STOCK = 1_000_000
MAX_QUANTITY = 1_000


class Recipient(fields.Field):
    """``"pot"`` (the scheme's community pot) or a member id of this scheme."""

    default_error_messages = {"invalid": 'Give "pot" or the id of a member of this scheme.'}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "metadata",
            {
                "oneOf": [
                    {"type": "string", "enum": ["pot"]},
                    {"type": "integer", "minimum": 1, "description": "a member id"},
                ],
                "description": 'Where the credits go: "pot" or a member id of this scheme.',
            },
        )
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if value == "pot":
            return "pot"
        if isinstance(value, int) and not isinstance(value, bool) and 1 <= value < 2**63:
            return value
        raise self.make_error("invalid")

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return value


# --- rewards ------------------------------------------------------------------


class PerMemberLimit(Strict):
    quantity = fields.Integer(strict=True, required=True, validate=validate.Range(1, MAX_STOCK))
    period = fields.String(required=True, validate=validate.OneOf(PERIODS))


def _stock(**kwargs: Any) -> fields.Integer:
    return fields.Integer(
        strict=True,
        allow_none=True,
        validate=validate.Range(0, MAX_STOCK),
        metadata={"description": "How many are left; null: unlimited."},
        **kwargs,
    )


def _eligible_roles(**kwargs: Any) -> fields.List:
    return fields.List(
        fields.String(validate=validate.OneOf(ROLES)),
        allow_none=True,
        validate=validate.Length(min=1),
        metadata={"description": "Roles that may redeem it; null: everyone."},
        **kwargs,
    )


class RewardCreate(Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    price = minutes(required=True, metadata={"description": "Minutes per item."})
    stock = _stock(load_default=None)
    description = free_text()
    per_member_limit = fields.Nested(PerMemberLimit, load_default=None, allow_none=True)
    eligible_roles = _eligible_roles(load_default=None)
    goal = StrictBoolean(
        load_default=False,
        metadata={
            "description": "Something to save up for: members choose their goal among these."
        },
    )


class RewardPatch(Strict):
    name = fields.String(validate=validate.Length(min=1, max=120))
    price = minutes()
    stock = _stock()
    description = fields.String(allow_none=True, validate=validate.Length(max=500))
    per_member_limit = fields.Nested(PerMemberLimit, allow_none=True)
    eligible_roles = _eligible_roles()
    active = fields.Boolean()
    goal = StrictBoolean()

    @validates_schema
    def _not_empty(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data:
            raise ValidationError("Give at least one field to change.")


class RewardOut(Schema):
    id = fields.Integer()
    name = fields.String()
    description = fields.String(allow_none=True)
    price = fields.Integer()
    stock = fields.Integer(allow_none=True)
    active = fields.Boolean()
    per_member_limit = fields.Nested(PerMemberLimit, allow_none=True)
    eligible_roles = fields.List(fields.String(), allow_none=True)
    goal = fields.Boolean()
    created_at = fields.DateTime()
    partner_id = fields.Integer(allow_none=True)
    monthly_allowance = fields.Integer(allow_none=True)
    min_age = fields.Integer(allow_none=True)
    available_from = fields.Date(allow_none=True)
    available_until = fields.Date(allow_none=True)
    status = fields.String(metadata={"description": "approved, pending or refused"})


RewardPage = page_schema(RewardOut, "RewardPage")


class RewardQuery(PageQuery):
    active = fields.Boolean(load_default=None)
    partner_id = query_id(load_default=None)
    area = fields.String(load_default=None, validate=validate.Length(min=1, max=120))


# --- redemptions --------------------------------------------------------------


class RedemptionCreate(Strict):
    reward_id = object_id(required=True)
    quantity = fields.Integer(strict=True, load_default=1, validate=validate.Range(1, MAX_QUANTITY))


class RedemptionOut(Schema):
    id = fields.Integer()
    code = fields.String()
    status = fields.String()
    transaction_id = fields.Integer()
    refund_transaction_id = fields.Integer(allow_none=True)
    reward_id = fields.Integer()
    reward_name = fields.String()
    member_id = fields.Integer()
    quantity = fields.Integer()
    total = fields.Integer()
    created_at = fields.DateTime()
    decided_at = fields.DateTime(allow_none=True)
    partner_id = fields.Integer(allow_none=True)
    expires_at = fields.DateTime(allow_none=True)


RedemptionPage = page_schema(RedemptionOut, "RedemptionPage")


class RedemptionQuery(PageQuery):
    status = fields.String(load_default=None, validate=validate.OneOf(REDEMPTION_STATUSES))
    member_id = query_id(load_default=None)


class DecisionIn(Strict):
    memo = free_text()


# --- gifts, the pot, leaving --------------------------------------------------


class GiftIn(Strict):
    to = Recipient(required=True)
    amount = minutes(required=True)
    memo = free_text()


class GrantIn(Strict):
    to_member_id = object_id(required=True)
    amount = minutes(required=True)
    memo = free_text()


class PotOut(Schema):
    balance = fields.Integer()


class LeaveIn(Strict):
    balance_to = Recipient(
        load_default=None,
        allow_none=True,
        metadata={
            "oneOf": [
                {"type": "string", "enum": ["pot"]},
                {"type": "integer", "minimum": 1, "description": "a member id"},
            ],
            "description": 'Where a positive balance goes: "pot" or another member\'s id '
            "(required when the balance is positive).",
        },
    )
    memo = free_text()


class SettleIn(Strict):
    action = fields.String(required=True, validate=validate.OneOf(("write_off", "keep_open")))
    memo = free_text()


class MembershipEndOut(Schema):
    member_id = fields.Integer()
    status = fields.String()
    left_at = fields.DateTime(allow_none=True)
    balance = fields.Integer()
    account_status = fields.String()
    transaction_id = fields.Integer(allow_none=True)


class GoalIn(Strict):
    reward_id = object_id(required=True)


class GoalOut(Schema):
    """The caller's reward goal; every field ``null`` when none is set."""

    reward_id = fields.Integer(allow_none=True)
    reward_name = fields.String(allow_none=True)
    price = fields.Integer(allow_none=True)
    balance = fields.Integer(allow_none=True)
    missing_minutes = fields.Integer(allow_none=True)
    progress_minutes = fields.Integer(allow_none=True)
    set_at = fields.DateTime(allow_none=True)


class NearGoalOut(Schema):
    member_id = fields.Integer()
    name = fields.String()
    reward_id = fields.Integer()
    reward_name = fields.String()
    price = fields.Integer()
    balance = fields.Integer()
    progress_minutes = fields.Integer()
    missing_minutes = fields.Integer()
    share = fields.Float(metadata={"description": "The part of the price reached, 0 to 1."})


class NearGoalList(Schema):
    items = fields.List(fields.Nested(NearGoalOut))
