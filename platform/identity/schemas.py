from __future__ import annotations

from marshmallow import Schema, fields, validate

from timebank.platform.api.schemas import Strict


class UserCreate(Strict):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    password = fields.String(required=True, validate=validate.Length(min=8, max=200))
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))


class UserOut(Schema):
    id = fields.Integer()
    email = fields.String()
    name = fields.String()


class TokenCreate(Strict):
    email = fields.String(required=True, validate=validate.Length(min=1, max=254))
    password = fields.String(required=True, validate=validate.Length(min=1, max=200))


class TokenOut(Schema):
    token = fields.String()
    expires_at = fields.DateTime()


class MembershipOut(Schema):
    scheme = fields.String()
    scheme_name = fields.String()
    role = fields.String()
    status = fields.String()
    member_id = fields.Integer()
    balance = fields.Integer()


class MeOut(UserOut):
    is_operator = fields.Boolean()
    memberships = fields.List(fields.Nested(MembershipOut))


class PasswordForgot(Strict):
    email = fields.Email(required=True, validate=validate.Length(max=254))


class PasswordReset(Strict):
    token = fields.String(required=True, validate=validate.Length(min=1, max=500))
    password = fields.String(required=True, validate=validate.Length(min=8, max=200))


class PasswordChange(Strict):
    current_password = fields.String(required=True, validate=validate.Length(min=1, max=200))
    password = fields.String(required=True, validate=validate.Length(min=8, max=200))
