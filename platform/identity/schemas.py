from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate

from timebank.platform.api.schemas import Strict

MIN_PASSWORD = 8
MAX_PASSWORD = 200


def password_problem(password: str) -> str | None:
    """A new password's length rule in plain words (``None`` when it is fine)."""
    if len(password) < MIN_PASSWORD:
        return (
            f"Your password is too short: use at least {MIN_PASSWORD} characters. "
            "A few words together is long enough and easy to remember."
        )
    if len(password) > MAX_PASSWORD:
        return f"Your password is too long: use at most {MAX_PASSWORD} characters."
    return None


def _check_new_password(password: str) -> None:
    problem = password_problem(password)
    if problem is not None:
        raise ValidationError(problem)


def new_password() -> fields.String:
    return fields.String(required=True, validate=_check_new_password)


class UserCreate(Strict):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    password = new_password()
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
    member_number = fields.Integer()
    balance = fields.Integer()


class PartnerStaffOut(Schema):
    scheme = fields.String()
    scheme_name = fields.String()
    partner_id = fields.Integer()
    name = fields.String()
    status = fields.String()


class MeOut(UserOut):
    is_operator = fields.Boolean()
    memberships = fields.List(fields.Nested(MembershipOut))
    # The partners whose staff the user is, in every scheme.
    partners = fields.List(fields.Nested(PartnerStaffOut))


class PasswordForgot(Strict):
    email = fields.Email(required=True, validate=validate.Length(max=254))


class PasswordReset(Strict):
    token = fields.String(required=True, validate=validate.Length(min=1, max=500))
    password = new_password()


class PasswordChange(Strict):
    current_password = fields.String(required=True, validate=validate.Length(min=1, max=200))
    password = new_password()
