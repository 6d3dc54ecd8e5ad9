"""Logs: plain text in development, JSON lines in production, each with a request id.

``LOG_FORMAT=json`` turns every record into one JSON object per line
(python-json-logger) with ``time``, ``level``, ``logger``, ``message`` and the
context of the moment: ``request_id``, ``scheme`` (the slug in the URL) and
``user_id``. A request takes its id from an ``X-Request-Id`` header of up to
64 letters, digits, ``-`` and ``_`` (a proxy's), else a new one, and answers
with it in ``X-Request-Id``. A job enqueued during the request carries the id
(RQ job meta, or the outbox row) and the worker runs it under that id, so a
request's lines and its jobs' lines share it.

What is logged is ids and codes, never personal text: the access line names
the route's rule (``/api/v1/schemes/<slug>/transfers``), not the query
string, and no message carries a password, token, e-mail body or memo.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
import time
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from typing import IO, Any

from flask import Flask, Response, g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-Id"
_VALID_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_request_id: ContextVar[str | None] = ContextVar("timebank_request_id", default=None)
access_log = logging.getLogger("timebank.access")
job_log = logging.getLogger("timebank.jobs")


def current_request_id() -> str | None:
    """The id of the request (or the job) this code runs for, if any."""
    return _request_id.get()


@contextlib.contextmanager
def request_id_scope(request_id: str | None) -> Iterator[None]:
    """Run a job under the id of the request that enqueued it (a new one if none)."""
    token = _request_id.set(request_id or new_request_id())
    try:
        yield
    finally:
        _request_id.reset(token)


def new_request_id() -> str:
    return uuid.uuid4().hex


class ContextFilter(logging.Filter):
    """Adds ``request_id``, ``scheme`` and ``user_id`` to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        scheme = user_id = None
        if has_request_context():
            scheme = (request.view_args or {}).get("slug")
            user = g.get("_login_user")
            user_id = (
                getattr(user, "id", None) if getattr(user, "is_authenticated", False) else None
            )
        record.scheme = scheme if isinstance(scheme, str) else None
        record.user_id = user_id
        return True


def _handler(log_format: str, stream: IO[str] | None = None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    if log_format == "json":
        from pythonjsonlogger.json import JsonFormatter

        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(scheme)s %(user_id)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                datefmt="%Y-%m-%dT%H:%M:%S%z",
            )
        )
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
        )
    handler.addFilter(ContextFilter())
    return handler


def configure(level: str = "INFO", log_format: str = "text", stream: IO[str] | None = None) -> None:
    """Install the one root handler (a second call replaces it); to stderr by default."""
    root = logging.getLogger()
    for existing in list(root.handlers):
        # Ours from an earlier call, and plain console handlers (basicConfig's, alembic's
        # fileConfig): one format per stream. Other handlers (a test's capture) stay.
        if getattr(existing, "_timebank", False) or type(existing) is logging.StreamHandler:
            root.removeHandler(existing)
    handler = _handler(log_format, stream)
    handler._timebank = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)


def init_app(app: Flask) -> None:
    """Log format from config; a request id and one access line per request."""
    log_format = str(app.config.get("LOG_FORMAT") or "text").lower()
    if log_format not in {"text", "json"}:
        raise ValueError("LOG_FORMAT must be 'text' or 'json'")
    configure(str(app.config.get("LOG_LEVEL", "INFO")), log_format)

    @app.before_request
    def _start() -> None:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = given if _VALID_ID.fullmatch(given) else new_request_id()
        g.request_id_token = _request_id.set(g.request_id)
        g.request_started = time.perf_counter()

    @app.after_request
    def _finish(response: Response) -> Response:
        request_id = g.get("request_id")
        if request_id:
            response.headers[REQUEST_ID_HEADER] = request_id
            started = g.get("request_started")
            duration = (time.perf_counter() - started) * 1000 if started else 0.0
            access_log.info(
                "%s %s %s %.1fms",
                request.method,
                route_of_request(),
                response.status_code,
                duration,
                extra={
                    "method": request.method,
                    "route": route_of_request(),
                    "status": response.status_code,
                    "duration_ms": round(duration, 1),
                },
            )
        return response

    @app.teardown_request
    def _forget(_error: BaseException | None) -> None:
        token = g.pop("request_id_token", None)
        if token is not None:
            with contextlib.suppress(ValueError):
                _request_id.reset(token)


def route_of_request() -> str:
    """The matched rule (no ids, no query string), or ``unmatched``."""
    rule = request.url_rule
    return rule.rule if rule is not None else "unmatched"


def job_extra(path: str, **fields: Any) -> dict[str, Any]:
    return {"job": path, **fields}
