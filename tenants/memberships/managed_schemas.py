"""Request and response shapes of managed members, cards, guardians and checks."""

from __future__ import annotations

from datetime import date

from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from timebank.platform.api.schemas import Strict, StrictBoolean
from timebank.tenants.memberships.models import AGE_BANDS


class ManagedMemberIn(Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    date_of_birth = fields.Date(load_default=None, allow_none=True)
    age_band = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(AGE_BANDS))
    # A guardian named at enrolment: invited at once (as ``POST …/guardians``).
    guardian_email = fields.Email(
        load_default=None, allow_none=True, validate=validate.Length(max=254)
    )

    @validates("name")
    def _name(self, value: str, **kwargs: object) -> None:
        if not value.strip():
            raise ValidationError("Give the member's name.")

    @validates("date_of_birth")
    def _born(self, value: date | None, **kwargs: object) -> None:
        if value is not None and not date(1900, 1, 1) <= value <= date.today():
            raise ValidationError("Must be a date in the past.")

    @validates_schema
    def _one_age(self, data: dict[str, object], **kwargs: object) -> None:
        if data.get("date_of_birth") is not None and data.get("age_band") is not None:
            raise ValidationError("Give a date of birth or an age band, not both.", "age_band")


class ManagedMemberOut(Schema):
    member_id = fields.Integer()
    name = fields.String()
    role = fields.String()
    status = fields.String()
    managed = fields.Boolean()
    age_band = fields.String(allow_none=True)
    guardian_invitation = fields.Nested(
        Schema.from_dict({"token": fields.String(), "expires_at": fields.DateTime()}),
        allow_none=True,
    )


class CardIn(Strict):
    pin = fields.String(
        required=True,
        validate=validate.Regexp(r"^[0-9]{4,8}$", error="Must be 4 to 8 digits."),
    )


class CardOut(Schema):
    card_code = fields.String()


class CardTokenIn(Strict):
    card_code = fields.String(required=True, validate=validate.Length(min=1, max=40))
    pin = fields.String(required=True, validate=validate.Length(min=1, max=40))


class EmailIn(Strict):
    email = fields.Email(required=True, validate=validate.Length(max=254))


class ConsentIn(Strict):
    given = StrictBoolean(required=True)


class ConsentOut(Schema):
    member_id = fields.Integer()
    consent = fields.String()
    at = fields.DateTime()


class CheckIn(Strict):
    kind = fields.String(required=True, validate=validate.Length(min=1, max=60))
    number = fields.String(required=True, validate=validate.Length(min=1, max=60))
    expires_on = fields.Date(required=True)


class CheckOut(Schema):
    member_id = fields.Integer()
    kind = fields.String()
    number = fields.String()
    expires_on = fields.Date()
    valid = fields.Boolean()


class GuardianAcceptedOut(Schema):
    scheme = fields.String()
    role = fields.String()
    member_id = fields.Integer()
