"""A real ``timebank worker`` process on a real Redis: jobs run, fail, retry, and wait for commits."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.factories import World, make_operator, problem
from tests.worker.conftest import WorkerProcess, needs_redis, wait_for
from timebank.platform.db import run_atomic
from timebank.platform.jobs import enqueue, get_queue

pytestmark = needs_redis

MARKER = "tests.worker.sample_jobs.write_marker"
FAILS = "tests.worker.sample_jobs.always_fails"


def test_enqueued_job_runs_in_the_worker(
    app: Flask, redis_url: str, tmp_path: Path, start_worker: Callable[..., WorkerProcess]
) -> None:
    marker = tmp_path / "marker"
    with app.app_context():
        job = enqueue("reports", MARKER, str(marker), "from the worker")
        assert job is not None and get_queue("reports").count == 1
    assert not marker.exists()
    worker = start_worker("--burst", "--queues", "reports")
    assert worker.wait() == 0, worker.output()
    assert marker.read_text() == "from the worker timebank"
    with app.app_context():
        assert get_queue("reports").count == 0
        assert job.get_status(refresh=True) == "finished"


def test_job_enqueued_in_a_rolled_back_transaction_never_runs(
    app: Flask, redis_url: str, tmp_path: Path, start_worker: Callable[..., WorkerProcess]
) -> None:
    kept, dropped = tmp_path / "kept", tmp_path / "dropped"

    def rolled_back() -> None:
        enqueue("default", MARKER, str(dropped), "never")
        raise LookupError("roll back")

    def committed() -> None:
        enqueue("default", MARKER, str(kept), "kept")
        assert get_queue("default").count == 0, "enqueued before the commit"

    with app.app_context():
        with pytest.raises(LookupError):
            run_atomic(rolled_back)
        assert get_queue("default").count == 0
        run_atomic(committed)
        assert get_queue("default").count == 1
    worker = start_worker("--burst", "--queues", "default")
    assert worker.wait() == 0, worker.output()
    assert kept.read_text() == "kept timebank"
    assert not dropped.exists()


@pytest.mark.slow
@pytest.mark.parametrize("app_overrides", [{"JOB_RETRY_BACKOFF": "1"}])
def test_failing_job_retries_then_lands_in_the_failed_registry(
    app: Flask,
    world: World,
    redis_url: str,
    tmp_path: Path,
    start_worker: Callable[..., WorkerProcess],
    app_overrides: dict[str, Any],
) -> None:
    attempts = tmp_path / "attempts"
    with app.app_context():
        job = enqueue("billing", FAILS, str(attempts), retries=2)
    worker = start_worker("--queues", "billing")

    def count() -> int:
        return len(attempts.read_text().splitlines()) if attempts.exists() else 0

    with app.app_context():
        registry = get_queue("billing").failed_job_registry
        wait_for(lambda: job.id in registry, timeout=30)
    assert count() == 3, worker.output()  # the first run and two retries

    operator = make_operator(app)
    api = world.api(operator)
    listed = api.get("/api/v1/platform/jobs/failed").get_json()
    assert [item["id"] for item in listed["items"]] == [job.id]
    item = listed["items"][0]
    assert item["func"] == FAILS
    assert item["queue"] == "billing"
    assert item["exc_info"] == "RuntimeError: boom: the sample job always fails"
    assert item["failed_at"]
    assert (
        problem(world.api(world.a.coordinator).get("/api/v1/platform/jobs/failed"))["status"] == 403
    )

    retried = api.post(f"/api/v1/platform/jobs/failed/{job.id}/retry")
    assert retried.status_code == 200
    assert retried.get_json()["status"] == "queued"
    wait_for(lambda: count() == 4, timeout=20)
    with app.app_context():
        wait_for(lambda: job.id in registry, timeout=20)
    assert problem(api.post("/api/v1/platform/jobs/failed/no-such-job/retry"))["status"] == 404


def test_failed_list_is_paginated(app: Flask, world: World, redis_url: str) -> None:
    from rq.job import Job

    with app.app_context():
        queue = get_queue("default")
        for number in range(3):
            job = queue.enqueue(FAILS, f"/nonexistent/{number}")
            job = Job.fetch(job.id, connection=queue.connection)
            queue.failed_job_registry.add(job, exc_string=f"Traceback\nValueError: {number}")
    api = world.api(make_operator(app))
    first = api.get("/api/v1/platform/jobs/failed?limit=2").get_json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = api.get(
        f"/api/v1/platform/jobs/failed?limit=2&cursor={first['next_cursor']}"
    ).get_json()
    assert len(second["items"]) == 1 and second["next_cursor"] is None
    ids = {item["id"] for item in first["items"] + second["items"]}
    assert len(ids) == 3
    assert problem(api.get("/api/v1/platform/jobs/failed?limit=0"))["status"] == 422
