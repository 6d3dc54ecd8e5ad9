"""URL converters: ``<int:…>`` bounded to the database's signed 64-bit ids.

Werkzeug's ``int`` converter matches any run of digits, so
``/transactions/1000000000000000000000000000000`` reached a view and the
database refused the literal (a 500). :class:`BoundedIntegerConverter` replaces
the default ``int`` converter app-wide: a number outside 1…2**63-1 does not
match, and the URL is a plain 404 like any other unknown id.
"""

from __future__ import annotations

from typing import Any

from werkzeug.routing import IntegerConverter, Map

MAX_ID = 2**63 - 1


class BoundedIntegerConverter(IntegerConverter):
    """``<int:…>`` that only matches 0…2**63-1."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)
