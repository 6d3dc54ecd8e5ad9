"""The deployment's gunicorn settings: a killed master can be replaced at once.

Runs the real gunicorn with ``deploy/gunicorn.conf.py`` on the embedded
default (SQLite), SIGKILLs its master and starts a new one on the same port
while the orphaned workers still hold the old socket (``reuse_port``). Only
processes this test started are signalled, by pid.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import runpy
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.platform.redis_server import free_port
from tests.worker.conftest import descendants

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "deploy" / "gunicorn.conf.py"


def test_settings_are_known_to_the_installed_gunicorn(monkeypatch: pytest.MonkeyPatch) -> None:
    from gunicorn.config import KNOWN_SETTINGS

    known = {setting.name for setting in KNOWN_SETTINGS}
    monkeypatch.setenv("TIMEBANK_INSTANCE", "/srv/timebank-instance")
    monkeypatch.delenv("GUNICORN_CONTROL_SOCKET", raising=False)
    settings = runpy.run_path(str(CONFIG))
    assert {"reuse_port", "control_socket", "control_socket_mode"} <= known
    assert settings["reuse_port"] is True
    assert settings["control_socket"] == "/srv/timebank-instance/gunicorn.ctl"
    assert settings["control_socket_mode"] == 0o600
    default = next(s for s in KNOWN_SETTINGS if s.name == "control_socket").default
    assert settings["control_socket"] != default


def _answers(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except OSError:
        return False


@pytest.fixture
def gunicorn_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        TIMEBANK_INSTANCE=str(tmp_path / "instance"),
        SECRET_KEY="deploy-test",
        PYTHONPATH=str(ROOT),
    )
    return env


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        for pid in [process.pid, *descendants(process.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            process.wait(10)


def test_a_killed_master_is_replaced_on_the_same_port(
    tmp_path: Path, gunicorn_env: dict[str, str], started: list[subprocess.Popen[bytes]]
) -> None:
    port = free_port()
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "--config", str(CONFIG), "--bind", f"127.0.0.1:{port}", "--workers", "1",
        "--graceful-timeout", "2", "--timeout", "5",
        "timebank.platform.app:create_app()",
    ]  # fmt: skip

    def start() -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            command, env=gunicorn_env, cwd=str(ROOT), start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=(tmp_path / "gunicorn.log").open("ab"),
        )  # fmt: skip
        started.append(process)
        return process

    first = start()
    deadline = time.monotonic() + 60
    while not _answers(port):
        assert first.poll() is None and time.monotonic() < deadline, (
            tmp_path / "gunicorn.log"
        ).read_text()
        time.sleep(0.2)
    control = tmp_path / "instance" / "gunicorn.ctl"
    assert control.exists()  # the deployment's own control socket
    orphans = descendants(first.pid)
    assert orphans

    os.kill(first.pid, signal.SIGKILL)
    first.wait(10)
    second = start()  # at once, while the orphaned worker still holds its socket
    deadline = time.monotonic() + 60
    while True:
        assert second.poll() is None, (tmp_path / "gunicorn.log").read_text()
        if descendants(second.pid) and _answers(port):
            break
        assert time.monotonic() < deadline, (tmp_path / "gunicorn.log").read_text()
        time.sleep(0.2)
    log = (tmp_path / "gunicorn.log").read_text()
    assert "Address already in use" not in log
    # The orphans notice their master is gone and leave by themselves.
    deadline = time.monotonic() + 30
    while any(Path(f"/proc/{pid}").exists() and _running(pid) for pid in orphans):
        assert time.monotonic() < deadline, "orphaned gunicorn workers did not exit"
        time.sleep(0.2)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
