"""Keyset pagination: ``?limit=`` (1–200, default 50) and an opaque ``?cursor=``.

A page is ``{"items": [...], "next_cursor": str | None}``. The cursor encodes
the sort key of the last item, so pages stay stable while rows are inserted.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from typing import Any

from marshmallow import Schema, fields
from sqlalchemy import ColumnElement, Select, and_, or_

from timebank.platform.api.errors import FieldError
from timebank.platform.db import db

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def page_schema(item_schema: type[Schema] | Schema, name: str) -> type[Schema]:
    """A ``{"items": [...], "next_cursor": ...}`` schema for the OpenAPI document."""
    return Schema.from_dict(
        {
            "items": fields.List(fields.Nested(item_schema)),
            "next_cursor": fields.String(allow_none=True),
        },
        name=name,
    )


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps([v.isoformat() if hasattr(v, "isoformat") else v for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, size: int) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise FieldError("cursor", "Not a valid cursor.") from error
    if not isinstance(values, list) or len(values) != size:
        raise FieldError("cursor", "Not a valid cursor.")
    # Keys are database ids and counts: a forged number beyond 64 bits would
    # reach the database as a literal it cannot hold.
    if not all(
        isinstance(v, int) and not isinstance(v, bool) and INT64_MIN <= v <= INT64_MAX
        for v in values
    ):
        raise FieldError("cursor", "Not a valid cursor.")
    return values


def keyset_page(
    statement: Select[Any],
    *,
    keys: Sequence[Any],
    limit: int,
    cursor: str | None,
    descending: bool = True,
    key_of: Callable[[Any], Sequence[Any]],
    scalars: bool = True,
) -> tuple[list[Any], str | None]:
    """Return one page of ``statement`` ordered by the integer ``keys``, and the next cursor."""
    if cursor:
        after = decode_cursor(cursor, len(keys))
        statement = statement.where(_after(keys, after, descending))
    order = [key.desc() if descending else key.asc() for key in keys]
    statement = statement.order_by(*order).limit(limit + 1)
    result = db.session.execute(statement)
    rows = list(result.scalars() if scalars else result.all())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(list(key_of(rows[-1])))
    return rows, next_cursor


def _after(keys: Sequence[Any], values: Sequence[Any], descending: bool) -> ColumnElement[bool]:
    # (k1, k2) < (v1, v2) spelled out, which every database plans well.
    clauses = []
    for index, key in enumerate(keys):
        equal = [keys[i] == values[i] for i in range(index)]
        compare = key < values[index] if descending else key > values[index]
        clauses.append(and_(*equal, compare))
    return or_(*clauses)


def page(items: list[Any], next_cursor: str | None) -> dict[str, Any]:
    return {"items": items, "next_cursor": next_cursor}
