"""Worker fixtures: a Redis database of our own and real ``timebank worker`` processes.

Tests that take the ``redis_url`` fixture get an app whose jobs go to RQ on
a dedicated Redis database (``/12``–``/15``, one per xdist worker), flushed
before and after; the others run jobs inline. Redis-dependent tests are
skipped when no Redis answers (CI always has one).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.conftest import Database, test_config

REPO = Path(__file__).resolve().parents[2]


def redis_test_url() -> str:
    from redis.connection import parse_url

    base = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    number = int(worker[2:]) if worker[2:].isdigit() else 0
    host = parse_url(base).get("host", "127.0.0.1")
    port = parse_url(base).get("port", 6379)
    return f"redis://{host}:{port}/{12 + number % 4}"


def redis_reachable() -> bool:
    from redis import Redis
    from redis.exceptions import RedisError

    try:
        return bool(Redis.from_url(redis_test_url(), socket_connect_timeout=0.5).ping())
    except RedisError:
        return False


needs_redis = pytest.mark.skipif(not redis_reachable(), reason="needs a Redis server (REDIS_URL)")


@pytest.fixture
def redis_url() -> Iterator[str]:
    from redis import Redis

    url = redis_test_url()
    connection = Redis.from_url(url)
    connection.flushdb()
    yield url
    connection.flushdb()
    connection.close()


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    """Extra config for the ``app`` of one test (override in a test module or parametrise)."""
    return {}


@pytest.fixture
def app(
    database: Database,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    app_overrides: dict[str, Any],
) -> Iterator[Flask]:
    from timebank.platform.app import create_app
    from timebank.platform.db import db

    overrides = dict(app_overrides)
    if "redis_url" in request.fixturenames:
        overrides["REDIS_URL"] = request.getfixturevalue("redis_url")
    app = create_app(test_config(database, tmp_path, **overrides))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    database.reset()


def timebank_command() -> list[str]:
    script = Path(sys.executable).parent / "timebank"
    return [str(script)] if script.exists() else [sys.executable, "-m", "timebank.platform.cli"]


class WorkerProcess:
    """A real ``timebank worker`` in its own process group (so a kill takes its horses too)."""

    def __init__(self, app: Flask, tmp_path: Path, *args: str, env: dict[str, str] | None = None):
        self.log = tmp_path / f"worker-{time.time_ns()}.log"
        environment = {
            key: value
            for key, value in os.environ.items()
            if key not in {"SMTP_URL", "DATABASE_URL", "REDIS_URL"}
        }
        environment.update(
            {
                "DATABASE_URL": app.config["DATABASE_URL"],
                "SECRET_KEY": app.config["SECRET_KEY"],
                "OUTBOX_DIR": app.config["OUTBOX_DIR"],
                "REDIS_URL": app.config["REDIS_URL"],
                "TIMEBANK_INSTANCE": app.instance_path,
                "PYTHONPATH": os.pathsep.join(
                    filter(None, [str(REPO), os.environ.get("PYTHONPATH")])
                ),
                "RATELIMIT_ENABLED": "false",
            }
        )
        if app.config.get("SMTP_URL"):
            environment["SMTP_URL"] = app.config["SMTP_URL"]
        environment.update(env or {})
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [*timebank_command(), "worker", *args],
                env=environment,
                cwd=str(tmp_path),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait(self, timeout: float = 60) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"worker did not finish in {timeout}s:\n{self.output()}") from None

    def kill(self) -> None:
        """SIGKILL the whole group: the worker and the work horse die mid-job."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def start_worker(app: Flask, tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start(*args: str, env: dict[str, str] | None = None) -> WorkerProcess:
        worker = WorkerProcess(app, tmp_path, *args, env=env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def wait_for(condition: Callable[[], Any], *, timeout: float = 30, every: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(every)
