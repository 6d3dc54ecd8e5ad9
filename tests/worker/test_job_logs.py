"""A job's log lines carry the id of the request that caused it, in a real worker process."""

from __future__ import annotations

import json
from collections.abc import Callable

from flask import Flask

from tests.factories import World
from tests.worker.conftest import WorkerProcess, needs_redis
from timebank.platform.jobs import get_queue

pytestmark = needs_redis


def test_the_worker_logs_each_job_under_the_request_id_that_caused_it(
    app: Flask, world: World, redis_url: str, start_worker: Callable[..., WorkerProcess]
) -> None:
    ann = world.a.members[0]
    client = app.test_client()
    # Enqueued at once (outside a unit of work) ...
    forgot = client.post(
        "/api/v1/password/forgot",
        json={"email": ann.email},
        headers={"X-Request-Id": "req-forgot-1"},
    )
    assert forgot.status_code == 202
    assert forgot.headers["X-Request-Id"] == "req-forgot-1"
    # ... and through the outbox, written with the invitation and relayed after the commit.
    invited = client.post(
        f"/api/v1/schemes/{world.a.slug}/invitations",
        json={"email": "newcomer@example.test", "role": "member"},
        headers={**world.a.coordinator.headers, "X-Request-Id": "req-invite-2"},
    )
    assert invited.status_code == 201, invited.data
    with app.app_context():
        jobs = {job.meta["request_id"]: job for job in get_queue("mail").jobs}
    assert set(jobs) == {"req-forgot-1", "req-invite-2"}
    assert jobs["req-invite-2"].id.startswith("outbox-")
    assert not jobs["req-forgot-1"].id.startswith("outbox-")

    worker = start_worker("--burst", "--queues", "mail", env={"LOG_FORMAT": "json"})
    assert worker.wait() == 0, worker.output()
    output = worker.output()
    records = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    for request_id, job in jobs.items():
        ours = [r for r in records if r.get("request_id") == request_id]
        messages = " | ".join(r["message"] for r in ours)
        module, function = job.func_name.rsplit(".", 2)[-2:]
        assert {r.get("job") for r in ours if r.get("job")} == {f"{module}.{function}"}, messages
        assert any(r["logger"] == "timebank.jobs" and "started" in r["message"] for r in ours)
        assert any(r["logger"] == "timebank.jobs" and "finished" in r["message"] for r in ours)
    # Neither the addresses nor the links are in any log line.
    for secret in (ann.email, "newcomer@example.test", "/password/reset/", "/invitations/"):
        assert secret not in output
