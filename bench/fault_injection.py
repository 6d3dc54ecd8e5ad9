"""Fault injection under load: does every answer stay honest, does nothing get lost?

``bench/faults`` starts everything it needs of its own, in a temporary folder:
a PostgreSQL cluster (``initdb``/``pg_ctl`` from ``/usr/lib/postgresql/*/bin``,
own port and data directory), a redis-server (own port, append-only file so a
restart keeps its queues), gunicorn with the deployment's settings
(``deploy/gunicorn.conf.py``) and ``timebank worker --with-scheduler``. It
never touches a server it finds running, and it only signals processes it
started (by pid; for PostgreSQL, the postmaster of its own data directory
and that postmaster's children).

Client threads drive keyed transfers, exchange payments, claims with their
approval (which mails the member) and reversals, retrying each request with
the same ``Idempotency-Key`` after a dropped connection or a 503, while the
faults are injected in turn, each several times: SIGKILL a gunicorn worker,
SIGKILL the master and start it again, restart PostgreSQL (``-m fast`` and
``-m immediate``), stop Redis for 20 s, SIGSTOP PostgreSQL for 10 s.

Afterwards it checks: ``timebank ledger verify`` clean; every acknowledged key
has exactly one transaction; no transaction without a key; refused keys wrote
nothing; no balance outside its limits; statements agree with balances; no
response was a 500; no mail was lost. It prints the figures and exits 1 when
a check fails.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import glob
import http.client
import io
import json
import os
import pwd
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
from collections import Counter
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GUNICORN_CONFIG = ROOT / "deploy" / "gunicorn.conf.py"
APP_ROLE = "timebank_app"
BIN = Path(sys.executable).parent
APPROVED_SUBJECT = "were approved"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (read from /proc)."""
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


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError):
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    return True


# --- the servers of our own ---------------------------------------------------------


class OwnPostgres:
    """A PostgreSQL cluster in ``folder`` on ``port``, run as the ``postgres`` user when root."""

    def __init__(self, folder: Path, port: int) -> None:
        candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not candidates:
            raise SystemExit("faults: no initdb under /usr/lib/postgresql/*/bin")
        self.bin = Path(candidates[-1]).parent
        self.folder = folder
        self.data = folder / "data"
        self.port = port
        self.user = "postgres" if os.geteuid() == 0 else None

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(a) for a in args]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True)

    def init(self) -> None:
        self.folder.mkdir(parents=True)
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
        self._run(
            self.bin / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8"
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} "
            "-c max_connections=100 -c shared_buffers=64MB"
        )
        self._run(
            self.bin / "pg_ctl", "-D", self.data, "-l", self.folder / "postgres.log",
            "-w", "-t", "120", "-o", options, "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run(self.bin / "pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "120", "stop")

    def restart(self, mode: str) -> None:
        self.stop(mode)
        self.start()

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def pause(self, seconds: float) -> None:
        """SIGSTOP the postmaster and every backend of this cluster, then SIGCONT them."""
        postmaster = self.postmaster_pid()
        pids = [postmaster, *descendants(postmaster)]
        try:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGSTOP)
            time.sleep(seconds)
        finally:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"


class OwnRedis:
    def __init__(self, folder: Path, port: int) -> None:
        self.folder = folder
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None
        server = shutil.which("redis-server")
        if server is None:
            raise SystemExit("faults: redis-server is not installed")
        self.server = server

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        # Append-only, so a restart keeps what was queued (as a production Redis for RQ should).
        self.process = subprocess.Popen(
            [
                self.server, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.folder),
            ],
            stdout=(self.folder / "redis.log").open("ab"),
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn,
            ):
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    return
            time.sleep(0.1)
        raise RuntimeError("own redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(20)
        self.process = None


@dataclass
class Gunicorn:
    port: int
    env: dict[str, str]
    folder: Path
    workers: int
    process: subprocess.Popen[bytes] | None = None
    orphans: list[int] = field(default_factory=list)
    starts: int = 0

    def start(self) -> None:
        self.starts += 1
        command = [
            str(BIN / "gunicorn"), "--config", str(GUNICORN_CONFIG),
            "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers),
            "--access-logfile", str(self.folder / "access.log"),
            "--error-logfile", str(self.folder / "gunicorn.log"),
            "timebank.platform.app:create_app()",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command, env=self.env, cwd=str(ROOT), start_new_session=True,
            stdout=(self.folder / "gunicorn.out").open("ab"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_until_serving(self.port, timeout=60)

    def worker_pids(self) -> list[int]:
        assert self.process is not None
        return [pid for pid in descendants(self.process.pid) if alive(pid)]

    def kill_worker(self) -> None:
        workers = self.worker_pids()
        if workers:
            os.kill(random.choice(workers), signal.SIGKILL)

    def kill_master_and_restart(self) -> None:
        assert self.process is not None
        self.orphans.extend(self.worker_pids())
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self.start()  # at once: reuse_port lets it bind while orphans still hold the port

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                for pid in [self.process.pid, *descendants(self.process.pid)]:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
        self.reap_orphans(kill=True)

    def reap_orphans(self, *, kill: bool = False) -> int:
        """Orphaned workers of a killed master that still run (they should exit by themselves)."""
        left = [pid for pid in self.orphans if alive(pid)]
        if kill:
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        return len(left)


class Supervised:
    """``timebank worker --with-scheduler``, started again if it exits (as a supervisor would)."""

    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self.env = env
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def _spawn(self) -> None:
        self.process = subprocess.Popen(
            [str(BIN / "timebank"), "worker", "--with-scheduler", "--scheduler-interval", "5"],
            env=self.env, cwd=str(ROOT), start_new_session=True,
            stdout=(self.folder / "worker.log").open("ab"), stderr=subprocess.STDOUT,
        )  # fmt: skip

    def start(self) -> None:
        self._spawn()
        self.thread.start()

    def _watch(self) -> None:
        while not self.stopping.wait(1):
            if self.process is not None and self.process.poll() is not None:
                self.restarts += 1
                time.sleep(1)
                self._spawn()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(5)
        if self.process is None:
            return
        pids = [self.process.pid, *descendants(self.process.pid)]
        if self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(30)
        for pid in pids:
            if alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def wait_until_serving(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, http.client.HTTPException):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"gunicorn on {port} did not answer")


# --- the load ---------------------------------------------------------------------


@dataclass
class Person:
    user_id: int
    member_id: int
    token: str


@dataclass
class Scheme:
    id: int
    slug: str
    coordinator: Person
    members: list[Person]


@dataclass
class Outcome:
    kind: str
    key: str
    user_id: int
    scheme_id: int
    status: int
    body: Any


class Results:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.statuses: Counter[int] = Counter()
        self.connection_errors = 0
        self.retries = 0
        self.unanswered = 0
        self.acknowledged: list[Outcome] = []
        self.refused: list[Outcome] = []
        self.replays_checked = 0
        self.replay_mismatches = 0
        self.reversible: list[tuple[int, int]] = []  # (scheme_id, transaction id)
        self.pending_claims: list[tuple[int, int]] = []

    def count(self, status: int) -> None:
        with self.lock:
            self.statuses[status] += 1


class Client:
    def __init__(self, port: int, results: Results, stop: threading.Event) -> None:
        self.port = port
        self.results = results
        self.stop = stop
        self.conn: http.client.HTTPConnection | None = None

    def _send(self, method: str, path: str, token: str, body: Any, key: str | None) -> Any:
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=40)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        if key:
            headers["Idempotency-Key"] = key
        payload = json.dumps(body) if body is not None else None
        self.conn.request(method, path, body=payload, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        return response.status, data

    def call(
        self, method: str, path: str, token: str, body: Any = None, key: str | None = None
    ) -> tuple[int, Any]:
        """Send until an answer that is not "try again" (a dropped connection, 502-504, 409)."""
        deadline = time.monotonic() + 120
        while True:
            try:
                status, data = self._send(method, path, token, body, key)
            except (OSError, http.client.HTTPException):
                with self.results.lock:
                    self.results.connection_errors += 1
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                status, data = 0, b""
            if status:
                self.results.count(status)
            try:
                answer = json.loads(data) if data else None
            except ValueError:
                answer = None
            in_progress = status == 409 and (answer or {}).get("code") == "request_in_progress"
            retry = status == 0 or status >= 500 or in_progress
            if not retry or (key is None and status != 0):
                return status, answer
            if time.monotonic() > deadline:
                with self.results.lock:
                    self.results.unanswered += 1
                return status, None
            with self.results.lock:
                self.results.retries += 1
            time.sleep(0.2 + random.random() * 0.3)


class Load:
    """Client threads doing keyed money moves until stopped."""

    def __init__(
        self, port: int, a: Scheme, b: Scheme, activity_id: int, threads: int, seed: int
    ) -> None:
        self.port = port
        self.a, self.b = a, b
        self.activity_id = activity_id
        self.results = Results()
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self._run, args=(random.Random(seed + n),), daemon=True)
            for n in range(threads)
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(180)

    def _record(self, kind: str, key: str, person: Person, scheme: Scheme, status: int, body: Any):  # type: ignore[no-untyped-def]
        outcome = Outcome(kind, key, person.user_id, scheme.id, status, body)
        with self.results.lock:
            if 200 <= status < 300:
                self.results.acknowledged.append(outcome)
            elif 400 <= status < 500:
                self.results.refused.append(outcome)
        return outcome

    def _keyed(
        self,
        client: Client,
        kind: str,
        scheme: Scheme,
        person: Person,
        path: str,
        body: Any,
        rng: random.Random,
    ) -> Outcome:  # type: ignore[no-untyped-def]
        key = f"{kind}-{uuid.uuid4().hex}"
        url = f"/api/v1/schemes/{scheme.slug}{path}"
        status, answer = client.call("POST", url, person.token, body, key)
        outcome = self._record(kind, key, person, scheme, status, answer)
        if rng.random() < 0.1 and status:  # the same key again: the same answer
            again, replay = client.call("POST", url, person.token, body, key)
            with self.results.lock:
                self.results.replays_checked += 1
                if again != status or replay != answer:
                    self.results.replay_mismatches += 1
        return outcome

    def _run(self, rng: random.Random) -> None:
        client = Client(self.port, self.results, self.stop)
        a, b = self.a, self.b
        while not self.stop.is_set():
            roll = rng.random()
            payer, payee = rng.sample(a.members, 2)
            if roll < 0.40:
                amount = rng.randint(1, 30) if rng.random() > 0.05 else 5000  # some refused
                body = {"to_member_id": payee.member_id, "amount": amount}
                outcome = self._keyed(client, "transfer", a, payer, "/transfers", body, rng)
                if outcome.status == 201:
                    with self.results.lock:
                        self.results.reversible.append((a.id, outcome.body["id"]))
            elif roll < 0.60:
                to = rng.choice(b.members)
                body = {
                    "to_scheme": b.slug,
                    "to_member_id": to.member_id,
                    "amount": rng.randint(1, 5),
                }
                self._keyed(client, "exchange", a, payer, "/transfers", body, rng)
            elif roll < 0.85:
                body = {
                    "activity_id": self.activity_id,
                    "minutes": rng.choice([30, 45, 60]),
                    "performed_on": time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86400)),
                }
                made = self._keyed(client, "claim", a, payer, "/claims", body, rng)
                if made.status == 201 and made.body.get("status") == "pending":
                    path = f"/claims/{made.body['id']}/approve"
                    self._keyed(client, "approval", a, a.coordinator, path, None, rng)
            else:
                with self.results.lock:
                    target = (
                        self.results.reversible.pop(rng.randrange(len(self.results.reversible)))
                        if self.results.reversible
                        else None
                    )
                if target is None:
                    continue
                path = f"/transactions/{target[1]}/reverse"
                self._keyed(client, "reversal", a, a.coordinator, path, {"memo": "bench"}, rng)


# --- set-up and checks ---------------------------------------------------------------


def setup_data(
    app_url: str, owner_url: str, members: int, folder: Path
) -> tuple[Scheme, Scheme, int]:
    from sqlalchemy import select

    from bench.fixtures import add_members, bench_app, create_bench_scheme, fund
    from timebank.platform import tenancy
    from timebank.platform.db import db
    from timebank.tenants.earning.models import Activity

    app = bench_app(app_url, str(folder / "setup-outbox"), 2)
    schemes = []
    for slug in ("faults-a", "faults-b"):
        made = create_bench_scheme(app, slug)
        add_members(app, made, members)
        fund(app, made, made.members, 120)
        schemes.append(made)
    a, b = schemes
    client = app.test_client()
    proposed = client.post(
        f"/api/v1/schemes/{a.slug}/agreements",
        json={"partner": b.slug, "rate": "1", "limit": 1_000_000},
        headers={"Authorization": f"Bearer {a.coordinator.token}"},
    )
    assert proposed.status_code == 201, proposed.data
    accepted = client.post(
        f"/api/v1/schemes/{b.slug}/agreements/{proposed.get_json()['id']}/accept",
        headers={"Authorization": f"Bearer {b.coordinator.token}"},
    )
    assert accepted.status_code == 200, accepted.data
    with app.app_context(), tenancy.scheme_context(a.id):
        activity_id = db.session.execute(
            select(Activity.id).where(Activity.name == "Community clean-up day")
        ).scalar_one()
        db.session.remove()
        db.engine.dispose()

    def convert(scheme: Any) -> Scheme:
        people = [Person(p.user_id, p.member_id, p.token) for p in scheme.members]
        c = scheme.coordinator
        return Scheme(scheme.id, scheme.slug, Person(c.user_id, c.member_id, c.token), people)

    return convert(a), convert(b), int(activity_id)


def baseline(owner_url: str) -> dict[int, int]:
    import psycopg

    with psycopg.connect(owner_url) as conn:
        rows = conn.execute("SELECT scheme_id, max(id) FROM transactions GROUP BY scheme_id")
        return {int(s): int(m) for s, m in rows}


def drain(owner_url: str, redis_url: str, mail_dir: Path, timeout: float) -> dict[str, Any]:
    """Wait until the outbox is relayed, the queues are empty and the mail count is steady."""
    import psycopg
    from redis import Redis
    from rq import Queue

    from timebank.platform.jobs import QUEUES

    redis = Redis.from_url(redis_url)
    deadline = time.monotonic() + timeout
    last, steady_since = -1, time.monotonic()
    state: dict[str, Any] = {}
    while time.monotonic() < deadline:
        with psycopg.connect(owner_url) as conn:
            waiting = conn.execute(
                "SELECT count(*) FROM job_outbox WHERE relayed_at IS NULL"
            ).fetchone()[0]  # type: ignore[index]
        queues = [Queue(name, connection=redis) for name in QUEUES]
        queued = sum(queue.count for queue in queues)
        # Jobs of a worker that died mid-job wait in its intermediate queue or
        # the started registry until RQ's maintenance pass hands them back.
        stranded = sum(
            int(redis.llen(queue.intermediate_queue_key)) + queue.started_job_registry.count
            for queue in queues
        )
        retrying = sum(queue.scheduled_job_registry.count for queue in queues)
        failed = sum(queue.failed_job_registry.count for queue in queues)
        mails = len(list(mail_dir.glob("*.eml"))) if mail_dir.exists() else 0
        state = {
            "outbox_waiting": waiting,
            "queued": queued,
            "started_or_stranded": stranded,
            "retrying": retrying,
            "failed": failed,
            "mails": mails,
            "seconds": round(timeout - (deadline - time.monotonic())),
        }
        if mails != last:
            last, steady_since = mails, time.monotonic()
        busy = waiting or queued or stranded or retrying
        if not busy and time.monotonic() - steady_since > 5:
            break
        time.sleep(1)
    redis.close()
    return state


def check(
    load: Load,
    a: Scheme,
    b: Scheme,
    owner_url: str,
    app_env: dict[str, str],
    port: int,
    before: dict[int, int],
    mail_dir: Path,
) -> dict[str, Any]:
    import psycopg

    results = load.results
    figures: dict[str, Any] = {}
    verify = subprocess.run(
        [str(BIN / "timebank"), "ledger", "verify"], env=app_env, cwd=str(ROOT),
        capture_output=True, text=True,
    )  # fmt: skip
    figures["ledger_verify_exit"] = verify.returncode
    figures["ledger_verify_tail"] = (verify.stdout + verify.stderr).strip().splitlines()[-3:]

    acknowledged_tx: dict[tuple[int, int], str] = {}
    with psycopg.connect(owner_url) as conn:
        missing = duplicate_keys = 0
        for outcome in results.acknowledged:
            stored = conn.execute(
                "SELECT count(*), min(status_code) FROM idempotency_keys "
                "WHERE scheme_id = %s AND user_id = %s AND key = %s",
                (outcome.scheme_id, outcome.user_id, outcome.key),
            ).fetchone()
            assert stored is not None
            if stored[0] != 1 or not 200 <= stored[1] < 300:
                duplicate_keys += 1
            tx_id = None
            if outcome.kind in ("transfer", "exchange", "reversal"):
                tx_id = outcome.body["id"]
            elif outcome.kind == "approval":
                tx_id = outcome.body["transaction_id"]
            if tx_id is None:
                continue
            found = conn.execute(
                "SELECT count(*) FROM transactions WHERE scheme_id = %s AND id = %s",
                (outcome.scheme_id, tx_id),
            ).fetchone()[0]  # type: ignore[index]
            if found != 1:
                missing += 1
            acknowledged_tx[(outcome.scheme_id, tx_id)] = outcome.key
        # The partner legs of acknowledged exchange payments.
        for payer_scheme, payer_tx, payee_scheme, payee_tx in conn.execute(
            "SELECT payer_scheme_id, payer_transaction_id, payee_scheme_id, payee_transaction_id "
            "FROM exchanges"
        ):
            if (payer_scheme, payer_tx) in acknowledged_tx:
                acknowledged_tx[(payee_scheme, payee_tx)] = acknowledged_tx[
                    (payer_scheme, payer_tx)
                ]
        new = conn.execute(
            "SELECT scheme_id, id, kind FROM transactions WHERE scheme_id = ANY(%s) AND id > "
            "CASE scheme_id WHEN %s THEN %s ELSE %s END",
            ([a.id, b.id], a.id, before.get(a.id, 0), before.get(b.id, 0)),
        ).fetchall()
        unkeyed = [row for row in new if (row[0], row[1]) not in acknowledged_tx]
        refused_written = 0
        for outcome in results.refused:
            stored = conn.execute(
                "SELECT status_code FROM idempotency_keys "
                "WHERE scheme_id = %s AND user_id = %s AND key = %s",
                (outcome.scheme_id, outcome.user_id, outcome.key),
            ).fetchone()
            if stored is not None and stored[0] < 400:
                refused_written += 1
    figures.update(
        acknowledged=len(results.acknowledged),
        acknowledged_without_exactly_one_transaction=missing,
        acknowledged_keys_not_stored_once=duplicate_keys,
        transactions_during_load=len(new),
        transactions_without_a_key=len(unkeyed),
        refused=len(results.refused),
        refused_codes=dict(Counter((o.body or {}).get("code", "?") for o in results.refused)),
        refused_keys_that_wrote=refused_written,
    )

    # Balances within limits, and statements agreeing with balances, through the API.
    outside = disagree = 0
    conn_http = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for scheme in (a, b):
        for person in scheme.members:
            headers = {"Authorization": f"Bearer {scheme.coordinator.token}"}
            conn_http.request(
                "GET", f"/api/v1/schemes/{scheme.slug}/balance?member_id={person.member_id}",
                headers=headers,
            )  # fmt: skip
            balance = json.loads(conn_http.getresponse().read())
            low, high = balance["min_balance"], balance["max_balance"]
            if (low is not None and balance["balance"] < low) or (
                high is not None and balance["balance"] > high
            ):
                outside += 1
            conn_http.request(
                "GET",
                f"/api/v1/schemes/{scheme.slug}/statement.csv?member_id={person.member_id}",
                headers=headers,
            )
            rows = list(csv.DictReader(io.StringIO(conn_http.getresponse().read().decode())))
            total = sum(int(row["minutes"]) for row in rows)
            last = int(rows[-1]["balance_after"]) if rows else 0
            if total != balance["balance"] or last != balance["balance"]:
                disagree += 1
    figures.update(balances_outside_limits=outside, statements_disagreeing=disagree)

    approvals = sum(1 for o in results.acknowledged if o.kind == "approval")
    mails = [
        message_from_bytes(path.read_bytes(), policy=policy.default)
        for path in mail_dir.glob("*.eml")
    ] if mail_dir.exists() else []  # fmt: skip
    approved_mails = sum(1 for m in mails if APPROVED_SUBJECT in str(m["Subject"]))
    figures.update(
        approvals_acknowledged=approvals,
        approval_mails_delivered=approved_mails,
        mails_lost=max(0, approvals - approved_mails),
        mails_duplicated=max(0, approved_mails - approvals),
        responses=dict(sorted(results.statuses.items())),
        responses_500=sum(n for s, n in results.statuses.items() if s == 500),
        connection_errors=results.connection_errors,
        retries=results.retries,
        unanswered=results.unanswered,
        replays_checked=results.replays_checked,
        replay_mismatches=results.replay_mismatches,
    )
    return figures


FAILURE_RULES = {
    "ledger_verify_exit": lambda v: v != 0,
    "acknowledged_without_exactly_one_transaction": bool,
    "acknowledged_keys_not_stored_once": bool,
    "transactions_without_a_key": bool,
    "refused_keys_that_wrote": bool,
    "balances_outside_limits": bool,
    "statements_disagreeing": bool,
    "responses_500": bool,
    "mails_lost": bool,
    "queues_not_drained": bool,
    "unanswered": bool,
    "replay_mismatches": bool,
}


# --- the faults ---------------------------------------------------------------------


class Faults:
    def __init__(self, pg: OwnPostgres, redis: OwnRedis, web: Gunicorn) -> None:
        self.pg, self.redis, self.web = pg, redis, web
        self.injected: Counter[str] = Counter()

    def kill_worker(self) -> None:
        self.web.kill_worker()

    def kill_master(self) -> None:
        self.web.kill_master_and_restart()

    def restart_postgres_fast(self) -> None:
        self.pg.restart("fast")

    def restart_postgres_immediate(self) -> None:
        self.pg.restart("immediate")

    def stop_redis(self) -> None:
        self.redis.stop()
        time.sleep(20)
        self.redis.start()

    def pause_postgres(self) -> None:
        self.pg.pause(10)

    def cycle(self) -> list[Any]:
        return [
            self.kill_worker,
            self.restart_postgres_fast,
            self.kill_master,
            self.stop_redis,
            self.kill_worker,
            self.pause_postgres,
            self.restart_postgres_immediate,
            self.kill_worker,
            self.kill_master,
            self.restart_postgres_fast,
            self.pause_postgres,
            self.stop_redis,
            self.restart_postgres_immediate,
        ]

    def run(self, duration: float, gap: float, stop: threading.Event) -> None:
        end = time.monotonic() + duration
        first = True
        while first or time.monotonic() < end:
            for fault in self.cycle():
                if stop.is_set() or (not first and time.monotonic() >= end):
                    return
                time.sleep(gap)
                started = time.monotonic()
                fault()
                self.injected[fault.__name__] += 1
                log(f"fault {fault.__name__} ({time.monotonic() - started:.1f}s)")
            first = False


# --- main ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/faults", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--duration", type=float, default=150, help="seconds of faults (≥ one cycle)"
    )
    parser.add_argument("--short", action="store_true", help="one cycle of faults (~2-3 minutes)")
    parser.add_argument("--threads", type=int, default=6, help="client threads")
    parser.add_argument("--members", type=int, default=12, help="members per scheme")
    parser.add_argument("--web-workers", type=int, default=3)
    parser.add_argument("--gap", type=float, default=3.0, help="seconds between faults")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--output", type=Path, default=None, help="write the figures as JSON")
    args = parser.parse_args(argv)
    duration = 0 if args.short else args.duration

    folder = Path(tempfile.mkdtemp(prefix="timebank-faults-"))
    os.chmod(folder, 0o755)
    log(f"faults: working in {folder}")
    pg = OwnPostgres(folder / "pg", free_port())
    redis = OwnRedis(folder / "redis", free_port())
    web: Gunicorn | None = None
    worker: Supervised | None = None
    load: Load | None = None
    stop = threading.Event()
    try:
        pg.init()
        pg.start()
        redis.start()
        log(f"own PostgreSQL on {pg.port}, own Redis on {redis.port}")
        from bench.database import BenchDatabase

        database = BenchDatabase.from_environment(pg.admin_url, "timebank_faults")
        database.recreate()
        app_url, owner_url = database.sqlalchemy_url("app"), database.psycopg_url("owner")
        mail_dir = folder / "mail"
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"DATABASE_URL", "REDIS_URL", "SMTP_URL", "WEB_CONCURRENCY"}
        }
        env.update(
            DATABASE_URL=app_url,
            REDIS_URL=redis.url,
            SECRET_KEY="faults-bench-secret",
            OUTBOX_DIR=str(mail_dir),
            TIMEBANK_INSTANCE=str(folder / "instance"),
            RATELIMIT_ENABLED="false",
            TIMEBANK_JOB_RETRY_BACKOFF="1,2,5",
            PYTHONPATH=str(ROOT),
        )
        a, b, activity = setup_data(app_url, owner_url, args.members, folder)
        before = baseline(owner_url)
        web = Gunicorn(free_port(), env, folder, args.web_workers)
        web.start()
        worker = Supervised(env, folder)
        worker.start()
        log(f"gunicorn on {web.port} ({args.web_workers} workers), worker with scheduler")
        load = Load(web.port, a, b, activity, args.threads, args.seed)
        load.start()
        time.sleep(3)
        faults = Faults(pg, redis, web)
        started = time.monotonic()
        faults.run(duration, args.gap, stop)
        time.sleep(3)
        load.finish()
        log(f"faults done in {time.monotonic() - started:.0f}s; draining the queues")
        drained = drain(owner_url, redis.url, mail_dir, timeout=420)
        figures = check(load, a, b, owner_url, env, web.port, before, mail_dir)
        figures.update(
            faults=dict(faults.injected),
            drained=drained,
            queues_not_drained=sum(
                drained.get(name, 0)
                for name in ("outbox_waiting", "queued", "started_or_stranded", "retrying")
            ),
            gunicorn_masters_started=web.starts,
            orphaned_workers_left=web.reap_orphans(),
            rq_worker_restarts=worker.restarts,
            fault_seconds=round(time.monotonic() - started),
        )
    finally:
        stop.set()
        if load is not None:
            load.stop.set()
        if worker is not None:
            worker.stop()
        if web is not None:
            web.stop()
        redis.stop()
        with contextlib.suppress(Exception):
            pg.stop("fast")
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    failed = [name for name, rule in FAILURE_RULES.items() if rule(figures.get(name))]
    figures["failed_checks"] = failed
    width = max(len(name) for name in figures)
    print()
    for name, value in figures.items():
        print(f"{name:<{width}}  {value}")
    if args.output:
        args.output.write_text(json.dumps(figures, indent=2, default=str) + "\n")
    print("\nOK: every check held" if not failed else f"\nFAILED: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
