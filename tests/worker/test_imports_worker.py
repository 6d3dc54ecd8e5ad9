"""Member imports on a real worker: the same results as inline, and a kill mid-import is harmless."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from tests.factories import World
from tests.worker.conftest import WorkerProcess, needs_redis, wait_for
from tests.worker.test_imports import (
    EXPECTED_INVITED,
    EXPECTED_SUMMARY,
    csv_of,
    invitations,
    summary,
    upload,
)
from timebank.platform import tenancy
from timebank.platform.db import db
from timebank.platform.jobs import get_queue
from timebank.tenants.memberships.models import Invitation, MemberImport

pytestmark = needs_redis


def recipients(outbox: Path) -> list[str]:
    return sorted(
        line.split(":", 1)[1].strip().lower()
        for message in outbox.glob("*.eml")
        for line in message.read_text().splitlines()
        if line.startswith("To:")
    )


def test_worker_import_gives_the_same_results_as_inline(
    app: Flask,
    world: World,
    redis_url: str,
    outbox: Path,
    start_worker: Callable[..., WorkerProcess],
) -> None:
    api = world.api(world.a.coordinator)
    started = upload(api, world.a.slug, csv_of(world)).get_json()
    assert started["status"] == "pending"
    path = f"/api/v1/schemes/{world.a.slug}/imports/{started['id']}"
    assert api.get(path).get_json()["done"] == 0
    with app.app_context():
        assert get_queue("default").count == 1
    assert invitations(app, world.a.id) == []

    worker = start_worker("--burst")
    assert worker.wait() == 0, worker.output()
    # Exactly what the inline run gives (tests/worker/test_imports.py).
    assert summary(api.get(path).get_json()) == EXPECTED_SUMMARY, worker.output()
    assert invitations(app, world.a.id) == EXPECTED_INVITED
    assert recipients(outbox) == [email for email, _ in EXPECTED_INVITED]
    assert invitations(app, world.b.id) == []


ROWS = 1500
BATCH = 5


@pytest.mark.slow
@pytest.mark.parametrize("app_overrides", [{"IMPORT_BATCH_SIZE": BATCH}])
def test_killing_the_worker_mid_import_then_restarting_duplicates_nobody(
    app: Flask,
    world: World,
    redis_url: str,
    start_worker: Callable[..., WorkerProcess],
    app_overrides: dict[str, Any],
) -> None:
    content = "name,email,role\n" + "".join(
        f"Person {n},person{n}@import.test,member\n" for n in range(ROWS)
    )
    api = world.api(world.a.coordinator)
    import_id = upload(api, world.a.slug, content).get_json()["id"]
    path = f"/api/v1/schemes/{world.a.slug}/imports/{import_id}"
    settings = {"TIMEBANK_IMPORT_BATCH_SIZE": str(BATCH), "TIMEBANK_IMPORT_LEASE_SECONDS": "2"}

    first = start_worker("--queues", "default", env=settings)
    wait_for(lambda: api.get(path).get_json()["done"] >= 20 * BATCH, timeout=60, every=0.02)
    first.kill()  # SIGKILL to the worker and its work horse, mid-batch
    interrupted = api.get(path).get_json()
    assert interrupted["status"] == "running", "the import finished before the kill"
    assert 0 < interrupted["done"] < ROWS
    assert interrupted["done"] % BATCH == 0  # only whole batches were committed
    assert len(invitations(app, world.a.id)) == interrupted["invited"]

    time.sleep(2.5)  # the dead job's lease lapses
    second = start_worker("--burst", "--queues", "default", env=settings)
    assert second.wait(120) == 0, second.output()
    assert "stalled: queueing it again" in second.output(), second.output()

    finished = api.get(path).get_json()
    assert finished["status"] == "done", finished
    assert (finished["total"], finished["done"], finished["invited"], finished["skipped"]) == (
        ROWS,
        ROWS,
        ROWS,
        0,
    )
    with app.app_context(), tenancy.scheme_context(world.a.id):
        emails = db.session.execute(select(func.lower(Invitation.email))).scalars().all()
        status = db.session.execute(select(MemberImport.status)).scalars().all()
    assert len(emails) == ROWS == len(set(emails))
    assert status == ["done"]
    with app.app_context():
        # One mail per committed invitation, less at most the batch whose
        # after-commit enqueueing the kill cut short.
        assert ROWS - BATCH <= get_queue("mail").count <= ROWS
    assert invitations(app, world.b.id) == []
