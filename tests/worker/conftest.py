"""Worker fixtures: a Redis database of our own and real ``timebank worker`` processes.

Tests that take the ``redis_url`` fixture get an app whose jobs go to RQ on
a dedicated Redis database (``/12``–``/15``, one per xdist worker), flushed
before and after; the others run jobs inline. Redis-dependent tests are
skipped when no Redis answers (CI always has one).
"""

from __future__ import annotations

import contextlib
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


LOCK_KEY = "timebank-test:owner"
_chosen: dict[str, str] = {}


def _server() -> tuple[str, int]:
    from redis.connection import parse_url

    base = parse_url(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    return base.get("host", "127.0.0.1"), int(base.get("port", 6379))


def redis_reachable() -> bool:
    from redis import Redis
    from redis.exceptions import RedisError

    host, port = _server()
    try:
        return bool(Redis(host=host, port=port, socket_connect_timeout=0.5).ping())
    except RedisError:
        return False


def redis_test_url() -> str:
    """A Redis database (of /4–/15) that this test process owns alone.

    RQ's keys have a fixed prefix, so test runs in parallel (xdist workers, or
    two people's runs on one machine) each take a database of their own,
    claimed with a lock key inside it.
    """
    if "url" in _chosen:
        return _chosen["url"]
    from redis import Redis

    host, port = _server()
    owner = f"{os.getpid()}-{time.time_ns()}"
    for number in range(15, 3, -1):
        connection = Redis(host=host, port=port, db=number)
        if connection.set(LOCK_KEY, owner, nx=True, ex=3600):
            _chosen.update(url=f"redis://{host}:{port}/{number}", owner=owner)
            return _chosen["url"]
    raise RuntimeError("no free Redis database for the tests (/4–/15 all claimed)")


needs_redis = pytest.mark.skipif(not redis_reachable(), reason="needs a Redis server (REDIS_URL)")


@pytest.fixture(scope="session")
def _redis_claim() -> Iterator[str]:
    from redis import Redis

    url = redis_test_url()
    yield url
    connection = Redis.from_url(url)
    connection.flushdb()
    connection.close()
    _chosen.clear()


@pytest.fixture
def redis_url(_redis_claim: str) -> Iterator[str]:
    from redis import Redis

    connection = Redis.from_url(_redis_claim)

    def fresh() -> None:
        connection.flushdb()
        connection.set(LOCK_KEY, _chosen["owner"], ex=3600)

    fresh()
    yield _redis_claim
    fresh()
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
                "TIMEBANK_INSTANCE": str(tmp_path / "instance"),
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
        """SIGKILL the worker and every process under it: the work horse dies mid-job.

        RQ's work horse starts a session of its own, so killing the worker's
        process group would leave it running; its children are found in /proc.
        """
        if self.process.poll() is None:
            doomed = [self.process.pid, *descendants(self.process.pid)]
            for pid in doomed:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (Linux: read from /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: list[int] = []
    queue = [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


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
