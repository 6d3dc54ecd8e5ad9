"""URL converters: ``<int:…>`` bounded to the database's signed 64-bit ids.

Werkzeug's ``int`` converter matches any run of digits, so
``/transactions/1000000000000000000000000000000`` reached a view and the
database refused the literal (a 500). :class:`BoundedIntegerConverter` replaces
the default ``int`` converter app-wide: its pattern itself only matches
0…2**63-1, so a larger number matches no rule and the URL is a plain 404 like
any other unknown id. (Refusing it in ``to_python`` alone is not enough:
werkzeug answers 405 when a rule for another method matched the pattern.)
"""

from __future__ import annotations

from typing import Any

from werkzeug.routing import IntegerConverter, Map

MAX_ID = 2**63 - 1


def at_most_pattern(limit: int) -> str:
    """A regular expression (no groups) matching the decimal numbers 0…``limit``."""
    digits = str(limit)
    alternatives = [rf"\d{{1,{len(digits) - 1}}}"] if len(digits) > 1 else []
    for index, digit in enumerate(digits):
        if digit == "0":
            continue
        rest = len(digits) - index - 1
        alternatives.append(
            digits[:index] + f"[0-{int(digit) - 1}]" + (rf"\d{{{rest}}}" if rest else "")
        )
    alternatives.append(digits)
    return "(?:" + "|".join(alternatives) + ")"


class BoundedIntegerConverter(IntegerConverter):
    """``<int:…>`` that only matches 0…2**63-1."""

    regex = at_most_pattern(MAX_ID)

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)
