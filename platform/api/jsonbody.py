"""Reading JSON bodies without tripping over hostile ones.

Python's ``json`` raises ``RecursionError`` on a body nested 100,000 deep and
a plain ``ValueError`` on an integer literal of more than 4,300 digits; neither
is the ``JSONDecodeError`` that Flask and webargs turn into a 400, so both were
500s. Here both become ``JSONDecodeError``: webargs (the API's argument
parser, :class:`GuardedParser`) answers 400 ``malformed_json``, and Flask's own
``request.get_json`` (:class:`GuardedJSONProvider`) a 400 as well. Bodies over
``MAX_CONTENT_LENGTH`` are refused before they are read (413).
"""

from __future__ import annotations

import json
from typing import Any

from flask.json.provider import DefaultJSONProvider
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

# A body nested deeper than this is refused before parsing (no real document is).
MAX_DEPTH = 64


def loads(data: str | bytes, **kwargs: Any) -> Any:
    """``json.loads`` that raises only ``JSONDecodeError`` on bad input.

    The error's ``doc`` is never empty: webargs reads an empty one as "no body".
    """
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    # Counting brackets runs at C speed; only a body with many walks them in Python.
    if text.count("[") + text.count("{") > MAX_DEPTH and _depth(text) > MAX_DEPTH:
        raise json.JSONDecodeError(f"The body is nested deeper than {MAX_DEPTH} levels.", text, 0)
    try:
        return json.loads(text, **kwargs)
    except json.JSONDecodeError:
        raise
    except (ValueError, RecursionError) as error:
        raise json.JSONDecodeError(str(error) or type(error).__name__, text, 0) from error


def _depth(text: str) -> int:
    """The deepest nesting of ``[``/``{`` outside strings (a cheap upper bound)."""
    deepest = depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


class GuardedParser(FlaskParser):
    """webargs' Flask parser, reading JSON with :func:`loads`."""

    def _raw_load_json(self, req: Any) -> Any:
        if not is_json_request(req):
            return core.missing
        data = req.get_data(cache=True)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise json.JSONDecodeError(
                f"Bytes decoding error: {error.reason}", repr(data[:40]), 0
            ) from error
        return loads(text)


class GuardedJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider, reading with :func:`loads`."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads(s, **kwargs)
