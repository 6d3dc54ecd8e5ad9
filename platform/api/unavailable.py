"""A database that cannot be reached is a 503 (problem+json or a page), never a 500.

A connection PostgreSQL killed (a restart, a fail-over, ``pg_terminate_backend``),
a server that refuses connections, a full connection pool or a statement cut
short by the server all mean "try again shortly", not "we have a bug". The
unit of work was rolled back (:func:`timebank.platform.db.run_atomic`), and
a 5xx is never stored under an ``Idempotency-Key``
(:mod:`timebank.platform.api.idempotency`), so a retry with the same key runs
again — or, if the commit itself was lost on its way back, replays what
committed.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from timebank.platform.api.errors import problem, render_page, wants_problem_json
from timebank.platform.db import db

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
CODE = "database_unavailable"
DETAIL = "The database cannot be reached just now. Try again in a few seconds."
PAGE_DETAIL = (
    "We could not reach our database, so this was not saved. Please try again in a moment."
)
UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeoutError)


def init_app(app: Flask) -> None:
    for error_class in UNAVAILABLE:
        app.register_error_handler(error_class, _unavailable)


def _unavailable(error: Exception) -> Any:
    from flask import request

    # The driver's message may quote SQL parameters: log the class only.
    log.error(
        "database unavailable on %s %s: %s (%s)",
        request.method,
        request.path,
        type(error).__name__,
        type(getattr(error, "orig", None) or error).__name__,
    )
    try:
        db.session.rollback()
    except Exception:  # the session may be as unreachable as the database
        db.session.remove()
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if wants_problem_json():
        return problem(503, CODE, DETAIL, headers=headers)
    try:
        body, status = render_page(503, PAGE_DETAIL)
    except Exception:  # the page itself may need the database (the signed-in user)
        body, status = f"<!doctype html><title>Unavailable</title><p>{PAGE_DETAIL}</p>", 503
    return Response(body, status=status, headers=headers, mimetype="text/html")
