"""Request and response schemas of offers and requests (API.md "Offers and requests")."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from timebank.platform.api.pagination import page_schema
from timebank.platform.api.schemas import PageQuery, Strict, StrictBoolean, minutes, object_id
from timebank.tenants.marketplace.models import (
    AREA_MAX,
    AVAILABILITY_MAX,
    CATEGORY_NAME_MAX,
    KINDS,
    LISTING_STATUSES,
    MESSAGE_MAX,
    RESPONSE_STATUSES,
    TEXT_MAX,
    TITLE_MAX,
    WHERES,
)

SORTS = ("newest", "expiring")
AUTHOR_STATUSES = ("published", "paused", "closed")


class NonBlank(validate.Validator):
    """A string with something in it besides spaces."""

    def __call__(self, value: str) -> str:
        if not value.strip():
            raise ValidationError("Must not be empty.")
        return value


def _text(max_length: int, **kwargs: Any) -> fields.String:
    return fields.String(allow_none=True, validate=validate.Length(max=max_length), **kwargs)


def _title(**kwargs: Any) -> fields.String:
    return fields.String(validate=[validate.Length(min=1, max=TITLE_MAX), NonBlank()], **kwargs)


# --- categories ---------------------------------------------------------------------


class CategoryIn(Strict):
    name = fields.String(
        required=True, validate=[validate.Length(min=1, max=CATEGORY_NAME_MAX), NonBlank()]
    )


class CategoryPatch(Strict):
    name = fields.String(validate=[validate.Length(min=1, max=CATEGORY_NAME_MAX), NonBlank()])
    active = StrictBoolean()


class CategoryQuery(PageQuery):
    active = fields.Boolean(load_default=None)


class CategoryOut(Schema):
    id = fields.Integer()
    name = fields.String()
    active = fields.Boolean()


CategoryPage = page_schema(CategoryOut, "CategoryPage")


# --- listings -----------------------------------------------------------------------


class ListingIn(Strict):
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    title = _title(required=True)
    category_id = object_id(required=True)
    description = _text(TEXT_MAX, load_default=None)
    minutes = minutes(load_default=None, allow_none=True)
    where = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(WHERES))
    area = _text(AREA_MAX, load_default=None)
    availability = _text(AVAILABILITY_MAX, load_default=None)
    # Absent: today + default_expiry_days; null: no expiry (where the policy allows it).
    expires_on = fields.Date(allow_none=True)


class ListingPatch(Strict):
    kind = fields.String(validate=validate.OneOf(KINDS))
    title = _title()
    category_id = object_id()
    description = _text(TEXT_MAX)
    minutes = minutes(allow_none=True)
    where = fields.String(allow_none=True, validate=validate.OneOf(WHERES))
    area = _text(AREA_MAX)
    availability = _text(AVAILABILITY_MAX)
    expires_on = fields.Date(allow_none=True)
    status = fields.String(validate=validate.OneOf(AUTHOR_STATUSES))


class ListingQuery(PageQuery):
    kind = fields.String(load_default=None, validate=validate.OneOf(KINDS))
    category_id = fields.Integer(load_default=None, validate=validate.Range(1, 2**63 - 1))
    q = fields.String(load_default=None, validate=validate.Length(max=200))
    area = fields.String(load_default=None, validate=validate.Length(max=AREA_MAX))
    mine = fields.Boolean(load_default=False)
    # Coordinators: every listing of one status (``pending``: the approval queue).
    status = fields.String(load_default=None, validate=validate.OneOf(LISTING_STATUSES))
    sort = fields.String(load_default="newest", validate=validate.OneOf(SORTS))


class UnansweredQuery(PageQuery):
    days = fields.Integer(load_default=7, validate=validate.Range(0, 3650))


class Person(Schema):
    member_id = fields.Integer()
    name = fields.String(allow_none=True)


class ListingOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    title = fields.String()
    description = fields.String(allow_none=True)
    category_id = fields.Integer()
    minutes = fields.Integer(allow_none=True)
    where = fields.String(allow_none=True)
    area = fields.String(allow_none=True)
    availability = fields.String(allow_none=True)
    status = fields.String()
    expires_on = fields.Date(allow_none=True)
    author = fields.Nested(Person)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    # Only for its author and coordinators.
    hidden_reason = fields.String(allow_none=True)
    responses = fields.Integer(metadata={"description": "live responses (author, coordinators)"})


ListingPage = page_schema(ListingOut, "ListingPage")


class HideIn(Strict):
    reason = fields.String(
        required=True, validate=[validate.Length(min=1, max=TEXT_MAX), NonBlank()]
    )


# --- responses and messages ----------------------------------------------------------


class RespondIn(Strict):
    message = fields.String(
        required=True, validate=[validate.Length(min=1, max=MESSAGE_MAX), NonBlank()]
    )


class ResponseQuery(PageQuery):
    status = fields.String(load_default=None, validate=validate.OneOf(RESPONSE_STATUSES))


class ResponseOut(Schema):
    id = fields.Integer()
    listing_id = fields.Integer()
    listing_title = fields.String()
    responder = fields.Nested(Person)
    status = fields.String()
    minutes = fields.Integer(allow_none=True)
    on = fields.Date(allow_none=True)
    helper_member_id = fields.Integer()
    helped_member_id = fields.Integer()
    transaction_id = fields.Integer(allow_none=True)
    dispute_reason = fields.String(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


ResponsePage = page_schema(ResponseOut, "ResponsePage")


class MessageIn(Strict):
    body = fields.String(
        required=True, validate=[validate.Length(min=1, max=MESSAGE_MAX), NonBlank()]
    )


class MessageOut(Schema):
    id = fields.Integer()
    author_member_id = fields.Integer()
    body = fields.String()
    created_at = fields.DateTime()


MessagePage = page_schema(MessageOut, "MessagePage")


class AgreeIn(Strict):
    minutes = minutes(required=True)
    on = fields.Date(load_default=None, allow_none=True)


class ConfirmIn(Strict):
    minutes = minutes(load_default=None, allow_none=True)


class DisputeIn(Strict):
    reason = fields.String(
        required=True, validate=[validate.Length(min=1, max=TEXT_MAX), NonBlank()]
    )


class DecideIn(Strict):
    minutes = fields.Integer(strict=True, required=True, validate=validate.Range(0, 2**31 - 1))
    note = _text(TEXT_MAX, load_default=None)


class ExchangeOut(Schema):
    status = fields.String()
    transaction_id = fields.Integer(allow_none=True)
    listing_id = fields.Integer()
    response_id = fields.Integer()
    minutes = fields.Integer(allow_none=True)


class GivenReceivedOut(Schema):
    member_id = fields.Integer()
    given_minutes = fields.Integer()
    received_minutes = fields.Integer()
    people_helped = fields.Integer()
    helped_by = fields.Integer()


class DigestIn(Strict):
    category_ids = fields.List(object_id(), required=True, validate=validate.Length(max=200))


class DigestOut(Schema):
    category_ids = fields.List(fields.Integer())
