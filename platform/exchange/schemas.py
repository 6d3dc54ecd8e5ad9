"""Request and response schemas of the exchange API (agreements, settlement statements)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from timebank.platform.api.pagination import page_schema
from timebank.platform.api.schemas import MAX_MINUTES, PageQuery, Strict

# A rate buys at least a millionth and at most a million of the partner's minutes, so that
# both sides' rates show as non-zero at six decimal places; twelve places are kept exactly.
MIN_RATE = Decimal("0.000001")
MAX_RATE = Decimal("1000000")
MAX_RATE_PLACES = 12


def canonical_decimal(value: Decimal) -> str:
    """``Decimal("2.50")`` → ``"2.5"``; never an exponent."""
    return format(value.normalize(), "f")


class Rate(fields.Field):
    """An exact, positive decimal given as a string (``"2"``, ``"0.5"``, ``"0.333333"``).

    A JSON number is taken by its written digits (``0.5`` → ``"0.5"``); booleans are refused.
    Loads to the canonical string.
    """

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ValidationError('Give the rate as a decimal string, e.g. "0.5".')
        text = str(value).strip()
        try:
            rate = Decimal(text)
        except InvalidOperation as error:
            raise ValidationError('Not a decimal number; give e.g. "2" or "0.5".') from error
        if not rate.is_finite():
            raise ValidationError("The rate must be a finite number.")
        if rate <= 0:
            raise ValidationError("The rate must be greater than 0.")
        if rate < MIN_RATE or rate > MAX_RATE:
            raise ValidationError(f"The rate must be between {MIN_RATE} and {MAX_RATE}.")
        exponent = rate.normalize().as_tuple().exponent
        if isinstance(exponent, int) and -exponent > MAX_RATE_PLACES:
            raise ValidationError(f"At most {MAX_RATE_PLACES} decimal places.")
        return canonical_decimal(rate)


class AgreementIn(Strict):
    partner = fields.String(required=True, validate=validate.Length(min=1, max=40))
    rate = Rate(required=True)
    limit = fields.Integer(strict=True, required=True, validate=validate.Range(0, MAX_MINUTES))


class AgreementQuery(PageQuery):
    status = fields.String(
        load_default=None,
        validate=validate.OneOf(("proposed", "active", "suspended", "ended", "declined")),
    )


class AgreementOut(Schema):
    """An agreement in the caller's own terms."""

    id = fields.Integer()
    partner = fields.String(metadata={"description": "The other scheme's slug"})
    partner_name = fields.String()
    role = fields.String(metadata={"description": "`proposer` or `partner`: which side we are"})
    rate = fields.String(
        metadata={"description": "How many of the partner's minutes one of ours buys (6 dp)"}
    )
    limit = fields.Integer(metadata={"description": "Bound on |position|, in our minutes"})
    position = fields.Integer(
        metadata={"description": "Our clearing account for the partner: + when we paid out more"}
    )
    status = fields.String()
    created_at = fields.DateTime()
    accepted_at = fields.DateTime(allow_none=True)
    ended_at = fields.DateTime(allow_none=True)


AgreementPage = page_schema(AgreementOut, "AgreementPage")


class SettlementQuery(Strict):
    from_ = fields.Date(data_key="from", load_default=None)
    to = fields.Date(load_default=None)

    @validates_schema
    def _ordered(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("from_") and data.get("to") and data["from_"] > data["to"]:
            raise ValidationError("Must not be before `from`.", field_name="to")


class FlowOut(Schema):
    count = fields.Integer(metadata={"description": "Payments in this direction"})
    amount = fields.Integer(metadata={"description": "Minutes paid, in the payers' scheme"})
    credited = fields.Integer(metadata={"description": "Minutes credited, in the payees' scheme"})


class SettlementOut(Schema):
    agreement_id = fields.Integer()
    partner = fields.String()
    rate = fields.String()
    status = fields.String()
    from_ = fields.Date(data_key="from")
    to = fields.Date()
    paid_out = fields.Nested(
        FlowOut, metadata={"description": "Our members → the partner's (amount in our minutes)"}
    )
    received = fields.Nested(
        FlowOut,
        metadata={"description": "The partner's members → ours (credited in our minutes)"},
    )
    net = fields.Integer(
        metadata={"description": "paid_out.amount − received.credited: our position's change"}
    )
    opening_position = fields.Integer()
    closing_position = fields.Integer()
    position = fields.Integer(metadata={"description": "Our position now"})
