"""C2: the HTTP API under gunicorn, driven by wrk (or a Python generator), and its readers.

The server is started here with ``deploy/gunicorn.conf.py`` (sync workers)
and the workers the deployment recommends for this machine's cores.
Two overrides, both printed: ``max_requests`` is 0 so that no worker restarts in
the middle of a run (its peak memory is read at the end), and the access log
goes to a file instead of the terminal.
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.fixtures import BenchScheme, Person
from bench.stats import summarise

ROOT = Path(__file__).resolve().parent.parent
GUNICORN_CONFIG = ROOT / "deploy" / "gunicorn.conf.py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    workers: int
    threads: int
    worker_class: str
    database_url: str
    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def flags(self) -> list[str]:
        return [
            "--config",
            str(GUNICORN_CONFIG),
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.workers),
            "--threads",
            str(self.threads),
            "--worker-class",
            self.worker_class,
            "--max-requests",
            "0",
            "--access-logfile",
            str(self.folder / "access.log"),
            "--error-logfile",
            str(self.folder / "gunicorn.log"),
        ]

    def start(self) -> None:
        env = dict(os.environ)
        env.update(
            {
                "DATABASE_URL": self.database_url,
                "RATELIMIT_ENABLED": "false",
                "REDIS_URL": "",
                "SECRET_KEY": "bench-secret",
                "OUTBOX_DIR": str(self.folder / "outbox"),
                "TIMEBANK_INSTANCE": str(self.folder / "instance"),
                "PYTHONPATH": str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
            }
        )
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            *self.flags(),
            "timebank.platform.app:create_app()",
        ]
        self.process = subprocess.Popen(
            command,
            env=env,
            cwd=str(ROOT),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = (self.folder / "gunicorn.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"gunicorn exited ({self.process.returncode}):\n{log}")
            try:
                status, _ = request("GET", self.base + "/healthz")
                if status == 200 and len(self.worker_pids()) == self.workers:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not become ready within 60 s")

    def worker_pids(self) -> list[int]:
        if self.process is None:
            return []
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in path.read_text().split()]
        except OSError:
            return []

    def worker_memory(self) -> list[dict[str, Any]]:
        """Peak (VmHWM) and current (VmRSS) resident memory of each worker, in MB."""
        found = []
        for pid in self.worker_pids():
            values: dict[str, Any] = {"pid": pid}
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    name, _, rest = line.partition(":")
                    if name in ("VmHWM", "VmRSS"):
                        values[name] = round(int(rest.split()[0]) / 1024, 1)
            except OSError:
                continue
            found.append(values)
        return found

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def request(
    method: str,
    url: str,
    *,
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 60,
) -> tuple[int, bytes]:
    """One request on a fresh connection (set-up and checks, not measurements)."""
    rest = url.split("://", 1)[1]
    host, _, path = rest.partition("/")
    conn = http.client.HTTPConnection(host, timeout=timeout)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        all_headers = dict(headers or {})
        if payload is not None:
            all_headers["Content-Type"] = "application/json"
        conn.request(method, "/" + path, body=payload, headers=all_headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


class Client:
    """A keep-alive HTTP connection that reconnects when the server closes it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def send(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None = None
    ) -> tuple[int, bytes]:
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                return response.status, response.read()
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


def transfer_request(
    rng: random.Random, scheme: BenchScheme, tag: str, counter: Any
) -> tuple[str, dict[str, str], bytes]:
    payer, payee = rng.sample(scheme.members, 2)
    body = json.dumps({"to_member_id": payee.member_id, "amount": rng.randint(1, 5)}).encode()
    headers = {
        "Authorization": f"Bearer {payer.token}",
        "Content-Type": "application/json",
        "Idempotency-Key": f"{tag}-{next(counter)}",
    }
    return f"/api/v1/schemes/{scheme.slug}/transfers", headers, body


# --- load generators ------------------------------------------------------------

WRK_SCRIPT = """
-- Generated by bench/server.py: a transfer per request, a random payer and payee,
-- a unique Idempotency-Key (run tag, wrk thread, counter).
local tokens = {%(tokens)s}
local members = {%(members)s}
local path = "%(path)s"
local tag = "%(tag)s"
local threads = {}
local next_id = 1

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  server_errors = 0
  prefix = tag .. "-" .. tid .. "-"
  math.randomseed(tid * 7919 + os.time())
end

function request()
  counter = counter + 1
  local i = math.random(#tokens)
  local j = math.random(#tokens - 1)
  if j >= i then j = j + 1 end
  local body = '{"to_member_id": ' .. members[j] .. ', "amount": ' .. math.random(1, 5) .. '}'
  return wrk.format("POST", path, {
    ["Authorization"] = "Bearer " .. tokens[i],
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = prefix .. counter,
  }, body)
end

function response(status, headers, body)
  if status >= 500 then server_errors = server_errors + 1 end
end

function done(summary, latency, requests)
  local e = summary.errors
  local failed = 0
  for _, thread in ipairs(threads) do failed = failed + (thread:get("server_errors") or 0) end
  io.write(string.format(
    'WRK_JSON {"requests": %%d, "duration_us": %%d, "non_2xx": %%d, "socket_errors": %%d, ' ..
    '"server_errors": %%d, ' ..
    '"p50_us": %%d, "p95_us": %%d, "p99_us": %%d, "mean_us": %%f, "max_us": %%d}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    failed,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.mean, latency.max))
end
"""


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def wrk_closed_loop(
    server: Server, scheme: BenchScheme, connections: int, duration: float
) -> dict[str, Any]:
    """``wrk`` with ``connections`` keep-alive connections, each sending back to back."""
    people: list[Person] = scheme.members
    script = WRK_SCRIPT % {
        "tokens": ", ".join(f'"{p.token}"' for p in people),
        "members": ", ".join(str(p.member_id) for p in people),
        "path": f"/api/v1/schemes/{scheme.slug}/transfers",
        "tag": uuid.uuid4().hex[:12],
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        threads = max(1, min(connections, 2))
        seconds = max(1, round(duration))
        completed = subprocess.run(
            [
                "wrk",
                "-t",
                str(threads),
                "-c",
                str(connections),
                "-d",
                f"{seconds}s",
                "--timeout",
                "30s",
                "-s",
                handle.name,
                server.base + f"/api/v1/schemes/{scheme.slug}/transfers",
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
        )
    finally:
        os.unlink(handle.name)
    line = next(
        (text for text in completed.stdout.splitlines() if text.startswith("WRK_JSON ")), None
    )
    if line is None:
        raise RuntimeError(f"wrk printed no summary: {completed.stdout[-500:]}{completed.stderr}")
    raw = json.loads(line[len("WRK_JSON ") :])
    seconds_run = raw["duration_us"] / 1e6
    ok = raw["requests"] - raw["non_2xx"]
    return {
        "concurrency": connections,
        "ops": ok,
        "seconds": round(seconds_run, 2),
        "throughput": round(ok / seconds_run, 1),
        "p50_ms": raw["p50_us"] / 1000,
        "p95_ms": raw["p95_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "mean_ms": round(raw["mean_us"] / 1000, 3),
        "max_ms": raw["max_us"] / 1000,
        "refused": raw["non_2xx"] - raw["server_errors"],
        "failed": raw["socket_errors"] + raw["server_errors"],
        "errors": [],
        "generator": f"wrk -t{threads} -c{connections}",
    }


def python_closed_loop(
    server: Server, scheme: BenchScheme, connections: int, duration: float, warmup: float
) -> dict[str, Any]:
    """The same load from Python threads (one keep-alive connection each)."""
    from bench.stats import closed_loop

    tag = uuid.uuid4().hex[:12]
    counter = itertools.count()

    def client(index: int) -> tuple[Any, Any]:
        connection = Client(server.port)
        rng = random.Random(index)

        def transfer() -> None:
            path, headers, body = transfer_request(rng, scheme, tag, counter)
            status, payload = connection.send("POST", path, headers, body)
            if status != 201:
                from bench.stats import Refused

                if status in (409, 422):
                    raise Refused()
                raise RuntimeError(f"HTTP {status}: {payload[:200]!r}")

        return transfer, connection.close

    result = closed_loop(client, connections, duration, warmup)
    result["generator"] = f"python threads x{connections}"
    return result


def warm_up(server: Server, scheme: BenchScheme, connections: int, seconds: float) -> int:
    """Transfers and balance reads on many connections, so that every worker and thread has
    imported, compiled and connected before anything is timed. Returns the requests sent."""
    from bench.stats import closed_loop

    tag = uuid.uuid4().hex[:12]
    counter = itertools.count()

    def client(index: int) -> tuple[Any, Any]:
        connection = Client(server.port)
        rng = random.Random(index)
        state = {"n": 0}

        def operation() -> None:
            state["n"] += 1
            if state["n"] % 2:
                path, headers, body = transfer_request(rng, scheme, tag, counter)
                status, payload = connection.send("POST", path, headers, body)
            else:
                person = rng.choice(scheme.members)
                status, payload = connection.send(
                    "GET",
                    f"/api/v1/schemes/{scheme.slug}/balance",
                    {"Authorization": f"Bearer {person.token}"},
                )
            if status >= 500 or status in (401, 403, 404):
                raise RuntimeError(f"HTTP {status}: {payload[:200]!r}")

        return operation, connection.close

    result = closed_loop(client, connections, seconds, 0)
    if result["failed"]:
        raise RuntimeError(f"warm-up requests failed: {result['errors']}")
    return int(result["ops"])


def open_loop(
    server: Server, scheme: BenchScheme, rate: float, duration: float, senders: int = 32
) -> dict[str, Any]:
    """Requests at a fixed rate, latency counted from each request's scheduled time.

    A request due while every sender is busy starts late and its lateness is
    part of its latency, so a slow server cannot hide behind fewer requests
    (no coordinated omission).
    """
    tag = uuid.uuid4().hex[:12]
    counter = itertools.count()
    schedule = itertools.count()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    total = int(rate * duration)
    start = time.perf_counter() + 0.5

    def sender(index: int) -> None:
        connection = Client(server.port)
        rng = random.Random(5000 + index)
        mine: list[float] = []
        try:
            while True:
                n = next(schedule)
                if n >= total:
                    break
                due = start + n / rate
                wait = due - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                path, headers, body = transfer_request(rng, scheme, tag, counter)
                status, _ = connection.send("POST", path, headers, body)
                mine.append(time.perf_counter() - due)
                with lock:
                    statuses[status] = statuses.get(status, 0) + 1
        finally:
            connection.close()
            with lock:
                latencies.extend(mine)

    threads = [threading.Thread(target=sender, args=(i,), daemon=True) for i in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    return {
        "target_rate": round(rate, 1),
        "achieved_rate": round(len(latencies) / elapsed, 1),
        "requests": len(latencies),
        "seconds": round(elapsed, 2),
        "senders": senders,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        **summarise(latencies),
    }


def sequential_requests(
    port: int, make: Any, count: int, warmup: int, *, start: int = 0
) -> tuple[list[float], dict[int, int]]:
    """Latencies (s) of ``count`` requests sent one after another on one keep-alive connection.

    ``make(n)`` gives ``(method, path, headers, body)`` of the n-th request.
    """
    connection = Client(port)
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    try:
        for n in range(start, start + warmup + count):
            method, path, headers, body = make(n)
            began = time.perf_counter()
            status, payload = connection.send(method, path, headers, body)
            elapsed = time.perf_counter() - began
            if status >= 500 or status in (401, 403, 404):
                raise RuntimeError(f"{method} {path}: HTTP {status}: {payload[:200]!r}")
            if n >= start + warmup:
                latencies.append(elapsed)
                statuses[status] = statuses.get(status, 0) + 1
    finally:
        connection.close()
    return latencies, statuses
