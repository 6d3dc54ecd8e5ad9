"""The periodic scheduler: what is due when (per scheme time zone), enqueued once, even by two."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask

from tests.factories import World, make_operator
from tests.worker.conftest import WorkerProcess, needs_redis
from timebank.platform.jobs import QUEUES, get_queue
from timebank.platform.schemes.services import set_scheme_status
from timebank.worker.scheduler import Scheduler, due_for_platform, due_for_scheme

# Monday 10 March 2025, 11:30 UTC: 11:30 in London, already Tuesday 00:30 in Auckland.
NOW = datetime(2025, 3, 10, 11, 30, tzinfo=UTC)


def markers(dues: list) -> set[str]:  # type: ignore[type-arg]
    return {due.marker for due in dues}


def test_due_work_follows_the_scheme_time_zone() -> None:
    assert markers(due_for_scheme(1, "Europe/London", NOW)) == {
        "expiry:1:2025-03-10",
        "expiry-notices:1:2025-03-10",
        "digest:1:2025-W11",
        "statements:1:2025-02",
        "listings-expiry:1:2025-03-10",
        "listings-notices:1:2025-03-10",
        "listings-digest:1:2025-W11",
        "sitting-reminders:1:2025-03-10",
        "report-summaries:1:2025-03-10",
    }
    auckland = due_for_scheme(2, "Pacific/Auckland", NOW)
    assert "expiry:2:2025-03-11" in markers(auckland)
    (expiry,) = [due for due in auckland if due.marker.startswith("expiry:")]
    assert expiry.path == "timebank.tenants.spending.jobs.expire_scheme_credits"
    assert expiry.args == (2, "2025-03-11")
    # Before 08:00 on a Monday the new week's digest is not due yet; before 06:00 on
    # the 1st, neither is last month's statement.
    early = datetime(2025, 3, 17, 6, 0, tzinfo=UTC)
    assert "digest:1:2025-W12" not in markers(due_for_scheme(1, "Europe/London", early))
    first = datetime(2025, 4, 1, 4, 0, tzinfo=UTC)  # 05:00 BST
    assert not any(
        m.startswith("statements") for m in markers(due_for_scheme(1, "Europe/London", first))
    )
    assert "statements:1:2025-03" in markers(
        due_for_scheme(1, "Europe/London", first + timedelta(hours=2))
    )
    # An unknown zone falls back to UTC rather than stopping the scheduler.
    assert "expiry:3:2025-03-10" in markers(due_for_scheme(3, "Mars/Olympus", NOW))
    assert markers(due_for_platform(NOW)) == {
        "purge-idempotency:2025-03-10T11",
        "purge-outbox:2025-03-10T11",
        "credit-digests:2025-03-10T11",
        "ledger-roots:2025-03-09",
        "sandboxes-unused:2025-03-10",
        "ledger-verify:2025-03-10",
    }
    assert "ledger-verify:2025-03-10" not in markers(due_for_platform(NOW.replace(hour=1)))


@needs_redis
def test_tick_enqueues_each_run_once_even_with_two_schedulers(
    app: Flask, world: World, redis_url: str
) -> None:
    api = world.api(world.a.coordinator)
    kiwi = api.post(
        "/api/v1/schemes",
        {
            "name": "Kiwi Bank",
            "slug": "kiwi-bank",
            "template": "community",
            "timezone": "Pacific/Auckland",
        },
    )
    assert kiwi.status_code == 201, kiwi.data
    with app.app_context():
        from timebank.tenants.access import find_scheme

        kiwi_scheme = find_scheme("kiwi-bank")
        assert kiwi_scheme is not None
        kiwi_id = kiwi_scheme.id
        first, second = Scheduler(interval=60), Scheduler(interval=60)
        enqueued = markers(first.tick(NOW))
        assert {
            f"expiry:{world.a.id}:2025-03-10",
            f"expiry:{world.b.id}:2025-03-10",
            f"expiry:{kiwi_id}:2025-03-11",
            f"digest:{world.a.id}:2025-W11",
            f"statements:{kiwi_id}:2025-02",
            "ledger-verify:2025-03-10",
            "purge-idempotency:2025-03-10T11",
            "purge-outbox:2025-03-10T11",
            "credit-digests:2025-03-10T11",
            "ledger-roots:2025-03-09",
        } <= enqueued
        assert len(enqueued) == 3 * 9 + 6
        jobs = [job for name in QUEUES for job in get_queue(name).get_jobs()]
        assert len(jobs) == len(enqueued)
        assert (
            "timebank.tenants.spending.jobs.expire_scheme_credits",
            (kiwi_id, "2025-03-11"),
        ) in {(job.func_name, job.args) for job in jobs}

        assert first.tick(NOW) == []  # already enqueued for this period
        assert not second.lead() and second.tick(NOW) == []  # not the leader
        first.resign()
        assert second.tick(NOW + timedelta(minutes=1)) == []  # leader now, nothing new due
        next_day = markers(second.tick(NOW + timedelta(days=1)))
        assert f"expiry:{world.a.id}:2025-03-11" in next_day
        assert f"digest:{world.a.id}:2025-W11" not in next_day

        # A suspended scheme gets no scheduled work.
        operator = make_operator(app)
        from timebank.platform.db import db
        from timebank.platform.identity.models import User

        operator_user = db.session.get(User, operator.user_id)
        assert operator_user is not None
        set_scheme_status(world.b.slug, "suspended", actor=operator_user)
        later = markers(second.tick(NOW + timedelta(days=2)))
        assert f"expiry:{world.a.id}:2025-03-12" in later
        assert not any(f":{world.b.id}:" in marker for marker in later)


@needs_redis
def test_worker_with_scheduler_runs_the_periodic_jobs(
    app: Flask,
    world: World,
    redis_url: str,
    tmp_path: Path,
    start_worker: Callable[..., WorkerProcess],
) -> None:
    worker = start_worker("--burst", "--with-scheduler")
    assert worker.wait(120) == 0, worker.output()
    output = worker.output()
    for path in (
        "timebank.tenants.spending.jobs.expire_scheme_credits",
        "timebank.tenants.spending.jobs.notify_expiring",
        "timebank.worker.maintenance.purge_idempotency_keys",
        "timebank.tenants.reports.jobs.monthly_statements",
        "timebank.tenants.marketplace.jobs.expire_listings",
        "timebank.tenants.marketplace.jobs.warn_expiring_listings",
    ):
        assert path in output, output
    with app.app_context():
        for name in QUEUES:
            assert get_queue(name).count == 0
            assert len(get_queue(name).failed_job_registry) == 0, output
    month = (datetime.now(UTC).replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    statements = tmp_path / "instance" / "statements"
    if datetime.now(UTC).day > 1 or datetime.now(UTC).hour >= 7:
        assert len(list((statements / str(world.a.id) / month).glob("*.html"))) == 3
    if datetime.now(UTC).hour >= 2:
        check = world.api(make_operator(app)).get("/api/v1/platform/jobs/ledger-check").get_json()
        assert check["ok"] is True and check["breaks"] == []


@needs_redis
@pytest.mark.slow
def test_long_running_worker_ticks_in_a_scheduler_process_that_stops_with_it(
    app: Flask, world: World, redis_url: str, start_worker: Callable[..., WorkerProcess]
) -> None:
    from tests.worker.conftest import descendants, wait_for
    from timebank.platform.jobs import redis_connection, redis_key

    worker = start_worker("--with-scheduler", "--scheduler-interval", "1")
    with app.app_context():
        redis = redis_connection()
        today = datetime.now(UTC).date().isoformat()
        marker = redis_key("scheduled", f"expiry:{world.a.id}:")
        wait_for(lambda: redis.keys(marker + "*"), timeout=60)
        wait_for(lambda: get_queue("default").count == 0 and today, timeout=60)
        assert redis.get(redis_key("scheduler:leader")) is not None
    assert "scheduler started" in worker.output()
    children = descendants(worker.process.pid)
    assert children, "no scheduler process"
    worker.stop()
    assert worker.process.returncode is not None
    wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in children), timeout=20)
