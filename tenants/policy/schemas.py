"""The scheme's policy document (API.md "Schemes"), validated strictly.

Amounts are minutes; ``null`` means no limit. Unknown fields are refused; the
read-only ``version`` that a ``GET`` returns is ignored on ``PUT``.
"""

from __future__ import annotations

from typing import Any

from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    pre_load,
    validate,
    validates_schema,
)

from timebank.platform.api.schemas import Strict, StrictBoolean

MAX_MINUTES = 2**31 - 1
PERIODS = ("week", "month", "year")


def _minutes(**kwargs: Any) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(0, MAX_MINUTES), **kwargs)


class PeerTransfersPolicy(Strict):
    enabled = StrictBoolean(required=True)
    max_amount = _minutes(required=True, allow_none=True)


class BalancePolicy(Strict):
    min = fields.Integer(
        strict=True, required=True, allow_none=True, validate=validate.Range(-MAX_MINUTES, 0)
    )
    max = _minutes(required=True, allow_none=True)


class CapPolicy(Strict):
    minutes = _minutes(required=True)
    period = fields.String(required=True, validate=validate.OneOf(PERIODS))


class ClaimsPolicy(Strict):
    enabled = StrictBoolean(required=True)
    approval = fields.String(required=True, validate=validate.OneOf(("auto", "coordinator")))
    max_minutes_per_claim = fields.Integer(
        strict=True, required=True, allow_none=True, validate=validate.Range(1, MAX_MINUTES)
    )
    cap = fields.Nested(CapPolicy, required=True, allow_none=True)
    # How far back a claim's performed_on may be; null: no limit.
    max_age_days = fields.Integer(
        strict=True, load_default=None, allow_none=True, validate=validate.Range(0, 3650)
    )


class RewardsPolicy(Strict):
    enabled = StrictBoolean(required=True)
    # Partners (wave 2): a partner's new offer waits for a coordinator; how long a code
    # stays valid; the most a partner's account may hold before a settlement (null: no limit).
    partner_offers_need_approval = StrictBoolean(load_default=False)
    partner_code_valid_days = fields.Integer(
        strict=True, load_default=30, validate=validate.Range(1, 3650)
    )
    partner_max_balance = _minutes(load_default=None, allow_none=True)


class ExpiryPolicy(Strict):
    after_days = fields.Integer(strict=True, required=True, validate=validate.Range(1, 36500))


class ExchangePolicy(Strict):
    enabled = StrictBoolean(required=True)


class PrivacyPolicy(Strict):
    member_directory = fields.String(
        required=True, validate=validate.OneOf(("full", "first_names", "hidden"))
    )


LISTINGS_DEFAULTS: dict[str, Any] = {
    "enabled": True,
    "approval": "none",
    "default_expiry_days": 90,
    "allow_no_expiry": False,
    "brokered": False,
}


class ListingsPolicy(Strict):
    """Offers and requests: ``approval`` ``coordinator`` holds new listings as ``pending``;
    ``brokered`` lets only a coordinator confirm an exchange."""

    enabled = StrictBoolean(required=True)
    approval = fields.String(required=True, validate=validate.OneOf(("none", "coordinator")))
    default_expiry_days = fields.Integer(
        strict=True, required=True, validate=validate.Range(1, 3650)
    )
    allow_no_expiry = StrictBoolean(required=True)
    brokered = StrictBoolean(required=True)


MINORS_DEFAULTS: dict[str, Any] = {
    "consent_below_age": 16,
    "peer_transfers": False,
    "max_minutes_per_day": None,
    "approved_activities_only": False,
}


class MinorsPolicy(Strict):
    """Children: from which age a guardian's consent is needed, and what minors may do.

    A minor is a member whose date of birth or age band puts them under 18."""

    consent_below_age = fields.Integer(strict=True, required=True, validate=validate.Range(0, 18))
    peer_transfers = StrictBoolean(required=True)
    max_minutes_per_day = _minutes(required=True, allow_none=True)
    # Minors earn only by activities marked ``minors_allowed`` (added later: optional).
    approved_activities_only = StrictBoolean(load_default=False)


SITTINGS_DEFAULTS: dict[str, Any] = {
    "enabled": False,
    "self_signup": False,
    "roles": [
        {"name": "Juror", "minutes": 120, "places": 6},
        {"name": "Clerk", "minutes": 150, "places": 1},
        {"name": "Bailiff", "minutes": 120, "places": 1},
        {"name": "Youth advocate", "minutes": 180, "places": 2},
    ],
}
ORDERS_DEFAULTS: dict[str, Any] = {"enabled": False, "extra_hours_earn_credits": False}


class SittingRolePolicy(Strict):
    name = fields.String(required=True, validate=validate.Length(1, 60))
    minutes = fields.Integer(strict=True, required=True, validate=validate.Range(1, 24 * 60))
    places = fields.Integer(strict=True, required=True, validate=validate.Range(1, 500))


class SittingsPolicy(Strict):
    """Youth court sittings: ``roles`` are the defaults a new sitting starts from;
    ``self_signup`` lets members take an open place themselves."""

    enabled = StrictBoolean(required=True)
    self_signup = StrictBoolean(load_default=False)
    roles = fields.List(
        fields.Nested(SittingRolePolicy),
        load_default=lambda: [dict(role) for role in SITTINGS_DEFAULTS["roles"]],
        validate=validate.Length(0, 20),
    )


class OrdersPolicy(Strict):
    """Ordered hours: ``extra_hours_earn_credits`` credits hours beyond an order as ordinary hours."""

    enabled = StrictBoolean(required=True)
    extra_hours_earn_credits = StrictBoolean(load_default=False)


def sittings_default() -> dict[str, Any]:
    return {**SITTINGS_DEFAULTS, "roles": [dict(role) for role in SITTINGS_DEFAULTS["roles"]]}


# Optional sector features (any scheme may switch them on; a template sets its sector's).
GROUPS_DEFAULTS: dict[str, Any] = {"enabled": False, "league_table": False}
REFERRALS_DEFAULTS: dict[str, Any] = {"enabled": False}


class GroupsPolicy(Strict):
    """Classes, houses and other groups; ``league_table`` shows groups ranked by their
    hours on the dashboards (off by default: the school template serves under-11s)."""

    enabled = StrictBoolean(required=True)
    league_table = StrictBoolean(required=True)


class ReferralsPolicy(Strict):
    """Referrals of patients by referrers and referral links, and their queue."""

    enabled = StrictBoolean(required=True)


WELLBEING_SCALES = ("none", "ons4", "swemwbs")
WELLBEING_DEFAULTS: dict[str, Any] = {"scale": "none", "every_months": 6}


class WellbeingPolicy(Strict):
    """The wellbeing scale members are asked (``none``: not asked), at joining and then
    every ``every_months`` months."""

    scale = fields.String(required=True, validate=validate.OneOf(WELLBEING_SCALES))
    every_months = fields.Integer(strict=True, required=True, validate=validate.Range(1, 60))


class PolicySchema(Strict):
    version = fields.Integer(dump_only=True)
    peer_transfers = fields.Nested(PeerTransfersPolicy, required=True)
    balance = fields.Nested(BalancePolicy, required=True)
    claims = fields.Nested(ClaimsPolicy, required=True)
    rewards = fields.Nested(RewardsPolicy, required=True)
    expiry = fields.Nested(ExpiryPolicy, required=True, allow_none=True)
    exchange = fields.Nested(ExchangePolicy, required=True)
    privacy = fields.Nested(PrivacyPolicy, required=True)
    # Added in wave 2: a document without it reads as the defaults.
    listings = fields.Nested(ListingsPolicy, load_default=lambda: dict(LISTINGS_DEFAULTS))
    minors = fields.Nested(MinorsPolicy, load_default=lambda: dict(MINORS_DEFAULTS))
    # Added with the youth court workflows: off unless the template or a coordinator turns them on.
    sittings = fields.Nested(SittingsPolicy, load_default=sittings_default)
    orders = fields.Nested(OrdersPolicy, load_default=lambda: dict(ORDERS_DEFAULTS))
    groups = fields.Nested(GroupsPolicy, load_default=lambda: dict(GROUPS_DEFAULTS))
    referrals = fields.Nested(ReferralsPolicy, load_default=lambda: dict(REFERRALS_DEFAULTS))
    wellbeing = fields.Nested(WellbeingPolicy, load_default=lambda: dict(WELLBEING_DEFAULTS))

    @pre_load
    def _drop_read_only(self, data: Any, **kwargs: Any) -> Any:
        if isinstance(data, dict):
            data = {k: v for k, v in data.items() if k not in {"version", "id"}}
        return data

    @validates_schema
    def _limits_order(self, data: dict[str, Any], **kwargs: Any) -> None:
        balance = data.get("balance") or {}
        low, high = balance.get("min"), balance.get("max")
        if low is not None and high is not None and low > high:
            raise ValidationError("min must not be above max.", "balance.min")


class PolicyVersionSummary(Schema):
    class Meta:
        unknown = EXCLUDE

    version = fields.Integer()
    created_at = fields.DateTime()
    created_by = fields.Integer(allow_none=True)
    changes = fields.List(fields.String())


class PolicyQuery(Strict):
    # policy_versions.version is a 32-bit column.
    version = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1))


def validate_policy(document: Any) -> dict[str, Any]:
    """Load and validate a policy document; raises ``ValidationError`` with dotted keys."""
    loaded: dict[str, Any] = PolicySchema().load(document)
    return PolicySchema().dump(loaded)
