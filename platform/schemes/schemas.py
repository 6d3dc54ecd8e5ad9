from __future__ import annotations

from marshmallow import Schema, fields, validate

from timebank.platform.api.pagination import page_schema
from timebank.platform.api.schemas import PageQuery, Strict, StrictBoolean
from timebank.platform.schemes.models import TEMPLATES


class SchemeCreate(Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    slug = fields.String(required=True, validate=validate.Length(max=100))
    template = fields.String(required=True, validate=validate.OneOf(TEMPLATES))
    timezone = fields.String(load_default="Europe/London", validate=validate.Length(min=1, max=64))
    sandbox = StrictBoolean(load_default=False)


class SchemeOut(Schema):
    slug = fields.String()
    name = fields.String()
    template = fields.String()
    status = fields.String()
    timezone = fields.String()
    plan = fields.String()
    sandbox = fields.Boolean()
    created_at = fields.DateTime()


class MySchemesQuery(PageQuery):
    every_scheme = fields.Boolean(data_key="all", load_default=False)


class MySchemeOut(Schema):
    slug = fields.String()
    name = fields.String()
    template = fields.String()
    status = fields.String()
    role = fields.String(allow_none=True)
    member_status = fields.String(allow_none=True)


MySchemePage = page_schema(MySchemeOut, "MySchemePage")


class GoLiveOut(Schema):
    slug = fields.String()
    sandbox = fields.Boolean()
