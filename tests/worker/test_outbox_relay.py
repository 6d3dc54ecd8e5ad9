"""The worker and the scheduler relay the outbox: jobs written while Redis was away go out."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flask import Flask
from sqlalchemy import select

from tests.factories import World
from tests.platform.redis_server import free_port
from tests.platform.test_jobs import DELIVER, mails_in, pending_claim
from tests.tenants.earning.conftest import counts, url
from tests.worker.conftest import WorkerProcess, needs_redis
from timebank.platform.db import db
from timebank.platform.jobs import OutboxJob, get_queue, pending_count
from timebank.worker.scheduler import Scheduler


def approve_while_redis_is_away(app: Flask, world: World, redis_url: str) -> None:
    claim_id = pending_claim(world)
    app.config["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"  # nobody listens there
    try:
        approved = world.api(world.b.coordinator).post(url(world.b, f"claims/{claim_id}/approve"))
        assert approved.status_code == 200, approved.data
    finally:
        app.config["REDIS_URL"] = redis_url
    with app.app_context():
        assert pending_count() == 1


@needs_redis
def test_the_worker_relays_what_waited_and_delivers_it_once(
    app: Flask,
    world: World,
    redis_url: str,
    outbox: Path,
    start_worker: Callable[..., WorkerProcess],
) -> None:
    other_before = counts(app, world.a.id)
    approve_while_redis_is_away(app, world, redis_url)
    before = len(mails_in(outbox))
    worker = start_worker("--burst")
    assert worker.wait(120) == 0, worker.output()
    mails = mails_in(outbox)[before:]
    assert [m["To"] for m in mails] == [world.b.members[0].email], worker.output()
    with app.app_context():
        assert pending_count() == 0
        row = db.session.execute(select(OutboxJob).where(OutboxJob.path == DELIVER)).scalar_one()
        assert row.relayed_at is not None
    again = start_worker("--burst")
    assert again.wait(120) == 0, again.output()
    assert len(mails_in(outbox)) == before + 1
    assert counts(app, world.a.id) == other_before


@needs_redis
def test_a_scheduler_tick_relays_the_outbox(app: Flask, world: World, redis_url: str) -> None:
    approve_while_redis_is_away(app, world, redis_url)
    with app.app_context():
        row_id = db.session.execute(select(OutboxJob.id)).scalar_one()
        db.session.rollback()
        Scheduler(interval=60).tick()
        assert pending_count() == 0
        relayed = [job for job in get_queue("mail").job_ids if job.startswith("outbox-")]
        assert relayed == [f"outbox-{row_id}"]
        Scheduler(interval=60).tick()
        relayed = [job for job in get_queue("mail").job_ids if job.startswith("outbox-")]
        assert relayed == [f"outbox-{row_id}"]
