"""CSV that a spreadsheet opens without running anything: one writer for every CSV.

A text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is read as a formula by Excel, LibreOffice and Google Sheets (CSV
injection: ``=HYPERLINK(…)`` in a memo). As OWASP recommends, such a cell is
prefixed with a single quote, which the spreadsheet shows as text; numbers
(``int``, ``Decimal``, ``float``) are written as they are, so ``-30`` stays a
number. Every CSV the platform writes goes through :func:`writer`.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Protocol

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Writable(Protocol):
    def write(self, text: str, /) -> Any: ...


def safe_cell(value: Any) -> Any:
    """``value`` as a spreadsheet may hold it: formula-like text escaped, numbers kept."""
    if value is None or isinstance(value, bool):
        return "" if value is None else value
    if isinstance(value, int | float | Decimal):
        return value
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


class SafeWriter:
    """``csv.writer`` whose rows go through :func:`safe_cell`."""

    def __init__(self, stream: _Writable) -> None:
        self._writer = csv.writer(stream)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([safe_cell(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(stream: _Writable) -> SafeWriter:
    """A CSV writer on ``stream`` that neutralises formula-like cells."""
    return SafeWriter(stream)
