"""The enqueue helper without Redis: jobs run inline, and only after their transaction commits."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from tests.factories import World, make_operator, problem
from timebank.platform.db import run_atomic
from timebank.platform.jobs import enqueue

MARKER = "tests.worker.sample_jobs.write_marker"


def test_inline_job_runs_at_once_outside_a_unit_of_work(app: Flask, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    with app.app_context():
        assert enqueue("default", MARKER, str(marker), "ran") == "ran"
    assert marker.read_text() == "ran timebank"


def test_inline_job_waits_for_the_commit(app: Flask, tmp_path: Path) -> None:
    marker = tmp_path / "marker"

    def work() -> None:
        assert enqueue("default", MARKER, str(marker), "after commit") is None
        assert not marker.exists(), "ran before the commit"

    with app.app_context():
        run_atomic(work)
    assert marker.read_text() == "after commit timebank"


def test_job_of_a_rolled_back_unit_of_work_never_runs(app: Flask, tmp_path: Path) -> None:
    marker = tmp_path / "marker"

    def work() -> None:
        enqueue("default", MARKER, str(marker), "never")
        raise LookupError("roll back")

    with app.app_context(), pytest.raises(LookupError):
        run_atomic(work)
    assert not marker.exists()


def test_unknown_queue_is_refused(app: Flask) -> None:
    with app.app_context(), pytest.raises(ValueError):
        enqueue("nope", MARKER, "x", "y")


def test_failed_jobs_without_redis_is_an_empty_list(app: Flask, world: World) -> None:
    operator = make_operator(app)
    api = world.api(operator)
    response = api.get("/api/v1/platform/jobs/failed")
    assert response.status_code == 200
    assert response.get_json() == {"items": [], "next_cursor": None}
    assert problem(api.post("/api/v1/platform/jobs/failed/abc/retry"))["status"] == 404
    check = api.get("/api/v1/platform/jobs/ledger-check").get_json()
    assert check["ok"] is None


def test_failed_jobs_are_for_operators_only(world: World) -> None:
    for person in (world.a.coordinator, world.a.members[0]):
        api = world.api(person)
        assert problem(api.get("/api/v1/platform/jobs/failed"))["code"] == "operator_only"
        assert problem(api.post("/api/v1/platform/jobs/failed/x/retry"))["status"] == 403
    assert problem(world.api().get("/api/v1/platform/jobs/failed"))["status"] == 401


def test_worker_command_needs_redis(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["worker", "--burst"])
    assert result.exit_code == 2
    assert "needs REDIS_URL" in result.output
    result = app.test_cli_runner().invoke(args=["worker", "--queues", "default,nope"])
    assert result.exit_code == 2
