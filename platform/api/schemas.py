"""Building blocks shared by every API schema."""

from __future__ import annotations

from marshmallow import RAISE, fields, validate

from timebank.platform.api.text import Guarded

MAX_MINUTES = 2**31 - 1
TEXT_MAX = 500


class Strict(Guarded):
    """Request bodies and queries: unknown fields are refused; text, dates and
    integers keep to the platform's rules (``text.Guarded``)."""

    class Meta:
        unknown = RAISE


def minutes(**kwargs: object) -> fields.Integer:
    """A positive whole number of minutes (strict: no floats, no strings)."""
    return fields.Integer(strict=True, validate=validate.Range(1, MAX_MINUTES), **kwargs)  # type: ignore[arg-type]


def free_text(**kwargs: object) -> fields.String:
    """Optional free text (memo, note, reason, description): at most 500 characters."""
    return fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=TEXT_MAX),
        metadata={"multiline": True, **kwargs.pop("metadata", {})},  # type: ignore[dict-item]
        **kwargs,  # type: ignore[arg-type]
    )


def object_id(**kwargs: object) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(1, 2**63 - 1), **kwargs)  # type: ignore[arg-type]


class PageQuery(Strict):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = fields.String(load_default=None, validate=validate.Length(max=500))


def query_id(**kwargs: object) -> fields.Integer:
    """An id in the query string (always text, so not strict)."""
    return fields.Integer(validate=validate.Range(1, 2**63 - 1), **kwargs)  # type: ignore[arg-type]


class MemberPageQuery(PageQuery):
    member_id = query_id(load_default=None)


class StrictBoolean(fields.Boolean):
    """JSON true/false only: no "yes", 1 or "on"."""

    def _deserialize(self, value: object, attr: str | None, data: object, **kwargs: object) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value
