"""Partners API schemas: partners, staff invitations, offers, the counter, statements."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from timebank.platform.api.pagination import page_schema
from timebank.platform.api.schemas import PageQuery, Strict, free_text, minutes, object_id
from timebank.tenants.partners.models import PARTNER_STATUSES

MAX_QUANTITY = 1000


def _text(size: int, **kwargs: Any) -> fields.String:
    return fields.String(allow_none=True, validate=validate.Length(max=size), **kwargs)


class PartnerFields(Strict):
    description = free_text()
    area = _text(120, load_default=None)
    address = _text(300, load_default=None)
    opening_hours = _text(300, load_default=None)
    categories = fields.List(
        fields.String(validate=validate.Length(min=1, max=40)),
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=20),
    )
    logo_url = fields.Url(
        allow_none=True, load_default=None, schemes={"https"}, validate=validate.Length(max=500)
    )
    contact_email = fields.Email(
        allow_none=True, load_default=None, validate=validate.Length(max=254)
    )
    contact_phone = _text(40, load_default=None)
    latitude = fields.Float(
        allow_none=True, load_default=None, allow_nan=False, validate=validate.Range(-90, 90)
    )
    longitude = fields.Float(
        allow_none=True, load_default=None, allow_nan=False, validate=validate.Range(-180, 180)
    )

    @validates_schema
    def _position(self, data: dict[str, Any], **kwargs: Any) -> None:
        given = "latitude" in data or "longitude" in data
        if given and (data.get("latitude") is None) != (data.get("longitude") is None):
            raise ValidationError("Give both latitude and longitude, or neither.", "latitude")


class PartnerCreate(PartnerFields):
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))


class PartnerPatch(PartnerFields):
    """Only what is sent changes (no defaults)."""

    name = fields.String(validate=validate.Length(min=1, max=120))
    status = fields.String(validate=validate.OneOf(PARTNER_STATUSES))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.load_default = fields.missing_

    @validates_schema
    def _something(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data:
            raise ValidationError("Change at least one field.", "_schema")


class PartnerOut(Schema):
    id = fields.Integer()
    name = fields.String()
    description = fields.String(allow_none=True)
    area = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    opening_hours = fields.String(allow_none=True)
    categories = fields.List(fields.String())
    logo_url = fields.String(allow_none=True)
    contact_email = fields.String(allow_none=True)
    contact_phone = fields.String(allow_none=True)
    latitude = fields.Float(allow_none=True)
    longitude = fields.Float(allow_none=True)
    status = fields.String()
    created_at = fields.DateTime()


PartnerPage = page_schema(PartnerOut, "PartnerPage")


class PartnerQuery(PageQuery):
    area = fields.String(load_default=None, validate=validate.Length(min=1, max=120))
    category = fields.String(load_default=None, validate=validate.Length(min=1, max=40))


class StaffInvitationIn(Strict):
    email = fields.Email(required=True, validate=validate.Length(max=254))


class OfferCreate(Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    price = minutes(required=True, metadata={"description": "Minutes per item."})
    stock = fields.Integer(
        strict=True, load_default=None, allow_none=True, validate=validate.Range(0, 2**31 - 1)
    )
    monthly_allowance = fields.Integer(
        strict=True, load_default=None, allow_none=True, validate=validate.Range(1, 2**31 - 1)
    )
    min_age = fields.Integer(
        strict=True, load_default=None, allow_none=True, validate=validate.Range(0, 120)
    )
    available_from = fields.Date(load_default=None, allow_none=True)
    available_until = fields.Date(load_default=None, allow_none=True)
    description = free_text()

    @validates_schema
    def _dates(self, data: dict[str, Any], **kwargs: Any) -> None:
        start, end = data.get("available_from"), data.get("available_until")
        if start and end and end < start:
            raise ValidationError("The offer must end on or after it starts.", "available_until")


class CodeIn(Strict):
    code = fields.String(required=True, validate=validate.Length(min=1, max=40))


class CodeOut(Schema):
    redemption_id = fields.Integer()
    code = fields.String()
    reward = fields.String()
    quantity = fields.Integer()
    minutes = fields.Integer()
    member_first_name = fields.String()
    status = fields.String(metadata={"description": "issued, fulfilled, cancelled or expired"})
    expires_at = fields.DateTime(allow_none=True)
    fulfilled_at = fields.DateTime(allow_none=True)


class ChargeIn(Strict):
    card = fields.String(required=True, validate=validate.Length(min=1, max=40))
    reward_id = object_id(required=True)
    quantity = fields.Integer(strict=True, load_default=1, validate=validate.Range(1, MAX_QUANTITY))
    pin = fields.String(
        load_default=None, allow_none=True, validate=validate.Regexp(r"^[0-9]{4,8}$")
    )


class ChargeOut(Schema):
    id = fields.Integer()
    partner_id = fields.Integer()
    partner_name = fields.String()
    reward_id = fields.Integer()
    reward = fields.String()
    quantity = fields.Integer()
    minutes = fields.Integer()
    member_first_name = fields.String()
    status = fields.String(
        metadata={"description": "awaiting_confirmation, confirmed, declined or expired"}
    )
    redemption_id = fields.Integer(allow_none=True)
    expires_at = fields.DateTime()
    created_at = fields.DateTime()


class ChargeList(Schema):
    items = fields.List(fields.Nested(ChargeOut))


class CardOut(Schema):
    code = fields.String()
    has_pin = fields.Boolean()


class PinIn(Strict):
    pin = fields.String(required=True, allow_none=True, validate=validate.Regexp(r"^[0-9]{4,8}$"))


class PeriodQuery(PageQuery):
    from_ = fields.Date(data_key="from", load_default=None)
    to = fields.Date(load_default=None)

    @validates_schema
    def _order(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("from_") and data.get("to") and data["to"] < data["from_"]:
            raise ValidationError("'to' must not be before 'from'.", "to")


class StatementLine(Schema):
    redemption_id = fields.Integer()
    reward = fields.String()
    reward_id = fields.Integer()
    quantity = fields.Integer()
    minutes = fields.Integer()
    fulfilled_at = fields.DateTime()


class DayLine(Schema):
    date = fields.Date()
    quantity = fields.Integer()
    minutes = fields.Integer()


class OfferLine(Schema):
    reward = fields.String()
    quantity = fields.Integer()
    minutes = fields.Integer()


class StatementOut(Schema):
    items = fields.List(fields.Nested(StatementLine))
    next_cursor = fields.String(allow_none=True)
    total_minutes = fields.Integer()
    by_day = fields.List(fields.Nested(DayLine))
    by_offer = fields.List(fields.Nested(OfferLine))
    balance = fields.Integer(metadata={"description": "The partner's account now"})


class PartnerSettlementIn(Strict):
    minutes = minutes(required=True)
    money_value = fields.Decimal(
        load_default=None,
        allow_none=True,
        places=2,
        validate=validate.Range(0, 1_000_000),
        # The document's bounds as numbers (apispec writes a Decimal range as strings).
        metadata={
            "description": 'Money per hour a funder pays, e.g. "12.50"',
            "minimum": 0,
            "maximum": 1_000_000,
        },
    )
    note = free_text()


class PartnerSettlementOut(Schema):
    id = fields.Integer()
    partner_id = fields.Integer()
    transaction_id = fields.Integer()
    minutes = fields.Integer()
    money_value = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    created_at = fields.DateTime()


PartnerSettlementPage = page_schema(PartnerSettlementOut, "PartnerSettlementPage")


class ReportLine(Schema):
    partner_id = fields.Integer()
    name = fields.String()
    status = fields.String()
    redeemed_minutes = fields.Integer()
    honoured = fields.Integer()
    honoured_minutes = fields.Integer()
    settled_minutes = fields.Integer()
    balance = fields.Integer()


class ReportOut(Schema):
    from_ = fields.Date(data_key="from")
    to = fields.Date()
    partners = fields.List(fields.Nested(ReportLine))


class ReportQuery(Strict):
    from_ = fields.Date(data_key="from", load_default=None)
    to = fields.Date(load_default=None)


class DecisionOut(Schema):
    status = fields.String()
