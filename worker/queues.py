"""Queue setup and the one helper that enqueues jobs.

Jobs take primitive ids (the scheme's included), never ORM objects, open their
own app and scheme context (:func:`job`), and are idempotent. :func:`enqueue`
is the single way in: inside a unit of work it waits for the commit (a job
enqueued by a transaction that rolls back never runs); with no ``REDIS_URL``
it runs the job inline, so the embedded default needs no Redis. No
connection is opened at import time.
"""

from __future__ import annotations

import functools
import importlib
import logging
import os
from collections.abc import Callable, Sequence
from typing import Any, ParamSpec, TypeVar

from flask import Flask, current_app, has_app_context

QUEUES = ("default", "mail", "reports", "billing")
# Every Redis key the platform itself writes starts with this (RQ keeps its own ``rq:``).
KEY_PREFIX = "timebank:"
DEFAULT_BACKOFF = (10, 60, 300)
FAILURE_TTL = 14 * 24 * 3600
log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

_worker_app: Flask | None = None
_in_worker = False


def redis_key(*parts: object) -> str:
    return KEY_PREFIX + ":".join(str(part) for part in parts)


def redis_connection() -> Any:
    """The app's Redis client, or ``None`` when no ``REDIS_URL`` is configured."""
    from redis import Redis

    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    connections = current_app.extensions.setdefault("timebank.redis", {})
    if url not in connections:
        connections[url] = Redis.from_url(url)
    return connections[url]


def get_queue(name: str) -> Any:
    from rq import Queue

    if name not in QUEUES:
        raise ValueError(f"unknown queue {name!r}")
    return Queue(name, connection=redis_connection())


def resolve(path: str) -> Callable[..., Any]:
    module, _, attribute = path.rpartition(".")
    return getattr(importlib.import_module(module), attribute)  # type: ignore[no-any-return]


def enqueue(
    queue: str,
    path: str,
    *args: Any,
    timeout: int = 600,
    retries: int = 3,
    backoff: Sequence[int] | None = None,
) -> Any:
    """Run ``path(*args)`` on ``queue`` once the current unit of work commits.

    Outside a unit of work it is enqueued (or, with no Redis, run) at once.
    A job that raises is retried ``retries`` times, after the ``backoff``
    seconds (default ``JOB_RETRY_BACKOFF``, "10,60,300"), then lands in RQ's
    failed registry. Returns the RQ job or the inline result, or ``None``
    when deferred.
    """
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}")
    from timebank.platform.db import after_commit, in_atomic

    if backoff is None:
        backoff = default_backoff()

    if has_app_context() and in_atomic():
        after_commit(
            lambda: _enqueue_now(
                queue, path, args, timeout=timeout, retries=retries, backoff=backoff
            )
        )
        return None
    return _enqueue_now(queue, path, args, timeout=timeout, retries=retries, backoff=backoff)


def _enqueue_now(
    queue: str,
    path: str,
    args: tuple[Any, ...],
    *,
    timeout: int,
    retries: int,
    backoff: Sequence[int],
) -> Any:
    if not current_app.config.get("REDIS_URL"):
        return resolve(path)(*args)
    from rq import Retry

    intervals = list(backoff)[:retries] or [0]
    return get_queue(queue).enqueue(
        path,
        *args,
        job_timeout=timeout,
        failure_ttl=FAILURE_TTL,
        result_ttl=24 * 3600,
        retry=Retry(max=retries, interval=intervals) if retries else None,
    )


def default_backoff() -> tuple[int, ...]:
    """Retry intervals from ``JOB_RETRY_BACKOFF`` (config or ``TIMEBANK_JOB_RETRY_BACKOFF``)."""
    raw = current_app.config.get("JOB_RETRY_BACKOFF") or os.environ.get(
        "TIMEBANK_JOB_RETRY_BACKOFF"
    )
    if not raw:
        return DEFAULT_BACKOFF
    return tuple(int(part) for part in str(raw).split(",") if part.strip())


def job(fn: Callable[P, T]) -> Callable[P, T]:
    """Give a job function an app context of its own when a worker runs it.

    Inline (called from a request or the CLI) it shares the caller's context.
    In a worker each job gets a fresh app context, so a fresh database session.
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        if has_app_context() and not _in_worker:
            return fn(*args, **kwargs)
        with worker_app().app_context():
            return fn(*args, **kwargs)

    return wrapper


def use_worker_app(app: Flask) -> None:
    """Called by ``timebank worker``: jobs run with this app, each in its own context."""
    global _worker_app, _in_worker
    _worker_app = app
    _in_worker = True


def worker_app() -> Flask:
    global _worker_app
    if _worker_app is None:
        from timebank.platform.app import create_app

        _worker_app = create_app()
    return _worker_app
