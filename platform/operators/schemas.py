from __future__ import annotations

from marshmallow import Schema, fields

from timebank.platform.api.pagination import page_schema
from timebank.platform.api.schemas import Strict, free_text


class PlatformSchemeOut(Schema):
    slug = fields.String()
    name = fields.String()
    status = fields.String()
    plan = fields.String()
    template = fields.String()
    members = fields.Integer()
    created_at = fields.DateTime()
    suspended_reason = fields.String(allow_none=True)


PlatformSchemePage = page_schema(PlatformSchemeOut, "PlatformSchemePage")


class SuspendIn(Strict):
    reason = free_text()


class StatusOut(Schema):
    status = fields.String()


class StatsOut(Schema):
    schemes = fields.Integer()
    members = fields.Integer()
    transactions = fields.Integer()
    minutes_exchanged = fields.Integer()
