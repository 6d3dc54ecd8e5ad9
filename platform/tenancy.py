"""The scheme context: which scheme's rows the current code may touch.

A request resolves its scheme once, from the URL (``/s/<slug>/…`` or
``/api/v1/schemes/<slug>/…``), and runs inside :func:`scheme_context`. The ORM
hook in :mod:`timebank.platform.db` scopes every tenant query to
``current().scheme_id``; on PostgreSQL the same context is written into the
per-transaction setting ``app.scheme_ids`` that the row-level security
policies check. Code that must span schemes (the exchange, operators, a user's
own list of memberships, nightly jobs) says so with :func:`all_schemes` or by
naming the schemes it touches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class SchemeContext:
    scheme_id: int | None = None
    # Schemes the database may show in this unit of work (RLS); the ORM scope
    # is always the single ``scheme_id``.
    visible: tuple[int, ...] = ()
    all_schemes: bool = False

    def rls_settings(self) -> dict[str, str]:
        """Values of ``app.scheme_ids`` and ``app.all_schemes`` for this context."""
        ids = self.visible or ((self.scheme_id,) if self.scheme_id is not None else ())
        return {
            "ids": ",".join(str(i) for i in ids),
            "all": "on" if self.all_schemes else "off",
        }


_EMPTY = SchemeContext()
_current: ContextVar[SchemeContext] = ContextVar("scheme_context", default=_EMPTY)
# Called with "before" (still in the old context: flush what it wrote) and
# "after" (apply the new context to the open transaction).
_listeners: list[Callable[[str], None]] = []


def current() -> SchemeContext:
    return _current.get()


def on_context_change(listener: Callable[[str], None]) -> None:
    _listeners.append(listener)


@contextmanager
def _enter(context: SchemeContext) -> Iterator[SchemeContext]:
    _notify("before")
    token = _current.set(context)
    _notify("after")
    try:
        yield context
    finally:
        _notify("before")
        _current.reset(token)
        _notify("after")


def _notify(phase: str) -> None:
    for listener in _listeners:
        listener(phase)


@contextmanager
def scheme_context(
    scheme_id: int, *, also_visible: tuple[int, ...] = ()
) -> Iterator[SchemeContext]:
    """Scope queries to one scheme; ``also_visible`` widens only the RLS setting."""
    visible = tuple(sorted({scheme_id, *also_visible}))
    with _enter(SchemeContext(scheme_id=scheme_id, visible=visible)) as context:
        yield context


@contextmanager
def all_schemes() -> Iterator[SchemeContext]:
    """Explicitly opt out of tenant scoping (cross-tenant code only)."""
    with _enter(SchemeContext(all_schemes=True)) as context:
        yield context


def set_request_scheme(scheme_id: int) -> None:
    """Enter a scheme for the rest of the request (undone in teardown)."""
    from flask import g

    _notify("before")
    previous = g.pop("_scheme_context_token", None)
    if previous is not None:  # entered twice: teardown must undo both
        _current.reset(previous)
    g._scheme_context_token = _current.set(SchemeContext(scheme_id=scheme_id, visible=(scheme_id,)))
    _notify("after")


def reset_request_scheme() -> None:
    from flask import g

    token = g.pop("_scheme_context_token", None)
    if token is not None:
        _current.reset(token)
