"""``timebank worker``: RQ workers with the app, optionally with the periodic scheduler.

The standard RQ worker forks a work horse per job. Each horse gets fresh
database connections (the pool is disposed after fork, never shared with the
parent) and each job a fresh app context (:func:`timebank.platform.jobs.job`).
A relay thread hands the outbox (:mod:`timebank.platform.jobs`) to RQ every
few seconds. RQ's own scheduler always runs alongside (``with_scheduler=True``): it puts
retries with a back-off interval back on their queue. Our periodic work runs
in a separate spawned process when asked for (:mod:`timebank.worker.scheduler`).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Sequence
from typing import Any

from flask import Flask

from timebank.platform.app import create_app
from timebank.platform.db import db
from timebank.platform.jobs import QUEUES, RelayThread, redis_connection, use_worker_app, worker_app
from timebank.tenants.memberships.imports import resume_stalled_imports
from timebank.worker.scheduler import Scheduler

log = logging.getLogger(__name__)
_fork_hook_installed = False


def _fresh_connections_after_fork() -> None:

    with worker_app().app_context():
        db.engine.dispose(close=False)


def run_worker(
    app: Flask,
    queue_names: Sequence[str],
    *,
    with_scheduler: bool = False,
    burst: bool = False,
    scheduler_interval: int = 60,
) -> bool:
    """Work the queues until stopped (or, with ``burst``, until they are empty)."""
    global _fork_hook_installed
    from rq import Queue, Worker

    unknown = [name for name in queue_names if name not in QUEUES]
    if unknown:
        raise ValueError(f"unknown queue(s): {', '.join(unknown)}; known: {', '.join(QUEUES)}")
    if not app.config.get("REDIS_URL"):
        raise RuntimeError("timebank worker needs REDIS_URL (without it jobs run inline)")
    use_worker_app(app)
    if not _fork_hook_installed:
        os.register_at_fork(after_in_child=_fresh_connections_after_fork)
        _fork_hook_installed = True
    connection = redis_connection()
    queues = [Queue(name, connection=connection) for name in queue_names]

    resume_stalled_imports()
    # Jobs written to the outbox while Redis was down (or whose request died
    # between commit and relay) go out from here: once now, then every few seconds.
    relay = RelayThread(app, interval=float(app.config.get("OUTBOX_RELAY_INTERVAL", 2.0)))
    relay.relay_once()
    scheduler_process: Any = None
    if with_scheduler:
        if burst:
            Scheduler(interval=scheduler_interval).tick()
        else:
            context = multiprocessing.get_context("spawn")
            scheduler_process = context.Process(
                target=run_scheduler_process,
                args=(scheduler_interval, os.getpid()),
                name="timebank-scheduler",
                daemon=True,
            )
            scheduler_process.start()
    db.session.remove()
    db.engine.dispose()
    # RQ recovers jobs of a worker that died mid-job (its intermediate queue,
    # abandoned entries of the started registry) in its maintenance pass,
    # every 10 minutes by default: a minute keeps a mail's delay short.
    worker = Worker(
        queues,
        connection=connection,
        maintenance_interval=int(app.config.get("WORKER_MAINTENANCE_INTERVAL", 60)),
    )
    if not burst:
        relay.start()
    try:
        return bool(worker.work(burst=burst, with_scheduler=True))
    finally:
        relay.stop()
        if scheduler_process is not None:
            scheduler_process.terminate()
            scheduler_process.join(10)


def run_scheduler_process(interval: int, parent_pid: int) -> None:
    """Entry point of the scheduler's own process (spawned by ``timebank worker``)."""
    app: Flask = create_app()
    with app.app_context():
        Scheduler(interval=interval).run_forever(parent_pid=parent_pid)
