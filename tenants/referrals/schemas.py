"""Request and response shapes of the referrals API (api.md "Surgery referrals")."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from timebank.platform.api.pagination import page_schema
from timebank.platform.api.schemas import PageQuery, Strict, StrictBoolean, free_text
from timebank.tenants.referrals.models import REASONS, STATUSES


class ReferralIn(Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    contact = fields.String(
        required=True,
        validate=validate.Length(min=3, max=254),
        metadata={"description": "A phone number or e-mail address to reach the person."},
    )
    reason = fields.String(required=True, validate=validate.OneOf(REASONS))
    consent = StrictBoolean(
        required=True,
        metadata={"description": "The person agreed to be referred: must be true."},
    )

    @validates_schema
    def _consent_given(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("consent") is False:
            raise ValidationError(
                "The person must agree to be referred: confirm they have.", field_name="consent"
            )
        for name in ("name", "contact"):
            if name in data and not data[name].strip():
                raise ValidationError("Must not be blank.", field_name=name)


class ReferralPatch(Strict):
    status = fields.String(required=True, validate=validate.OneOf(STATUSES[1:]))
    note = free_text()


class ReferralQuery(PageQuery):
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))


class ReferralOut(Schema):
    id = fields.Integer()
    name = fields.String()
    contact = fields.String()
    reason = fields.String()
    status = fields.String()
    created_at = fields.DateTime()
    contacted_at = fields.DateTime(allow_none=True)
    joined_at = fields.DateTime(allow_none=True)
    first_exchange_at = fields.DateTime(allow_none=True)
    active_at = fields.DateTime(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    # Coordinators only:
    note = fields.String(allow_none=True)
    via = fields.String(metadata={"description": "`referrer`, `link` or `coordinator`"})
    referrer_id = fields.Integer(allow_none=True)
    link_id = fields.Integer(allow_none=True)


ReferralPage = page_schema(ReferralOut, "ReferralPage")


class FunnelQuery(Strict):
    from_ = fields.Date(data_key="from", load_default=None)
    to = fields.Date(load_default=None)

    @validates_schema
    def _ordered(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("from_") and data.get("to") and data["from_"] > data["to"]:
            raise ValidationError("Must not be before `from`.", field_name="to")


class FunnelOut(Schema):
    from_ = fields.Date(data_key="from")
    to = fields.Date()
    referred = fields.Integer()
    contacted = fields.Integer()
    joined = fields.Integer()
    first_exchange = fields.Integer()
    active = fields.Integer()
    declined = fields.Integer()
    lost = fields.Integer()


class LinkIn(Strict):
    label = fields.String(
        required=True,
        validate=validate.Length(min=1, max=120),
        metadata={"description": "Who keeps the link, e.g. 'Reception desk'."},
    )


class LinkOut(Schema):
    id = fields.Integer()
    label = fields.String()
    created_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)
    token = fields.String(metadata={"description": "Only when created: shown once."})
    url = fields.String(metadata={"description": "Only when created: the link to share."})


class LinkList(Schema):
    items = fields.List(fields.Nested(LinkOut))


class ReferrerOut(Schema):
    id = fields.Integer()
    name = fields.String()
    email = fields.String()
    status = fields.String()
    created_at = fields.DateTime()


class ReferrerList(Schema):
    items = fields.List(fields.Nested(ReferrerOut))


class CreatedOut(Schema):
    id = fields.Integer()
    status = fields.String()
