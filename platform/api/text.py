"""What text the platform accepts: one set of rules for every way text comes in.

PostgreSQL cannot store a NUL character (the driver raises, a 500), a lone
UTF-16 surrogate cannot be encoded, and a control character in a name or an
e-mail address ends up in mail headers, CSV files and pages. So, everywhere:

- NUL, lone surrogates and the other control characters are refused in
  single-line text (names, e-mail, slugs, codes, path segments, query
  parameters); only multi-line free text (memo, note, reason, description)
  may hold a newline, a carriage return or a tab.
- Dates lie between :data:`MIN_DATE` and :data:`MAX_DATE` (``9999-12-31``
  overflowed ``date + timedelta`` in the period arithmetic), and integers
  in a body fit the database's signed 64 bits.

The rules reach every field through :class:`Guarded` (the base of every
request schema: see ``schemas.Strict``) and every path segment, query
parameter, form field and idempotency key through :func:`check_request`,
run before each view. A refusal is a 422 naming the field.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from flask import request
from marshmallow import Schema, ValidationError, fields, validate

from timebank.platform.api.errors import ApiError

MIN_DATE = date(1900, 1, 1)
MAX_DATE = date(2999, 12, 31)
INT64 = (-(2**63), 2**63 - 1)

# Field names (forms, schemas) whose text may span lines.
MULTILINE_NAMES = frozenset({"memo", "note", "reason", "description", "body", "message"})

_SINGLE_LINE_BAD = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_MULTI_LINE_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")

NUL_MESSAGE = "Must not contain NUL characters."
CONTROL_MESSAGE = "Must not contain control characters or line breaks."
MULTILINE_CONTROL_MESSAGE = "Must not contain control characters."


def text_problem(value: str, *, multiline: bool = False) -> str | None:
    """Why ``value`` is refused, or ``None`` when it is acceptable text."""
    if "\x00" in value:
        return NUL_MESSAGE
    if (_MULTI_LINE_BAD if multiline else _SINGLE_LINE_BAD).search(value):
        return MULTILINE_CONTROL_MESSAGE if multiline else CONTROL_MESSAGE
    return None


class SafeText(validate.Validator):
    """A marshmallow validator applying :func:`text_problem`."""

    def __init__(self, *, multiline: bool = False) -> None:
        self.multiline = multiline

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            message = text_problem(value, multiline=self.multiline)
            if message:
                raise ValidationError(message)
        return value


class DateBounds(validate.Validator):
    """Dates (and the date of datetimes) between :data:`MIN_DATE` and :data:`MAX_DATE`."""

    message = f"Must be between {MIN_DATE.isoformat()} and {MAX_DATE.isoformat()}."

    def __call__(self, value: Any) -> Any:
        day = value.date() if isinstance(value, datetime) else value
        if isinstance(day, date) and not MIN_DATE <= day <= MAX_DATE:
            raise ValidationError(self.message)
        return value


def guard_field(name: str, field: fields.Field) -> None:
    """Add the platform's text, date and integer bounds to one schema field."""
    if isinstance(field, fields.String):
        multiline = bool(field.metadata.get("multiline")) or name in MULTILINE_NAMES
        field.validators.append(SafeText(multiline=multiline))
    elif isinstance(field, fields.Date | fields.DateTime):
        field.validators.append(DateBounds())
    elif isinstance(field, fields.Integer):
        field.validators.append(validate.Range(*INT64))
    elif isinstance(field, fields.List) and field.inner is not None:
        guard_field(name, field.inner)
    elif isinstance(field, fields.Tuple):
        for inner in field.tuple_fields:
            guard_field(name, inner)
    elif isinstance(field, fields.Dict):
        for part in (field.key_field, field.value_field):
            if part is not None:
                guard_field(name, part)


class Guarded(Schema):
    """A schema whose every field keeps to the rules above (nested schemas bind their own)."""

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        guard_field(field_name, field_obj)


def check_request() -> None:
    """Refuse hostile text in path segments, query parameters, form fields and keys.

    Runs before every view (pages and API): a 422 naming the parameter.
    """
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str):
            _refuse(name, value, multiline=False)
    for name, value in request.args.items(multi=True):
        _refuse(name, value, multiline=False)
        _refuse(name, name, multiline=False)
    if request.method in ("POST", "PUT", "PATCH", "DELETE") and request.mimetype in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        for name, value in request.form.items(multi=True):
            _refuse(name, name, multiline=False)
            _refuse(name, value, multiline=name in MULTILINE_NAMES)
    key = request.headers.get("Idempotency-Key")
    if key is not None:
        _refuse("Idempotency-Key", key, multiline=False)


def _refuse(name: str, value: str, *, multiline: bool) -> None:
    message = text_problem(value, multiline=multiline)
    if message:
        shown = name if text_problem(name) is None else "_field_name"
        raise ApiError(
            f"{shown}: {message}",
            status=422,
            code="validation_error",
            errors={shown: [message]},
        )
