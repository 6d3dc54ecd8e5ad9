"""Forms on the pages: what the person typed, read into values, and refusals turned into words.

Pages call the same services as the API. A service refuses with an ``ApiError``
(a rule's ``RuleViolation``, a ``FieldError`` on one field, ``Forbidden`` …) or a
marshmallow ``ValidationError`` (the policy); :func:`refusal` turns either into a
:class:`Form` state: a message for the top of the form and messages next to the
fields, keyed by the form's own field names. What was typed is kept, so a
refused form comes back filled in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import request
from marshmallow import ValidationError

from timebank.platform.api.errors import ApiError, NotFound, flatten_messages
from timebank.platform.api.text import MAX_DATE, MIN_DATE

MAX_MINUTES = 2**31 - 1
_HOURS_MINUTES = re.compile(r"^(\d{1,6}):([0-5]\d)$")
_DECIMAL_HOURS = re.compile(r"^\d{1,6}([.,]\d{1,2})?$")


@dataclass
class Form:
    """One form's state: the values shown in its fields and what is wrong with them."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    message: str | None = None

    @classmethod
    def from_request(cls, **defaults: Any) -> Form:
        """The submitted values (every field as typed), over ``defaults``."""
        values = dict(defaults)
        for name in request.form:
            if name == "csrf_token":
                continue
            items = request.form.getlist(name)
            values[name] = items if len(items) > 1 or name.endswith("_ids") else items[0]
        return cls(values=values)

    def get(self, name: str, default: Any = "") -> Any:
        value = self.values.get(name, default)
        return default if value is None else value

    def error(self, name: str) -> str | None:
        messages = self.errors.get(name)
        return " ".join(messages) if messages else None

    def add(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)

    @property
    def failed(self) -> bool:
        return bool(self.errors or self.message)

    def check(self) -> None:
        """Raise if a field was found wrong while reading the form (nothing is called)."""
        if self.errors:
            raise FormInvalid()

    def summary(self) -> list[tuple[str, str]]:
        """``(field, message)`` pairs for the error summary at the top of the form."""
        return [(name, " ".join(messages)) for name, messages in self.errors.items()]


class FormInvalid(Exception):
    """A field could not be read; the form already holds the messages."""


def refusal(form: Form, error: Exception, fields: dict[str, str] | None = None) -> int:
    """Put a service's refusal on ``form``; the HTTP status to answer with.

    ``fields`` maps the service's field names (``to_member_id``, ``claims.cap.minutes``)
    to the form's; a field the form does not show goes to the top message.
    """
    fields = fields or {}
    if isinstance(error, FormInvalid):
        return 422
    if isinstance(error, ValidationError):
        messages = flatten_messages(error.messages)
        status = 422
    elif isinstance(error, ApiError):
        messages = error.errors or {}
        status = error.status
        if not messages:
            form.message = error.detail
            return status
    else:  # pragma: no cover - callers pass only the errors above
        raise error
    for name, texts in messages.items():
        target = fields.get(name, _prefix_match(name, fields))
        if target is None:
            form.message = " ".join(texts) if form.message is None else form.message
            continue
        for text in texts:
            form.add(target, _plain(text))
    if form.errors and form.message is None:
        form.message = "Some answers need another look: see the messages below."
    return status


def _prefix_match(name: str, fields: dict[str, str]) -> str | None:
    # ``member_ids.3`` → the form's ``member_ids`` field.
    head = name.rsplit(".", 1)[0]
    return fields.get(head) if head != name else None


def _plain(text: str) -> str:
    replacements = {
        "Missing data for required field.": "Please fill this in.",
        "Field may not be null.": "Please fill this in.",
        "Not a valid integer.": "Enter a whole number.",
        "Not a valid email address.": "Enter an e-mail address like name@example.org.",
    }
    return replacements.get(text, text)


# --- reading values -----------------------------------------------------------------


def read_text(form: Form, name: str, *, required: bool = False, max_length: int = 500) -> str:
    value = str(form.get(name)).strip()
    if required and not value:
        form.add(name, "Please fill this in.")
    elif len(value) > max_length:
        form.add(name, f"Keep it to {max_length} characters or fewer.")
    return value


def read_optional_text(form: Form, name: str, *, max_length: int = 500) -> str | None:
    return read_text(form, name, max_length=max_length) or None


def parse_duration(text: str) -> int:
    """``"1:30"``, ``"1.5"`` or ``"2"`` hours → minutes; raises ``ValueError``."""
    text = text.strip().replace(" ", "")
    match = _HOURS_MINUTES.fullmatch(text)
    if match:
        return int(match.group(1)) * 60 + int(match.group(2))
    if _DECIMAL_HOURS.fullmatch(text):
        try:
            hours = Decimal(text.replace(",", "."))
        except InvalidOperation as error:  # pragma: no cover - the pattern guards it
            raise ValueError(text) from error
        minutes = hours * 60
        if minutes != minutes.to_integral_value():
            raise ValueError(text)
        return int(minutes)
    raise ValueError(text)


def show_duration(minutes: int | None) -> str:
    """Minutes → ``"1:30"``, the way the duration fields take them (``""`` for none)."""
    if minutes is None:
        return ""
    sign = "-" if minutes < 0 else ""
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours}:{rest:02d}"


def read_duration(
    form: Form, name: str, *, required: bool = True, allow_zero: bool = False
) -> int | None:
    """An amount of time typed as hours (``1:30``, ``1.5``, ``2``), in minutes."""
    raw = str(form.get(name)).strip()
    if not raw:
        if required:
            form.add(name, "Enter the time in hours, like 1:30 for an hour and a half.")
        return None
    negative = raw.startswith("-") or raw.startswith("−")
    try:
        minutes = parse_duration(raw.lstrip("-−"))
    except ValueError:
        form.add(name, "Write the time in hours, like 1:30 (an hour and a half) or 2.")
        return None
    if negative:
        minutes = -minutes
    if minutes < 0 or (minutes == 0 and not allow_zero):
        form.add(name, "Enter more than zero.")
        return None
    if minutes > MAX_MINUTES:
        form.add(name, "That is more time than the scheme can count.")
        return None
    return minutes


def read_limit(form: Form, name: str, *, negative: bool) -> int | None:
    """A balance limit in hours: blank for none; ``negative`` limits may be typed with or without −."""
    raw = str(form.get(name)).strip()
    if not raw:
        return None
    text = raw.lstrip("-−")
    try:
        minutes = parse_duration(text)
    except ValueError:
        form.add(name, "Write the limit in hours, like 10 or 10:30, or leave it empty.")
        return None
    if minutes > MAX_MINUTES:
        form.add(name, "That is more time than the scheme can count.")
        return None
    return -minutes if negative else minutes


def read_int(
    form: Form, name: str, *, required: bool = True, low: int = 1, high: int = 2**63 - 1
) -> int | None:
    raw = str(form.get(name)).strip()
    if not raw:
        if required:
            form.add(name, "Please fill this in.")
        return None
    if not re.fullmatch(r"\d{1,19}", raw):
        form.add(name, "Enter a whole number.")
        return None
    value = int(raw)
    if value < low or value > high:
        form.add(name, f"Enter a number from {low} to {high}.")
        return None
    return value


def read_choice(
    form: Form, name: str, choices: list[str] | tuple[str, ...], *, message: str
) -> str | None:
    value = str(form.get(name)).strip()
    if value not in choices:
        form.add(name, message)
        return None
    return value


def read_date(form: Form, name: str) -> date | None:
    raw = str(form.get(name)).strip()
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        form.add(name, "Enter the date as year-month-day, like 2025-03-01.")
        return None
    if not MIN_DATE <= day <= MAX_DATE:
        form.add(name, f"Enter a date between {MIN_DATE.year} and {MAX_DATE.year}.")
        return None
    return day


def read_ids(form: Form, name: str) -> list[int]:
    raw = form.get(name, [])
    items = raw if isinstance(raw, list) else [raw]
    ids = [int(item) for item in items if str(item).isdecimal() and len(str(item)) <= 18]
    return [i for i in ids if i > 0]


class Submission:
    """``with Submission(form, fields) as sent:`` — a refusal inside lands on the form.

    After the block, ``sent.ok`` tells whether everything in it succeeded, and
    ``sent.status`` is the status to answer a refused form with (422, 403 …).
    A ``NotFound`` is not caught: another scheme's object stays a 404 page.
    """

    def __init__(self, form: Form, fields: dict[str, str] | None = None) -> None:
        self.form = form
        self.fields = fields or {}
        self.ok = False
        self.status = 200

    def __enter__(self) -> Submission:
        return self

    def __exit__(self, exc_type: Any, error: BaseException | None, _tb: Any) -> bool:
        if error is None:
            self.ok = True
            return False
        if isinstance(error, NotFound) or not isinstance(
            error, ApiError | ValidationError | FormInvalid
        ):
            return False
        self.status = refusal(self.form, error, self.fields)
        return True
