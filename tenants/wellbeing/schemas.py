"""Request and response schemas of the wellbeing surveys (API.md "Impact reports and wellbeing")."""

from __future__ import annotations

from marshmallow import Schema, fields

from timebank.platform.api.pagination import page_schema
from timebank.platform.api.schemas import MemberPageQuery, Strict, StrictBoolean, object_id


class SurveyResponseIn(Strict):
    # Checked by the service against the published scale (422 on ``answers``), so that a
    # wrong count or an answer out of range gets the scale's own words.
    scale = fields.String(required=True)
    answers = fields.List(fields.Raw(allow_none=True), required=True)
    consent_to_report = StrictBoolean(load_default=False)
    member_id = object_id(load_default=None)


class SurveyResponseOut(Schema):
    id = fields.Integer()
    member_id = fields.Integer()
    scale = fields.String()
    answers = fields.List(fields.Integer())
    scores = fields.Dict()
    consent_to_report = fields.Boolean()
    taken_on = fields.Date()


ResponsePage = page_schema(SurveyResponseOut, "SurveyResponsePage")


class SurveyResponseQuery(MemberPageQuery):
    pass


class MeasureChange(Schema):
    measure = fields.String()
    mean_first = fields.Float()
    mean_latest = fields.Float()
    share_improved = fields.Float()
    lower_is_better = fields.Boolean()


class WellbeingOut(Schema):
    scale = fields.String()
    members = fields.Integer()
    mean_first = fields.Float(allow_none=True)
    mean_latest = fields.Float(allow_none=True)
    share_improved = fields.Float(allow_none=True)
    measures = fields.List(fields.Nested(MeasureChange))
