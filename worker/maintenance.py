"""Platform housekeeping jobs: the nightly ledger check, purging idempotency keys and the outbox."""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime
from typing import Any

from timebank.platform import metrics
from timebank.platform.api.idempotency import purge_expired
from timebank.platform.db import run_atomic
from timebank.platform.jobs import job, purge_relayed, redis_connection, redis_key
from timebank.platform.schemes.sandboxes import delete_unused
from timebank.tenants.ledger.proofs import take_roots
from timebank.tenants.ledger.verify import verify_ledger

log = logging.getLogger("timebank.ledger")

LAST_CHECK_KEY = "ledger-check:last"


@job
def verify_ledger_nightly() -> dict[str, Any]:
    """Run every ledger check; a break is logged at ERROR and kept for operators."""

    report = verify_ledger()
    result = {
        "checked_at": datetime.now(UTC).isoformat(),
        "ok": not report.breaks,
        "breaks": report.breaks,
        "warnings": report.warnings,
    }
    if report.breaks:
        metrics.LEDGER_VERIFY_FAILURES.inc()
    for line in report.breaks:
        log.error("LEDGER BREAK: %s", line)
    for line in report.warnings:
        log.warning("ledger warning: %s", line)
    if not report.breaks:
        log.info("ledger verified: no breaks (%d checks)", len(report.checked))
    redis = redis_connection()
    if redis is not None:
        redis.set(redis_key(LAST_CHECK_KEY), json.dumps(result))
    return result


@job
def take_ledger_roots(day: str) -> dict[str, int]:
    """Publish each scheme's ledger root of ``day`` (ISO date); a day already taken is kept."""
    result = take_roots(date.fromisoformat(day))
    log.info("ledger roots of %s: %s", day, result)
    return result


def last_ledger_check() -> dict[str, Any]:
    """The last nightly result (``ok`` null when none has run or there is no Redis)."""
    redis = redis_connection()
    raw = redis.get(redis_key(LAST_CHECK_KEY)) if redis is not None else None
    if not raw:
        return {"checked_at": None, "ok": None, "breaks": [], "warnings": []}
    data: dict[str, Any] = json.loads(raw)
    return data


@job
def purge_idempotency_keys() -> int:
    """Forget idempotency keys past their retention window."""

    purged = run_atomic(purge_expired)
    log.info("purged %d idempotency keys", purged)
    return purged


@job
def purge_job_outbox() -> int:
    """Delete outbox rows relayed to RQ longer ago than the retention window."""
    purged = purge_relayed()
    log.info("purged %d relayed outbox rows", purged)
    return purged


@job
def delete_unused_sandboxes() -> list[str]:
    """Delete the sandboxes nobody has used for 30 days (daily)."""
    gone = delete_unused()
    log.info("deleted %d unused sandboxes", len(gone))
    return gone
