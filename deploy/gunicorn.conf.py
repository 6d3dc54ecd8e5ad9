"""Gunicorn settings for the web process (see deploy/README.md).

Synchronous workers with threads: request handlers spend most of their time
waiting on PostgreSQL, so a few threads per process keep the cores busy
without the memory of more processes. Each worker holds its own SQLAlchemy
pool; keep workers × threads within the pool size and PostgreSQL's
max_connections (or put PgBouncer in transaction mode in front).
"""

import multiprocessing
import os

bind = os.environ.get("BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "4"))
timeout = 30
graceful_timeout = 20
keepalive = 5
max_requests = 5000
max_requests_jitter = 500
accesslog = "-"
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
