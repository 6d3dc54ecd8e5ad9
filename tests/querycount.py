"""``count_queries()``: count the SQL statements a block runs, and show them on failure."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine


class Queries(list[str]):
    def explain(self) -> str:
        return f"{len(self)} statements:\n" + "\n".join(
            f"  {i + 1}. {sql}" for i, sql in enumerate(self)
        )


@contextmanager
def count_queries(engine: Engine) -> Iterator[Queries]:
    queries = Queries()

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        queries.append(" ".join(statement.split())[:300])

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield queries
    finally:
        event.remove(engine, "before_cursor_execute", record)
