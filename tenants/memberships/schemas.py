from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from timebank.platform.api.pagination import page_schema
from timebank.platform.api.schemas import MAX_MINUTES, Strict, StrictBoolean
from timebank.tenants.memberships.models import ROLES

# Roles ``POST …/invitations`` may name: a membership, or a referrer (not a member).
INVITE_ROLES = (*ROLES, "referrer")


class InvitationCreate(Strict):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    role = fields.String(load_default="member", validate=validate.OneOf(INVITE_ROLES))


class InvitationOut(Schema):
    token = fields.String()
    expires_at = fields.DateTime()


class AcceptedOut(Schema):
    member_id = fields.Integer()
    referrer_id = fields.Integer()
    member_number = fields.Integer()
    scheme = fields.String()
    role = fields.String()
    status = fields.String()
    # A partner's staff (role ``partner_staff``) instead of ``member_id``.
    partner_id = fields.Integer()
    partner_name = fields.String()


class MemberOut(Schema):
    member_id = fields.Integer()
    # 1, 2, 3 … in join order within the scheme: what people are shown (ids stay ids).
    member_number = fields.Integer()
    name = fields.String()
    role = fields.String()
    status = fields.String()
    email = fields.String(allow_none=True)
    managed = fields.Boolean()
    age_band = fields.String(allow_none=True)
    consent = fields.String()
    balance = fields.Integer()
    min_balance = fields.Integer(allow_none=True)
    max_balance = fields.Integer(allow_none=True)


MemberPage = page_schema(MemberOut, "MemberPage")


class MemberPatch(Strict):
    role = fields.String(validate=validate.OneOf(ROLES))
    status = fields.String(validate=validate.OneOf(("active", "suspended")))
    min_balance = fields.Integer(
        strict=True, allow_none=True, validate=validate.Range(-MAX_MINUTES, 0)
    )
    max_balance = fields.Integer(
        strict=True, allow_none=True, validate=validate.Range(0, MAX_MINUTES)
    )

    @validates_schema
    def _not_empty(self, data: dict[str, object], **kwargs: object) -> None:
        if not data:
            raise ValidationError("Give at least one of role, status, min_balance, max_balance.")


class MailSettingsOut(Schema):
    paid = fields.Boolean()
    awarded = fields.Boolean()
    gifted = fields.Boolean()


class MailSettingsIn(Strict):
    paid = StrictBoolean()
    awarded = StrictBoolean()
    gifted = StrictBoolean()

    @validates_schema
    def _not_empty(self, data: dict[str, object], **kwargs: object) -> None:
        if not data:
            raise ValidationError("Give at least one of paid, awarded, gifted.")
