"""Gunicorn settings for the web process (see deploy/README.md).

Synchronous workers, two per core, one request at a time each. A request is
mostly Python CPU (a transfer: ~4 ms of Python against ~1.5 ms of PostgreSQL),
so threads only queue for the GIL: on 2 cores, 4 threaded workers (4 threads
each) and 4 sync workers reach the same peak (~300 transfers/s), but at 70% of
it the server-side p99 was 64-100 ms threaded against 16-26 ms sync
(``python -m bench``). Sync workers need a buffering reverse proxy or load
balancer in front (slow clients would hold a worker); without one, set
``WEB_WORKER_CLASS=gthread`` and ``WEB_THREADS=4``. Each worker holds its own
SQLAlchemy pool; keep workers × threads within PostgreSQL's max_connections
(or put PgBouncer in transaction mode in front).

Surviving a killed master (see deploy/README.md, "Process supervision"):
``reuse_port`` lets a master started again bind the port at once, while the
killed master's orphaned workers still hold their copy of the socket (they
finish their request and exit when they see their parent gone). The control
socket (gunicorn 24+, ``gunicornc``) is the deployment's own: the default,
``~/.gunicorn/gunicorn.ctl``, is one path for every gunicorn of the user, and
each master that starts deletes and replaces it, so a second deployment (or a
benchmark) would take over the first one's control socket.
"""

import multiprocessing
import os
from pathlib import Path

bind = os.environ.get("BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2))
worker_class = os.environ.get("WEB_WORKER_CLASS", "sync")
threads = int(os.environ.get("WEB_THREADS", "1"))
timeout = 30
graceful_timeout = 20
keepalive = 5
max_requests = 5000
max_requests_jitter = 500
accesslog = "-"
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
reuse_port = True
_instance = Path(os.environ.get("TIMEBANK_INSTANCE") or Path.cwd() / "instance")
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET") or str(_instance / "gunicorn.ctl")
control_socket_mode = 0o600
