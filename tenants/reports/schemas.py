"""Request and response schemas of the impact reports (API.md "Impact reports and wellbeing")."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from timebank.platform.api.schemas import Strict
from timebank.tenants.reports.impact import PRESETS
from timebank.tenants.reports.tables import TABLES


class PeriodQuery(Strict):
    """``from`` and ``to`` (local dates, both included), or a ``preset``; default: this month."""

    from_ = fields.Date(data_key="from", load_default=None)
    to = fields.Date(load_default=None)
    preset = fields.String(load_default=None, validate=validate.OneOf(PRESETS))


class CsvQuery(PeriodQuery):
    table = fields.String(load_default="figures", validate=validate.OneOf(TABLES))


class ActivityMinutes(Schema):
    activity_id = fields.Integer()
    name = fields.String()
    category = fields.String()
    minutes = fields.Integer()


class CategoryMinutes(Schema):
    category = fields.String()
    minutes = fields.Integer()


class RetentionMonth(Schema):
    month = fields.String(metadata={"example": "2026-11"})
    active_members = fields.Integer()
    retained = fields.Integer(metadata={"description": "also active the month before"})


class PartnerMinutes(Schema):
    partner_id = fields.Integer(allow_none=True, metadata={"description": "null: own rewards"})
    name = fields.String()
    minutes = fields.Integer()


class GroupMinutes(Schema):
    group_id = fields.Integer()
    name = fields.String()
    members_earning = fields.Integer()
    minutes = fields.Integer()


class AgeBandFigures(Schema):
    band = fields.String(metadata={"example": "16_17"})
    name = fields.String()
    active_members = fields.Integer()
    minutes_earned = fields.Integer()


class _Figures(Schema):
    from_ = fields.Date(data_key="from")
    to = fields.Date()
    active_members = fields.Integer()
    new_members = fields.Integer()
    minutes_earned = fields.Integer()
    minutes_spent = fields.Integer()
    minutes_transferred = fields.Integer()
    exchanges = fields.Integer()
    people_helped = fields.Integer()
    people_helping = fields.Integer()


class ReportOut(_Figures):
    by_activity = fields.List(fields.Nested(ActivityMinutes))
    by_category = fields.List(fields.Nested(CategoryMinutes))
    retention = fields.List(fields.Nested(RetentionMonth))
    by_partner = fields.List(fields.Nested(PartnerMinutes))
    by_group = fields.List(fields.Nested(GroupMinutes))
    by_age_band = fields.List(fields.Nested(AgeBandFigures))


class SchemeFigures(Schema):
    slug = fields.String()
    name = fields.String()
    active_members = fields.Integer()
    new_members = fields.Integer()
    minutes_earned = fields.Integer()
    minutes_spent = fields.Integer()
    minutes_transferred = fields.Integer()
    exchanges = fields.Integer()
    people_helped = fields.Integer()
    people_helping = fields.Integer()


class PlatformTotals(SchemeFigures):
    class Meta:
        exclude = ("slug", "name")


class PlatformReportOut(Schema):
    from_ = fields.Date(data_key="from")
    to = fields.Date()
    schemes = fields.List(fields.Nested(SchemeFigures))
    totals = fields.Nested(PlatformTotals)
