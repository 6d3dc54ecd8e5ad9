"""The job layer: enqueueing, the outbox and its relay to RQ. Needs no app of its own.

Jobs take primitive ids (the scheme's included), never ORM objects, open their
own app and scheme context (:func:`job`), and are idempotent. :func:`enqueue`
is the single way in.

- **No ``REDIS_URL``** (the embedded default): the job runs inline, after the
  unit of work commits (at once outside one). A job of a unit of work that
  rolls back never runs.
- **With Redis, inside a unit of work** (a service decorated ``@atomic``): the
  job is written to the ``job_outbox`` table *in the same database
  transaction* as the action that caused it, so it exists exactly when the
  action does. After the commit the relay hands those rows to RQ; if Redis
  does not answer, the rows wait and the action still answers as it
  committed. The relay also runs in ``timebank worker`` (every few seconds)
  and in the scheduler (every tick), so nothing waits longer than Redis is
  down.
- **With Redis, outside a unit of work** (the scheduler, a job queueing its
  children): enqueued at once; a Redis error raises to the caller, which
  committed nothing and retries.

Nothing is relayed twice: a row is locked while it is relayed (``FOR UPDATE
SKIP LOCKED`` on PostgreSQL), its RQ job id is ``outbox-<row id>`` (a relay
that finds the job already in Redis, because the database commit of an
earlier relay was lost, only marks the row), and ``relayed_at`` marks it done.

The outbox is a **platform table** (no ``scheme_id``), like the RQ queues it
feeds: jobs of platform actions (password reset, billing) have no scheme, and
one relay drains every scheme's rows in id order. It is not a tenant table,
so it has no RLS: the application reads it only in the relay, and relayed
rows (mail bodies included) are purged after :data:`KEEP_RELAYED`.

The worker hands its app in (:func:`use_worker_app`); this module never
creates one. No connection is opened at import time.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import importlib
import json
import logging
import os
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, ParamSpec, TypeVar

from flask import Flask, current_app, has_app_context
from sqlalchemy import BigInteger, Index, Integer, String, Text, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from timebank.platform import links, metrics
from timebank.platform.db import (
    UTCDateTime,
    after_commit,
    db,
    in_atomic,
    run_atomic,
    utcnow,
    utcnow_column,
)
from timebank.platform.logs import current_request_id, request_id_scope

QUEUES = ("default", "mail", "reports", "billing")
# Every Redis key the platform itself writes starts with this (RQ keeps its own ``rq:``).
KEY_PREFIX = "timebank:"
DEFAULT_BACKOFF = (10, 60, 300)
FAILURE_TTL = 14 * 24 * 3600
RESULT_TTL = 24 * 3600
KEEP_RELAYED = timedelta(hours=48)
RELAY_BATCH = 200
# A request relays its own rows after commit and must not hang on a Redis that
# does not answer (stopped, or a full network buffer): short timeouts there.
REQUEST_REDIS_TIMEOUTS = {"socket_connect_timeout": 1.0, "socket_timeout": 2.0}
log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

_worker_app: Flask | None = None
_in_worker = False
# SQLite has no row locks to skip: one relay at a time per process (the
# embedded database has one writing process).
_sqlite_relay_lock = threading.Lock()


class OutboxJob(db.Model):  # type: ignore[name-defined,misc]
    """A job written by a unit of work, waiting for (or handed to) RQ."""

    __tablename__ = "job_outbox"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    queue: Mapped[str] = mapped_column(String(32))
    path: Mapped[str] = mapped_column(String(200))
    # JSON list of the job's arguments (bytes as {"$bytes": base64}).
    args: Mapped[str] = mapped_column(Text)
    timeout: Mapped[int] = mapped_column(Integer)
    retries: Mapped[int] = mapped_column(Integer)
    backoff: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = utcnow_column()
    relay_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    relayed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The request that caused the job (platform/logs.py): its log lines share the id.
    request_id: Mapped[str | None] = mapped_column(String(64))
    # Where the enqueuing request came in (trusted hosts only): links in the job's mails.
    link_base: Mapped[str | None] = mapped_column(String(300))

    __table_args__ = (Index("ix_job_outbox_relayed_at", "relayed_at"),)

    @property
    def rq_job_id(self) -> str:
        return f"outbox-{self.id}"


# --- Redis and queues ------------------------------------------------------------


def redis_key(*parts: object) -> str:
    return KEY_PREFIX + ":".join(str(part) for part in parts)


def redis_connection(*, fail_fast: bool = False) -> Any:
    """The app's Redis client, or ``None`` when no ``REDIS_URL`` is configured.

    ``fail_fast`` gives a client with short timeouts, for code on a request's
    path (the worker's blocking reads need the default one).
    """
    from redis import Redis

    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    connections = current_app.extensions.setdefault("timebank.redis", {})
    key = (url, fail_fast)
    if key not in connections:
        options = REQUEST_REDIS_TIMEOUTS if fail_fast else {}
        connections[key] = Redis.from_url(url, **options)
    return connections[key]


def get_queue(name: str, connection: Any = None) -> Any:
    from rq import Queue

    if name not in QUEUES:
        raise ValueError(f"unknown queue {name!r}")
    return Queue(name, connection=connection or redis_connection())


def resolve(path: str) -> Callable[..., Any]:
    module, _, attribute = path.rpartition(".")
    return getattr(importlib.import_module(module), attribute)  # type: ignore[no-any-return]


def default_backoff() -> tuple[int, ...]:
    """Retry intervals from ``JOB_RETRY_BACKOFF`` (config or ``TIMEBANK_JOB_RETRY_BACKOFF``)."""
    raw = current_app.config.get("JOB_RETRY_BACKOFF") or os.environ.get(
        "TIMEBANK_JOB_RETRY_BACKOFF"
    )
    if not raw:
        return DEFAULT_BACKOFF
    return tuple(int(part) for part in str(raw).split(",") if part.strip())


# --- enqueue ---------------------------------------------------------------------


def enqueue(
    queue: str,
    path: str,
    *args: Any,
    timeout: int = 600,
    retries: int = 3,
    backoff: Sequence[int] | None = None,
) -> Any:
    """Run ``path(*args)`` on ``queue``: through the outbox inside a unit of work.

    A job that raises is retried ``retries`` times, after the ``backoff``
    seconds (default ``JOB_RETRY_BACKOFF``, "10,60,300"), then lands in RQ's
    failed registry. Returns the RQ job or the inline result, or ``None``
    when deferred (inline after commit, or in the outbox).
    """
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}")
    if backoff is None:
        backoff = default_backoff()
    atomic = has_app_context() and in_atomic()
    if not current_app.config.get("REDIS_URL"):
        if atomic:
            after_commit(lambda: resolve(path)(*args))
            return None
        return resolve(path)(*args)
    if atomic:
        _write_outbox(queue, path, args, timeout=timeout, retries=retries, backoff=backoff)
        return None
    return _push(
        redis_connection(),
        queue,
        path,
        list(args),
        timeout=timeout,
        retries=retries,
        backoff=backoff,
    )


def _push(
    connection: Any,
    queue: str,
    path: str,
    args: list[Any],
    *,
    timeout: int,
    retries: int,
    backoff: Sequence[int],
    job_id: str | None = None,
    request_id: str | None = None,
    link_base: str | None = None,
) -> Any:
    from rq import Retry

    intervals = list(backoff)[:retries] or [0]
    return get_queue(queue, connection).enqueue(
        path,
        *args,
        job_id=job_id,
        meta={
            "request_id": request_id or current_request_id(),
            "link_base": link_base or links.enqueued_base(),
        },
        # RQ logs the description; its default quotes the arguments (a mail's
        # recipients and body), and no personal text belongs in logs.
        description=path,
        job_timeout=timeout,
        failure_ttl=FAILURE_TTL,
        result_ttl=RESULT_TTL,
        retry=Retry(max=retries, interval=intervals) if retries else None,
    )


# --- the outbox ------------------------------------------------------------------


def _encode(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    raise TypeError(f"a job argument must be JSON or bytes, not {type(value).__name__}")


def _decode(value: dict[str, Any]) -> Any:
    if set(value) == {"$bytes"}:
        return base64.b64decode(value["$bytes"])
    return value


def encode_args(args: Sequence[Any]) -> str:
    return json.dumps(list(args), default=_encode, separators=(",", ":"))


def decode_args(raw: str) -> list[Any]:
    decoded: list[Any] = json.loads(raw, object_hook=_decode)
    return decoded


class _RelayAfterCommit:
    """The one after-commit callback of a unit of work: relay the rows it wrote."""

    def __init__(self) -> None:
        self.ids: list[int] = []

    def __call__(self) -> None:
        try:
            relay_outbox(ids=self.ids, connection=redis_connection(fail_fast=True))
        except Exception as error:  # committed: the worker's relay sends them later
            log.warning(
                "outbox: %d job(s) wait for the relay (%s)", len(self.ids), type(error).__name__
            )
            with contextlib.suppress(Exception):  # the database may be what failed
                db.session.rollback()


def _write_outbox(
    queue: str,
    path: str,
    args: tuple[Any, ...],
    *,
    timeout: int,
    retries: int,
    backoff: Sequence[int],
) -> None:
    row = OutboxJob(
        queue=queue,
        path=path,
        args=encode_args(args),
        timeout=timeout,
        retries=retries,
        backoff=",".join(str(seconds) for seconds in backoff),
        relay_attempts=0,
        request_id=current_request_id(),
        link_base=links.enqueued_base(),
    )
    session = db.session()
    session.add(row)
    session.flush()
    callbacks = session.info.setdefault("after_commit", [])
    relay = next((cb for cb in callbacks if isinstance(cb, _RelayAfterCommit)), None)
    if relay is None:
        relay = _RelayAfterCommit()
        after_commit(relay)
    relay.ids.append(row.id)


def relay_outbox(
    *, ids: Sequence[int] | None = None, connection: Any = None, limit: int = RELAY_BATCH
) -> int:
    """Hand waiting outbox rows to RQ and mark them; the number relayed.

    ``ids`` limits it to those rows (a request relays what it wrote). Raises
    the Redis error when Redis does not answer; rows relayed before it stay
    marked, the rest wait for the next relay.
    """
    connection = connection or redis_connection()
    if connection is None:
        return 0
    total = 0
    while True:
        relayed, error = _relay_batch(ids, connection, limit)
        total += relayed
        if error is not None:
            raise error
        if relayed < limit or ids is not None:
            return total


def _relay_batch(
    ids: Sequence[int] | None, connection: Any, limit: int
) -> tuple[int, Exception | None]:
    from redis.exceptions import RedisError

    postgres = db.session.get_bind().dialect.name == "postgresql"

    def work() -> tuple[int, Exception | None]:
        statement = (
            select(OutboxJob)
            .where(OutboxJob.relayed_at.is_(None))
            .order_by(OutboxJob.id)
            .limit(limit)
        )
        if ids is not None:
            statement = statement.where(OutboxJob.id.in_(list(ids)))
        if postgres:
            statement = statement.with_for_update(skip_locked=True)
        rows = db.session.execute(statement).scalars().all()
        relayed = 0
        for row in rows:
            row.relay_attempts += 1
            try:
                _relay_one(connection, row)
            except RedisError as error:
                return relayed, error
            row.relayed_at = utcnow()
            relayed += 1
        return relayed, None

    if postgres:
        return run_atomic(work)
    with _sqlite_relay_lock:
        return run_atomic(work)


def _relay_one(connection: Any, row: OutboxJob) -> None:
    from rq.job import Job

    if Job.exists(row.rq_job_id, connection=connection):
        return  # relayed before, but that relay's commit was lost
    _push(
        connection,
        row.queue,
        row.path,
        decode_args(row.args),
        timeout=row.timeout,
        retries=row.retries,
        backoff=[int(part) for part in row.backoff.split(",") if part],
        job_id=row.rq_job_id,
        request_id=row.request_id,
        link_base=row.link_base,
    )


def pending_count() -> int:
    """How many outbox rows wait for the relay."""
    from sqlalchemy import func

    return int(
        db.session.execute(
            select(func.count()).select_from(OutboxJob).where(OutboxJob.relayed_at.is_(None))
        ).scalar_one()
    )


def purge_relayed(now: datetime | None = None) -> int:
    """Delete rows relayed longer than :data:`KEEP_RELAYED` ago."""
    cutoff = (now or utcnow()) - KEEP_RELAYED

    def work() -> int:
        result = db.session.execute(
            delete(OutboxJob)
            .where(OutboxJob.relayed_at.is_not(None), OutboxJob.relayed_at < cutoff)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    return run_atomic(work)


class RelayThread(threading.Thread):
    """Relays the outbox every ``interval`` seconds in a worker process."""

    def __init__(self, app: Flask, *, interval: float = 2.0) -> None:
        super().__init__(name="timebank-outbox-relay", daemon=True)
        self.app = app
        self.interval = interval
        self.stopping = threading.Event()
        self._failing = False

    def run(self) -> None:
        while not self.stopping.wait(self.interval):
            self.relay_once()

    def relay_once(self) -> int:
        with self.app.app_context():
            try:
                relayed = relay_outbox()
            except Exception as error:
                if not self._failing:
                    log.warning("outbox relay failed (%s); retrying", type(error).__name__)
                self._failing = True
                with contextlib.suppress(Exception):
                    db.session.rollback()
                return 0
            finally:
                db.session.remove()
        if self._failing or relayed:
            log.info("outbox relay: %d job(s) handed to RQ", relayed)
        self._failing = False
        return relayed

    def stop(self) -> None:
        self.stopping.set()


# --- running jobs ----------------------------------------------------------------


def job(fn: Callable[P, T]) -> Callable[P, T]:
    """Give a job function an app context of its own when a worker runs it.

    Inline (called from a request or the CLI) it shares the caller's context.
    In a worker each job gets a fresh app context, so a fresh database session.
    """

    path = f"{fn.__module__}.{fn.__qualname__}"

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        if has_app_context() and not _in_worker:
            with metrics.observe_job(path), links.stored_job_scope():
                return fn(*args, **kwargs)
        from rq import get_current_job

        running = get_current_job()
        request_id = (running.meta or {}).get("request_id") if running is not None else None
        with (
            request_id_scope(request_id),
            worker_app().app_context(),
            links.stored_job_scope(),
            metrics.observe_job(path),
        ):
            return fn(*args, **kwargs)

    return wrapper


def use_worker_app(app: Flask) -> None:
    """Called by ``timebank worker``: jobs run with this app, each in its own context."""
    global _worker_app, _in_worker
    _worker_app = app
    _in_worker = True


def worker_app() -> Flask:
    """The app the worker handed in (:func:`use_worker_app`)."""
    if _worker_app is None:
        raise RuntimeError("no app handed in: run jobs with `timebank worker`")
    return _worker_app
