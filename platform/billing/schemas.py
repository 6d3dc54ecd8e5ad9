"""Billing API schemas (operators)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from timebank.platform.api.pagination import page_schema
from timebank.platform.api.schemas import Strict
from timebank.platform.operators.schemas import PlatformSchemeOut

PLAN_NAMES = ("free", "community", "organisation")


class BillingSchemeOut(PlatformSchemeOut):
    billing_status = fields.String()
    subscription_status = fields.String(allow_none=True)
    last_payment_at = fields.DateTime(allow_none=True)
    grace_until = fields.DateTime(allow_none=True)
    plan_set_by_operator = fields.Boolean()


BillingSchemePage = page_schema(BillingSchemeOut, "BillingSchemePage")


class SetPlanIn(Strict):
    plan = fields.String(required=True, validate=validate.OneOf(PLAN_NAMES))
    reason = fields.String(load_default=None, validate=validate.Length(max=500))


class SchemePlanOut(Schema):
    slug = fields.String()
    plan = fields.String()
