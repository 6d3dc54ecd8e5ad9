"""Request and response schemas of the earning API (API.md "Earning")."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from timebank.platform.api.pagination import page_schema
from timebank.platform.api.schemas import PageQuery, Strict, free_text, minutes, object_id
from timebank.tenants.earning.models import APPROVALS, CLAIM_STATUSES
from timebank.tenants.ledger.schemas import TransactionOut

RATE_PATTERN = re.compile(r"^\d{1,4}(\.\d{1,4})?$")
MAX_RATE = Decimal(100)
MAX_AWARD_MEMBERS = 5000


class Rate(fields.String):
    """Credits per hour as an exact decimal string: ``"1"``, ``"1.5"``, ``"0.25"``.

    Stored in its shortest form (``"1.50"`` → ``"1.5"``); never a float. A JSON
    integer is taken as its decimal; a JSON float is refused (it is not exact).
    """

    def __init__(self, **kwargs: Any) -> None:
        metadata = {"example": "1.5", "pattern": RATE_PATTERN.pattern, **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not RATE_PATTERN.fullmatch(value.strip()):
            raise ValidationError(
                'Must be a decimal number written as a string, such as "1", "1.5" or "0.25" '
                "(at most 4 decimal places)."
            )
        rate = Decimal(value.strip())
        if rate <= 0:
            raise ValidationError("Must be more than 0.")
        if rate > MAX_RATE:
            raise ValidationError(f"Must be at most {MAX_RATE} credits per hour.")
        return canonical_rate(rate)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else str(value)


def canonical_rate(rate: Decimal) -> str:
    """The shortest exact spelling: ``Decimal("1.50")`` → ``"1.5"``, ``Decimal("10")`` → ``"10"``."""
    return format(rate.normalize(), "f")


def _name(**kwargs: Any) -> fields.String:
    return fields.String(validate=validate.Length(min=1, max=120), **kwargs)


def _category(**kwargs: Any) -> fields.String:
    return fields.String(allow_none=True, validate=validate.Length(max=60), **kwargs)


class ActivityIn(Strict):
    name = _name(required=True)
    description = free_text()
    category = _category(load_default=None)
    rate = Rate(load_default="1")
    approval = fields.String(load_default="policy", validate=validate.OneOf(APPROVALS))
    active = fields.Boolean(load_default=True)
    requires_note = fields.Boolean(load_default=False)
    with_children = fields.Boolean(load_default=False)
    minors_allowed = fields.Boolean(load_default=False)


class ActivityPatch(Strict):
    name = _name()
    description = fields.String(allow_none=True, validate=validate.Length(max=500))
    category = _category()
    rate = Rate()
    approval = fields.String(validate=validate.OneOf(APPROVALS))
    active = fields.Boolean()
    requires_note = fields.Boolean()
    with_children = fields.Boolean()
    minors_allowed = fields.Boolean()


class ActivityQuery(PageQuery):
    active = fields.Boolean(load_default=None)


class ActivityOut(Schema):
    id = fields.Integer()
    name = fields.String()
    description = fields.String(allow_none=True)
    category = fields.String(allow_none=True)
    rate = Rate()
    approval = fields.String()
    active = fields.Boolean()
    requires_note = fields.Boolean()
    with_children = fields.Boolean()
    minors_allowed = fields.Boolean()


ActivityPage = page_schema(ActivityOut, "ActivityPage")


class ClaimIn(Strict):
    activity_id = object_id(required=True)
    minutes = minutes(required=True)
    performed_on = fields.Date(required=True)
    note = free_text()
    member_id = object_id(load_default=None)


class ClaimQuery(PageQuery):
    status = fields.String(load_default=None, validate=validate.OneOf(CLAIM_STATUSES))
    # A query string is text: ``object_id()`` is strict, so it would refuse "5".
    member_id = fields.Integer(load_default=None, validate=validate.Range(1, 2**63 - 1))


class ClaimOut(Schema):
    id = fields.Integer()
    member_id = fields.Integer()
    activity_id = fields.Integer()
    minutes = fields.Integer()
    credited_minutes = fields.Integer()
    performed_on = fields.Date()
    note = fields.String(allow_none=True)
    status = fields.String()
    reason = fields.String(allow_none=True)
    transaction_id = fields.Integer(allow_none=True)
    entered_by = fields.Integer()
    decided_by = fields.Integer(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class ClaimCreatedOut(ClaimOut):
    """A claim just logged: with a warning when it takes the member past the cap."""

    warning = fields.String(attribute="cap_warning", allow_none=True)


ClaimPage = page_schema(ClaimOut, "ClaimPage")


class RejectIn(Strict):
    reason = free_text()


class AwardIn(Strict):
    activity_id = object_id(required=True)
    minutes = minutes(required=True)
    member_ids = fields.List(
        object_id(),
        required=True,
        validate=validate.Length(min=1, max=MAX_AWARD_MEMBERS),
    )
    note = free_text()


class AwardOut(Schema):
    id = fields.Integer()
    activity_id = fields.Integer()
    minutes = fields.Integer()
    credited_minutes = fields.Integer()
    transactions = fields.List(fields.Nested(TransactionOut))
