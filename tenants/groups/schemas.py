"""Request and response shapes of the groups API (api.md "School groups")."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from timebank.platform.api.pagination import page_schema
from timebank.platform.api.schemas import Strict, free_text, minutes, object_id
from timebank.tenants.earning.schemas import MAX_AWARD_MEMBERS, AwardOut
from timebank.tenants.groups.models import GROUP_KINDS


class GroupIn(Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=80))
    kind = fields.String(load_default="other", validate=validate.OneOf(GROUP_KINDS))


class GroupMembersIn(Strict):
    member_ids = fields.List(
        object_id(), required=True, validate=validate.Length(max=MAX_AWARD_MEMBERS)
    )


class GroupAwardIn(Strict):
    activity_id = object_id(required=True)
    minutes = minutes(required=True)
    note = free_text()


class GroupMemberOut(Schema):
    member_id = fields.Integer()
    name = fields.String()
    status = fields.String()


class GroupOut(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String()
    member_ids = fields.List(fields.Integer())
    members = fields.List(fields.Nested(GroupMemberOut))
    created_at = fields.DateTime()


class GroupSummaryOut(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String()
    created_at = fields.DateTime()


GroupPage = page_schema(GroupSummaryOut, "GroupPage")


class LeagueRowOut(Schema):
    rank = fields.Integer()
    id = fields.Integer()
    name = fields.String()
    kind = fields.String()
    member_count = fields.Integer()
    total_minutes = fields.Integer()
    minutes_per_member = fields.Integer()


class LeagueOut(Schema):
    items = fields.List(fields.Nested(LeagueRowOut))


GroupAwardOut = AwardOut
