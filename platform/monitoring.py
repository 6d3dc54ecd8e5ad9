"""``GET /metrics``: the Prometheus endpoint, and the per-request counting.

Who may read it: an operator's API token (``Authorization: Bearer …``), or
any caller whose address is in ``METRICS_ALLOW`` (comma-separated networks,
e.g. ``127.0.0.1/32,10.0.0.0/8``: a Prometheus inside the private network
needs no token). Anyone else: 401 without credentials, 403 ``operator_only``.

Besides the counters of :mod:`timebank.platform.metrics`, each scrape reads
the figures that live elsewhere: the depth of each RQ queue and of its failed
registry, the outbox backlog and the age of its oldest waiting row, the
database pool's connections in use, and the last nightly ledger check.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import time
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, request
from flask_login import current_user
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector
from sqlalchemy import func, select

from timebank.platform import metrics
from timebank.platform.api.errors import problem
from timebank.platform.db import db, utcnow
from timebank.platform.jobs import QUEUES, OutboxJob, get_queue, redis_connection
from timebank.platform.logs import route_of_request
from timebank.worker.maintenance import last_ledger_check

bp = Blueprint("monitoring", __name__)
log = logging.getLogger(__name__)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(raw: str) -> list[Network]:
    """``METRICS_ALLOW`` read; a value that is not a network stops the app at start."""
    networks: list[Network] = []
    for part in (piece.strip() for piece in raw.split(",")):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(
                f"METRICS_ALLOW: {part!r} is not a network (e.g. 10.0.0.0/8)"
            ) from None
    return networks


def _allowed_networks() -> list[Network]:
    return parse_networks(str(current_app.config.get("METRICS_ALLOW") or ""))


def _caller_allowed() -> Response | None:
    """``None`` when the caller may read the metrics, else the refusal to send."""
    address = request.remote_addr or ""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        ip = None
    if ip is not None and any(ip in network for network in _allowed_networks()):
        return None
    if not current_user.is_authenticated:
        return problem(
            401,
            "unauthorized",
            "Send an operator's API token as 'Authorization: Bearer …', "
            "or scrape from a network listed in METRICS_ALLOW.",
        )
    if not current_user.is_operator:
        return problem(403, "operator_only", "Only platform operators may read the metrics.")
    return None


@bp.get("/metrics")
def serve_metrics() -> Response:
    refusal = _caller_allowed()
    if refusal is not None:
        return refusal
    registry: CollectorRegistry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(ScrapeTimeFigures(current_app._get_current_object()))  # type: ignore[attr-defined]
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


class ScrapeTimeFigures(Collector):
    """Figures read when scraped: queues, outbox, pool, last ledger check."""

    def __init__(self, app: Flask | None = None) -> None:
        self.app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        app = self.app
        if app is None:
            return
        with app.app_context():
            yield from _queues()
            yield from _outbox()
            yield from _pool()
            yield from _ledger_check()


def _queues() -> Iterator[GaugeMetricFamily]:
    depth = GaugeMetricFamily(
        "timebank_job_queue_depth", "Jobs waiting in each RQ queue.", labels=["queue"]
    )
    failed = GaugeMetricFamily(
        "timebank_job_failed_registry", "Jobs in each queue's failed registry.", labels=["queue"]
    )
    try:
        connection = redis_connection(fail_fast=True)
        if connection is not None:
            for name in QUEUES:
                queue = get_queue(name, connection)
                depth.add_metric([name], queue.count)
                failed.add_metric([name], queue.failed_job_registry.count)
    except Exception:  # Redis down: the queues are simply not reported this time
        log.warning("metrics: Redis did not answer; queue figures left out")
    yield depth
    yield failed


def _outbox() -> Iterator[GaugeMetricFamily]:
    count, oldest = db.session.execute(
        select(func.count(), func.min(OutboxJob.created_at)).where(OutboxJob.relayed_at.is_(None))
    ).one()
    db.session.rollback()
    age = 0.0
    if oldest is not None:
        if oldest.tzinfo is None:
            from datetime import UTC

            oldest = oldest.replace(tzinfo=UTC)
        age = max(0.0, (utcnow() - oldest).total_seconds())
    yield GaugeMetricFamily(
        "timebank_outbox_backlog", "Outbox rows waiting for the relay to RQ.", value=count
    )
    yield GaugeMetricFamily(
        "timebank_outbox_oldest_age_seconds",
        "Age of the oldest outbox row waiting for the relay (0 when none).",
        value=age,
    )


def _pool() -> Iterator[GaugeMetricFamily]:
    pool: Any = db.engine.pool
    in_use = GaugeMetricFamily(
        "timebank_db_pool_connections", "Database pool connections by state.", labels=["state"]
    )
    checked_out = getattr(pool, "checkedout", None)
    if callable(checked_out):
        in_use.add_metric(["in_use"], checked_out())
        in_use.add_metric(["idle"], pool.checkedin())
        in_use.add_metric(["size"], pool.size())
    yield in_use


def _ledger_check() -> Iterator[GaugeMetricFamily]:
    try:
        last = last_ledger_check()
    except Exception:
        last = {"ok": None}
    ok = last.get("ok")
    yield GaugeMetricFamily(
        "timebank_ledger_last_check_ok",
        "1 when the last nightly ledger check found no break, 0 when it found one, "
        "-1 when none is on record.",
        value=-1 if ok is None else int(bool(ok)),
    )


# One per process, in the default registry; it reads the newest app (tests make many).
_SCRAPE_TIME = ScrapeTimeFigures()
REGISTRY.register(_SCRAPE_TIME)


def init_app(app: Flask) -> None:
    """Count every request; serve ``/metrics``; read scrape-time figures of this app."""
    parse_networks(str(app.config.get("METRICS_ALLOW") or ""))  # refuse a bad value at start
    app.register_blueprint(bp)
    _SCRAPE_TIME.app = app

    @app.before_request
    def _start_clock() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _count(response: Response) -> Response:
        started = g.get("metrics_started")
        if started is None or request.endpoint == "monitoring.serve_metrics":
            return response
        route = route_of_request()
        metrics.HTTP_REQUESTS.labels(route, request.method, str(response.status_code)).inc()
        metrics.HTTP_LATENCY.labels(route, request.method).observe(time.perf_counter() - started)
        if response.status_code >= 500:
            metrics.HTTP_ERRORS.labels(route).inc()
        return response
