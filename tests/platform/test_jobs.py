"""The job outbox: an action's jobs are written in its own transaction and relayed to RQ.

With Redis down a claim approval still answers 200; its mail waits in the
outbox (``job_outbox``), and once Redis is back the relay hands it to RQ
exactly once, however often it runs. A refused action leaves no job behind.
``/readyz`` reports Redis down as degraded with 200. Runs on SQLite and on
PostgreSQL; Redis is a server of the test's own (see ``redis_server.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import func, select, update

from tests.conftest import Database
from tests.conftest import test_config as app_config
from tests.factories import PASSWORD, World, problem
from tests.platform.redis_server import OwnRedis, free_port, needs_redis_server
from tests.tenants.earning.conftest import activity_ids, balance, claim, counts, url
from timebank.platform.db import db, run_atomic
from timebank.platform.jobs import OutboxJob, get_queue, pending_count, relay_outbox

pytestmark = needs_redis_server
DELIVER = "timebank.worker.mail.deliver_message"


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def app(database: Database, tmp_path: Path, own_redis: OwnRedis) -> Iterator[Flask]:
    from timebank.platform.app import create_app

    app = create_app(
        app_config(database, tmp_path, REDIS_URL=own_redis.url, RATELIMIT_STORAGE_URI=own_redis.url)
    )
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    database.reset()


def outbox_rows(app: Flask) -> list[dict[str, Any]]:
    with app.app_context():
        rows = db.session.execute(select(OutboxJob).order_by(OutboxJob.id)).scalars().all()
        result = [
            {
                "id": row.id,
                "path": row.path,
                "relayed": row.relayed_at is not None,
                "attempts": row.relay_attempts,
            }
            for row in rows
        ]
        db.session.rollback()
        return result


def mails_in(folder: Path) -> list[Any]:
    if not folder.exists():
        return []
    return [
        message_from_bytes(path.read_bytes(), policy=policy.default)
        for path in sorted(folder.glob("*.eml"))
    ]


def run_queued_jobs(app: Flask) -> None:
    """Work the queues in this process (the job shares the test's app context)."""
    from rq import SimpleWorker

    from timebank.platform.jobs import QUEUES, redis_connection

    with app.app_context():
        connection = redis_connection()
        queues = [get_queue(name, connection) for name in QUEUES]
        SimpleWorker(queues, connection=connection).work(burst=True)


def pending_claim(world: World) -> int:
    surgery = activity_ids(world, world.b)  # the surgery's policy: a coordinator approves
    response = claim(world, world.b.members[0], world.b, surgery["Home visit"], 60)
    assert response.status_code == 201, response.data
    assert response.get_json()["status"] == "pending"
    return int(response.get_json()["id"])


def test_with_redis_down_an_approval_answers_200_and_its_mail_goes_out_once_later(
    app: Flask, world: World, own_redis: OwnRedis, outbox: Path
) -> None:
    claim_id = pending_claim(world)
    run_queued_jobs(app)  # what the set-up queued (nothing here, but start clean)
    mails_before = len(mails_in(outbox))
    rows_before = len(outbox_rows(app))
    other_before = counts(app, world.a.id)

    own_redis.stop()
    approved = world.api(world.b.coordinator).post(url(world.b, f"claims/{claim_id}/approve"))
    assert approved.status_code == 200, approved.data
    assert approved.get_json()["status"] == "approved"
    assert balance(world, world.b, world.b.members[0]) == 60
    rows = outbox_rows(app)[rows_before:]
    assert [(row["path"], row["relayed"]) for row in rows] == [(DELIVER, False)]
    assert len(mails_in(outbox)) == mails_before  # not sent: it waits
    with app.app_context():
        assert pending_count() == 1
        with pytest.raises(RedisConnectionError):
            relay_outbox()  # Redis still down: the row stays
    assert outbox_rows(app)[-1]["relayed"] is False

    own_redis.start()  # back, empty (no persistence)
    with app.app_context():
        assert relay_outbox() == 1
        assert relay_outbox() == 0  # relaying twice sends nothing twice
        assert get_queue("mail").count == 1
        assert get_queue("mail").job_ids == [f"outbox-{rows[0]['id']}"]
        # A relay whose commit was lost leaves the row unmarked: the next one
        # finds the job already in Redis and only marks it.
        run_atomic(
            lambda: db.session.execute(
                update(OutboxJob).where(OutboxJob.id == rows[0]["id"]).values(relayed_at=None)
            )
        )
        assert relay_outbox() == 1
        assert get_queue("mail").count == 1
        assert pending_count() == 0
    run_queued_jobs(app)
    mails = mails_in(outbox)[mails_before:]
    assert [(m["To"], m["Subject"]) for m in mails] == [
        (world.b.members[0].email, "Your hours for Home visit were approved")
    ]
    with app.app_context():
        assert relay_outbox() == 0
    run_queued_jobs(app)
    assert len(mails_in(outbox)) == mails_before + 1
    assert counts(app, world.a.id) == other_before  # the other scheme saw nothing


def test_with_redis_up_the_mail_is_relayed_right_after_the_commit(
    app: Flask, world: World, outbox: Path
) -> None:
    claim_id = pending_claim(world)
    approved = world.api(world.b.coordinator).post(url(world.b, f"claims/{claim_id}/approve"))
    assert approved.status_code == 200, approved.data
    row = outbox_rows(app)[-1]
    assert row["path"] == DELIVER and row["relayed"] and row["attempts"] == 1
    with app.app_context():
        assert get_queue("mail").job_ids == [f"outbox-{row['id']}"]
        assert relay_outbox() == 0
    run_queued_jobs(app)
    assert [m["To"] for m in mails_in(outbox)] == [world.b.members[0].email]


def test_a_refused_action_leaves_no_job(app: Flask, world: World, own_redis: OwnRedis) -> None:
    claim_id = pending_claim(world)
    rows_before = outbox_rows(app)
    coordinator = world.api(world.b.coordinator)
    own = world.api(world.b.members[1]).post(url(world.b, f"claims/{claim_id}/approve"))
    assert own.status_code == 403 and problem(own)["code"] == "coordinator_only"
    other = world.api(world.a.coordinator).post(url(world.b, f"claims/{claim_id}/approve"))
    assert other.status_code in (403, 404)
    assert outbox_rows(app) == rows_before
    assert coordinator.post(url(world.b, f"claims/{claim_id}/approve")).status_code == 200
    assert len(outbox_rows(app)) == len(rows_before) + 1


def test_readiness_with_redis_down_is_degraded_not_unready(
    app: Flask, world: World, own_redis: OwnRedis
) -> None:
    client = app.test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json() == {
        "status": "ok",
        "checks": {"database": "ok", "redis": "ok", "jobs_waiting": 0},
    }
    own_redis.stop()
    claim_id = pending_claim(world)
    approved = world.api(world.b.coordinator).post(url(world.b, f"claims/{claim_id}/approve"))
    assert approved.status_code == 200, approved.data
    degraded = client.get("/readyz")
    assert degraded.status_code == 200
    body = degraded.get_json()
    assert body["status"] == "degraded"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("error")
    assert body["checks"]["jobs_waiting"] == 1
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_a_closed_redis_port_also_answers_200(database: Database, tmp_path: Path) -> None:
    from tests.factories import build_world
    from timebank.platform.app import create_app

    app = create_app(app_config(database, tmp_path, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"))
    try:
        world = build_world(app)
        claim_id = pending_claim(world)
        approved = world.api(world.b.coordinator).post(url(world.b, f"claims/{claim_id}/approve"))
        assert approved.status_code == 200, approved.data
        with app.app_context():
            waiting = db.session.execute(
                select(OutboxJob.path).where(OutboxJob.relayed_at.is_(None))
            ).scalars()
            assert DELIVER in list(waiting)
            assert db.session.execute(select(func.count()).select_from(OutboxJob)).scalar_one()
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        database.reset()


def test_sign_in_with_redis_down_still_works_and_is_still_limited(
    app: Flask, world: World, own_redis: OwnRedis
) -> None:
    client = app.test_client()
    member = world.a.members[0]
    own_redis.stop()
    signed_in = client.post("/api/v1/tokens", json={"email": member.email, "password": PASSWORD})
    assert signed_in.status_code == 201, signed_in.data
    assert signed_in.get_json()["token"]
    # The limits fall back to this process's memory meanwhile.
    for _ in range(10):
        wrong = client.post("/api/v1/tokens", json={"email": member.email, "password": "nope"})
        assert wrong.status_code == 401
    limited = client.post("/api/v1/tokens", json={"email": member.email, "password": PASSWORD})
    assert limited.status_code == 429 and problem(limited)["code"] == "rate_limited"
