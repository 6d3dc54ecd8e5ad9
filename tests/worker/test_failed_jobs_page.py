"""The operators' failed-jobs page lists what the API lists, and retries a job."""

from __future__ import annotations

from flask import Flask

from tests.factories import PASSWORD, World, make_operator
from tests.worker.conftest import needs_redis
from timebank.platform.jobs import get_queue

FAILS = "tests.worker.sample_jobs.always_fails"

pytestmark = needs_redis


def test_a_failed_job_is_listed_and_retried(app: Flask, world: World, redis_url: str) -> None:
    from rq.job import Job

    with app.app_context():
        queue = get_queue("default")
        job = queue.enqueue(FAILS, "/nonexistent/1")
        job = Job.fetch(job.id, connection=queue.connection)
        queue.failed_job_registry.add(job, exc_string="Traceback\nValueError: boom")
    operator = make_operator(app)
    client = app.test_client()
    client.post("/login", data={"email": operator.email, "password": PASSWORD})
    page = client.get("/operator/jobs").get_data(as_text=True)
    assert FAILS in page and "Try again" in page and "default" in page
    retried = client.post(f"/operator/jobs/{job.id}/retry")
    assert retried.status_code == 302
    with app.app_context():
        assert job.id not in get_queue("default").failed_job_registry
    assert "No failed jobs." in client.get("/operator/jobs").get_data(as_text=True)
    # A coordinator is refused and nothing of theirs is listed.
    other = app.test_client()
    other.post("/login", data={"email": world.a.coordinator.email, "password": PASSWORD})
    assert other.get("/operator/jobs").status_code == 403
