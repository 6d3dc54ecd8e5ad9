"""Queue setup and the one helper that enqueues jobs.

Jobs take primitive ids (the scheme's included), never ORM objects, open their
own app and scheme context (:func:`job`), and are idempotent. With no
``REDIS_URL`` the same helper runs the job inline, so the embedded default
needs no Redis. Callers enqueue after commit (``db.after_commit``).
"""

from __future__ import annotations

import functools
import importlib
import logging
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from flask import Flask, current_app, has_app_context

QUEUES = ("default", "mail", "reports", "billing")
log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

_worker_app: Flask | None = None


def redis_connection() -> Any:
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


def enqueue(queue: str, path: str, *args: Any, timeout: int = 600, retries: int = 3) -> Any:
    """Run ``path(*args)`` on ``queue``: on RQ when Redis is configured, else now."""
    if not current_app.config.get("REDIS_URL"):
        return resolve(path)(*args)
    from rq import Retry

    return get_queue(queue).enqueue(
        path,
        *args,
        job_timeout=timeout,
        failure_ttl=7 * 24 * 3600,
        result_ttl=24 * 3600,
        retry=Retry(max=retries, interval=[1, 5, 30][:retries]) if retries else None,
    )


def job(fn: Callable[P, T]) -> Callable[P, T]:
    """Give a job function an app context when a worker process runs it."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        if has_app_context():
            return fn(*args, **kwargs)
        with worker_app().app_context():
            return fn(*args, **kwargs)

    return wrapper


def worker_app() -> Flask:
    global _worker_app
    if _worker_app is None:
        from timebank.platform.app import create_app

        _worker_app = create_app()
    return _worker_app
