"""The platform's Prometheus metrics: what is counted, and where.

The metric objects live here, low in the layers, so the posting service and
the job layer can count without knowing how the numbers are served; the
endpoint and the figures read at scrape time (queue depth, outbox backlog,
the database pool) are in :mod:`timebank.platform.monitoring`.

Several processes (gunicorn workers, RQ work horses, which fork per job)
share one set of figures when ``PROMETHEUS_MULTIPROC_DIR`` names a folder
they can all write (prometheus_client's multiprocess mode; the folder is
emptied at deploy). Without it each process serves its own.

Labels are bounded: routes are URL rules (``/api/v1/schemes/<slug>/…``),
never paths, so a slug or an id never becomes a label.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator

from prometheus_client import Counter, Histogram

log = logging.getLogger("timebank.jobs")

HTTP_REQUESTS = Counter(
    "timebank_http_requests_total",
    "HTTP requests answered, by route (URL rule), method and status.",
    ["route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "timebank_http_request_duration_seconds",
    "Time to answer a request, by route (URL rule) and method.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
HTTP_ERRORS = Counter(
    "timebank_http_errors_total",
    "Answers of 500 or more, by route (URL rule).",
    ["route"],
)
LEDGER_TRANSACTIONS = Counter(
    "timebank_ledger_transactions_total",
    "Ledger transactions committed, by kind.",
    ["kind"],
)
REFUSALS = Counter(
    "timebank_refusals_total",
    "Actions refused by a ledger or policy rule (422), by code.",
    ["code"],
)
JOBS = Counter(
    "timebank_jobs_total",
    "Jobs run, by job and outcome (succeeded, failed).",
    ["job", "outcome"],
)
JOB_DURATION = Histogram(
    "timebank_job_duration_seconds",
    "Time a job ran, by job.",
    ["job"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0),
)
LEDGER_VERIFY_FAILURES = Counter(
    "timebank_ledger_verify_failures_total",
    "Ledger verifications (nightly job or command) that found a problem.",
)


@contextlib.contextmanager
def observe_job(path: str) -> Iterator[None]:
    """Count and time one run of the job at ``path``; log its start and end."""
    name = path.rsplit(".", 2)[-2:]
    label = ".".join(name)
    started = time.perf_counter()
    log.info("job %s started", label, extra={"job": label})
    try:
        yield
    except BaseException:
        elapsed = time.perf_counter() - started
        JOBS.labels(label, "failed").inc()
        JOB_DURATION.labels(label).observe(elapsed)
        log.warning("job %s failed after %.2fs", label, elapsed, extra={"job": label})
        raise
    elapsed = time.perf_counter() - started
    JOBS.labels(label, "succeeded").inc()
    JOB_DURATION.labels(label).observe(elapsed)
    log.info("job %s finished in %.2fs", label, elapsed, extra={"job": label})


def transaction_committed(kind: str) -> None:
    LEDGER_TRANSACTIONS.labels(kind).inc()


def refused(code: str) -> None:
    REFUSALS.labels(code).inc()
