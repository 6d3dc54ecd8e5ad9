"""Request and response schemas of youth court sittings and ordered hours (API.md)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from timebank.platform.api.pagination import page_schema
from timebank.platform.api.schemas import (
    PageQuery,
    Strict,
    StrictBoolean,
    free_text,
    minutes,
    object_id,
)
from timebank.tenants.ledger.schemas import TransactionOut

MAX_ROTA = 500


class RoleIn(Strict):
    name = fields.String(required=True, validate=validate.Length(1, 60))
    minutes = fields.Integer(strict=True, required=True, validate=validate.Range(1, 24 * 60))
    places = fields.Integer(strict=True, required=True, validate=validate.Range(1, 500))


class SittingIn(Strict):
    # ISO 8601; without an offset it is the scheme's local time.
    starts_at = fields.DateTime(required=True)
    place = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    # Done with children: adults on the rota need a valid safeguarding check.
    with_children = StrictBoolean(load_default=False)
    roles = fields.List(
        fields.Nested(RoleIn), load_default=None, validate=validate.Length(min=1, max=20)
    )


class SittingQuery(PageQuery):
    # ``upcoming`` (members' default) or ``all`` (coordinators' default).
    when = fields.String(load_default=None, validate=validate.OneOf(("upcoming", "all")))


class AssignmentIn(Strict):
    member_id = object_id(required=True)
    role_id = object_id(required=True)


class SignUpIn(Strict):
    role_id = object_id(required=True)


class AttendanceIn(Strict):
    present = fields.List(object_id(), required=True, validate=validate.Length(max=MAX_ROTA))


class RoleOut(Schema):
    id = fields.Integer()
    name = fields.String()
    minutes = fields.Integer()
    places = fields.Integer()
    taken = fields.Integer()


class AssignmentOut(Schema):
    id = fields.Integer()
    member_id = fields.Integer()
    name = fields.String()
    role_id = fields.Integer()
    role = fields.String()
    signed_up = fields.Boolean()
    present = fields.Boolean(allow_none=True)
    transaction_id = fields.Integer(allow_none=True)


class SittingOut(Schema):
    id = fields.Integer()
    starts_at = fields.DateTime()
    place = fields.String(allow_none=True)
    status = fields.String()
    with_children = fields.Boolean()
    attendance_recorded = fields.Boolean()
    credited_at = fields.DateTime(allow_none=True)
    roles = fields.List(fields.Nested(RoleOut))
    my_role_id = fields.Integer(allow_none=True)
    my_role = fields.String(allow_none=True)
    # The rota: coordinators only (empty for members).
    assignments = fields.List(fields.Nested(AssignmentOut))


SittingPage = page_schema(SittingOut, "SittingPage")


class NewAssignmentOut(Schema):
    id = fields.Integer()
    sitting_id = fields.Integer()
    member_id = fields.Integer()
    role_id = fields.Integer()
    signed_up = fields.Boolean()


class CreditOut(Schema):
    sitting_id = fields.Integer()
    transactions = fields.List(fields.Nested(TransactionOut))


ORDER_STATES = ("open", "completed", "breached")


class OrderIn(Strict):
    member_id = object_id(required=True)
    minutes_ordered = minutes(required=True)
    due_on = fields.Date(required=True)
    referrer = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    reference = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100))


class OrderHoursIn(Strict):
    minutes = fields.Integer(strict=True, required=True, validate=validate.Range(1, 24 * 60))
    performed_on = fields.Date(required=True)
    note = free_text()


class OrderQuery(PageQuery):
    status = fields.String(load_default=None, validate=validate.OneOf(ORDER_STATES))
    member_id = fields.Integer(load_default=None, validate=validate.Range(1, 2**63 - 1))


class ReportQuery(Strict):
    referrer = fields.String(load_default=None, validate=validate.Length(max=200))


class OrderOut(Schema):
    id = fields.Integer()
    member_id = fields.Integer()
    name = fields.String()
    minutes_ordered = fields.Integer()
    minutes_done = fields.Integer()
    minutes_left = fields.Integer()
    due_on = fields.Date()
    referrer = fields.String(allow_none=True)
    reference = fields.String(allow_none=True)
    status = fields.String()
    completed_on = fields.Date(allow_none=True)
    created_at = fields.DateTime()


OrderPage = page_schema(OrderOut, "OrderPage")
