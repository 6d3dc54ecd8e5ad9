"""Jobs that kept failing: RQ's failed-job registries, read and retried by operators."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from timebank.platform.api.errors import NotFound
from timebank.platform.api.pagination import decode_cursor, encode_cursor
from timebank.platform.jobs import QUEUES, get_queue, redis_connection

NOT_FOUND = "No failed job with this id."


def _summary(exc_string: str | None) -> str:
    """The last non-empty line of a traceback (``ValueError: …``), at most 500 characters."""
    lines = [line.strip() for line in (exc_string or "").splitlines() if line.strip()]
    return (lines[-1] if lines else "")[:500]


def _describe(job: Any, queue: str) -> dict[str, Any]:
    result = job.latest_result()
    exc_string = result.exc_string if result is not None else None
    failed_at: datetime | None = job.ended_at or (result.created_at if result else None)
    return {
        "id": job.id,
        "func": job.func_name,
        "queue": queue,
        "args": repr(job.args)[:200],
        "exc_info": _summary(exc_string),
        "failed_at": failed_at,
        "retries_left": job.retries_left,
    }


def failed_jobs(*, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """Failed jobs of every queue, most recent first; ``[]`` with no Redis."""
    if redis_connection() is None:
        return [], None
    from rq.job import Job

    connection = redis_connection()
    found: list[dict[str, Any]] = []
    for name in QUEUES:
        registry = get_queue(name).failed_job_registry
        ids = registry.get_job_ids()
        for job in Job.fetch_many(ids, connection=connection):
            if job is not None:
                found.append(_describe(job, name))
    found.sort(key=lambda item: (item["failed_at"] is not None, item["failed_at"], item["id"]))
    found.reverse()
    offset = decode_cursor(cursor, 1)[0] if cursor else 0
    chunk = found[offset : offset + limit]
    next_cursor = encode_cursor([offset + limit]) if offset + limit < len(found) else None
    return chunk, next_cursor


def retry_failed(job_id: str) -> dict[str, Any]:
    """Put a failed job back on its queue (404 when no queue holds it as failed)."""
    if redis_connection() is None:
        raise NotFound(NOT_FOUND)
    from rq.exceptions import InvalidJobOperation, NoSuchJobError
    from rq.job import Job

    try:
        job = Job.fetch(job_id, connection=redis_connection())
    except (NoSuchJobError, ValueError) as error:
        raise NotFound(NOT_FOUND) from error
    if job.origin not in QUEUES:
        raise NotFound(NOT_FOUND)
    registry = get_queue(job.origin).failed_job_registry
    if job.id not in registry:
        raise NotFound(NOT_FOUND)
    try:
        registry.requeue(job)
    except InvalidJobOperation as error:
        raise NotFound(NOT_FOUND) from error
    return {"id": job.id, "queue": job.origin, "status": "queued"}
