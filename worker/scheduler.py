"""Periodic work, run by ``timebank worker --with-scheduler``.

RQ 3 has a cron scheduler of its own (``rq cron``), but it reads cron fields
in the machine's local time and keeps no shared record of what it enqueued;
our nightly work is due at *each scheme's* local midnight, and several
workers may run a scheduler. So a small loop does it: every ``interval``
seconds :meth:`Scheduler.tick` decides what is due and enqueues it by dotted
path. Two guards keep it to once: a leader lock (only one scheduler ticks at
a time) and a ``SET NX`` marker per task and period (``expiry:<scheme>:
<local date>``), so even two leaders, or a restarted one, enqueue each run
once. A tick after downtime catches up on the current period.

Due work:
- credit expiry and expiry notices per scheme, from local midnight of each day
  in the scheme's time zone;
- youth court sittings: the reminder mail to the rota the day before, per
  scheme from local midnight;
- listings: expiry and the "renew" mails per scheme from local midnight, and
  the weekly digest of new listings from Monday 08:00 local;
- the weekly digest of pending claims per scheme, from Monday 08:00 local;
- the impact reports' daily summaries per scheme, from local midnight;
- monthly statements per scheme for the month before, from the 1st 06:00 local;
- the ledger check every day from 02:00 UTC;
- each scheme's daily ledger root of the day before, from 00:00 UTC;
- purging expired idempotency keys and relayed outbox rows every hour;
- the digest of credits received (members past ``CREDIT_MAIL_BURST`` single mails
  an hour) every hour;
- deleting sandbox schemes unused for 30 days, daily;
- relaying the job outbox to RQ on every tick;
- billing every hour when it is on (usage sync, grace periods ended, stray webhook events);
- re-queueing member imports whose worker died.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select

from timebank.platform.billing.jobs import due_for_billing
from timebank.platform.db import db
from timebank.platform.jobs import enqueue, redis_connection, redis_key, relay_outbox
from timebank.platform.schemes.models import Scheme
from timebank.tenants.memberships.imports import resume_stalled_imports

log = logging.getLogger(__name__)

LEADER_KEY = "scheduler:leader"
MARKER_TTL = 40 * 24 * 3600  # longer than the longest period (a month)


@dataclass(frozen=True)
class Due:
    marker: str
    queue: str
    path: str
    args: tuple[Any, ...]


def scheme_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown time zone %r: using UTC", name)
        return ZoneInfo("UTC")


def previous_month(day: date) -> str:
    first = day.replace(day=1)
    return (first - timedelta(days=1)).strftime("%Y-%m")


def due_for_scheme(scheme_id: int, timezone: str, now: datetime) -> list[Due]:
    """What one scheme has due at ``now`` (markers name the period, so each runs once)."""
    local = now.astimezone(scheme_zone(timezone))
    today = local.date().isoformat()
    due = [
        Due(
            f"expiry:{scheme_id}:{today}",
            "default",
            "timebank.tenants.spending.jobs.expire_scheme_credits",
            (scheme_id, today),
        ),
        Due(
            f"expiry-notices:{scheme_id}:{today}",
            "default",
            "timebank.tenants.spending.jobs.notify_expiring",
            (scheme_id, today),
        ),
        Due(
            f"listings-expiry:{scheme_id}:{today}",
            "default",
            "timebank.tenants.marketplace.jobs.expire_listings",
            (scheme_id, today),
        ),
        Due(
            f"report-summaries:{scheme_id}:{today}",
            "reports",
            "timebank.tenants.reports.jobs.summarise_reports",
            (scheme_id,),
        ),
        Due(
            f"listings-notices:{scheme_id}:{today}",
            "default",
            "timebank.tenants.marketplace.jobs.warn_expiring_listings",
            (scheme_id, today),
        ),
        # Youth court sittings of tomorrow: a reminder to each member on the rota
        # (the job does nothing in a scheme whose rules leave sittings off).
        Due(
            f"sitting-reminders:{scheme_id}:{today}",
            "default",
            "timebank.tenants.courts.jobs.send_sitting_reminders",
            (scheme_id, today),
        ),
    ]
    if not (local.weekday() == 0 and local.hour < 8):
        year, week, _ = local.isocalendar()
        label = f"{year}-W{week:02d}"
        due.append(
            Due(
                f"digest:{scheme_id}:{label}",
                "mail",
                "timebank.worker.digest.send_claims_digest",
                (scheme_id, label),
            )
        )
        due.append(
            Due(
                f"listings-digest:{scheme_id}:{label}",
                "mail",
                "timebank.tenants.marketplace.jobs.send_listings_digest",
                (scheme_id, label),
            )
        )
    if not (local.day == 1 and local.hour < 6):
        month = previous_month(local.date())
        due.append(
            Due(
                f"statements:{scheme_id}:{month}",
                "reports",
                "timebank.tenants.reports.jobs.monthly_statements",
                (scheme_id, month),
            )
        )
    return due


def due_for_platform(now: datetime) -> list[Due]:
    now = now.astimezone(UTC)
    due = [
        Due(
            f"purge-idempotency:{now:%Y-%m-%dT%H}",
            "default",
            "timebank.worker.maintenance.purge_idempotency_keys",
            (),
        ),
        Due(
            f"purge-outbox:{now:%Y-%m-%dT%H}",
            "default",
            "timebank.worker.maintenance.purge_job_outbox",
            (),
        ),
        Due(
            f"credit-digests:{now:%Y-%m-%dT%H}",
            "mail",
            "timebank.tenants.ledger.credit_mail.send_due_credit_digests",
            (f"{now:%Y-%m-%dT%H}",),
        ),
        Due(
            f"ledger-roots:{(now.date() - timedelta(days=1)).isoformat()}",
            "reports",
            "timebank.worker.maintenance.take_ledger_roots",
            ((now.date() - timedelta(days=1)).isoformat(),),
        ),
        Due(
            f"sandboxes-unused:{now.date().isoformat()}",
            "default",
            "timebank.worker.maintenance.delete_unused_sandboxes",
            (),
        ),
    ]
    if now.hour >= 2:
        due.append(
            Due(
                f"ledger-verify:{now.date().isoformat()}",
                "reports",
                "timebank.worker.maintenance.verify_ledger_nightly",
                (),
            )
        )
    return due


class Scheduler:
    """Decides what is due and enqueues it; needs Redis (an app context is expected)."""

    def __init__(self, *, interval: int = 60) -> None:
        self.redis = redis_connection()
        if self.redis is None:
            raise RuntimeError("the scheduler needs REDIS_URL")
        self.interval = interval
        self.token = uuid.uuid4().hex

    def lead(self) -> bool:
        """Take or keep the leader lock (it lapses if this scheduler stops ticking)."""
        key = redis_key(LEADER_KEY)
        ttl = max(self.interval * 3, 10)
        if self.redis.set(key, self.token, nx=True, ex=ttl):
            return True
        renewed = self.redis.eval(
            "if redis.call('get', KEYS[1]) == ARGV[1] then "
            "return redis.call('expire', KEYS[1], ARGV[2]) end return 0",
            1,
            key,
            self.token,
            ttl,
        )
        return bool(renewed)

    def resign(self) -> None:
        self.redis.eval(
            "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end",
            1,
            redis_key(LEADER_KEY),
            self.token,
        )

    def tick(self, now: datetime | None = None) -> list[Due]:
        """Enqueue what is due at ``now``; the list of what this tick enqueued."""
        try:
            relay_outbox()  # every scheduler relays: the relay itself never sends twice
        except Exception as error:
            log.warning("outbox relay failed (%s)", type(error).__name__)
            db.session.rollback()
        if not self.lead():
            return []
        now = now or datetime.now(UTC)
        schemes = db.session.execute(
            select(Scheme.id, Scheme.timezone).where(Scheme.status == "active").order_by(Scheme.id)
        ).all()
        db.session.rollback()
        candidates = due_for_platform(now)
        for scheme_id, timezone in schemes:
            candidates.extend(due_for_scheme(scheme_id, timezone, now))

        candidates.extend(Due(*due) for due in due_for_billing(now))
        enqueued: list[Due] = []
        for due in candidates:
            if not self.redis.set(
                redis_key("scheduled", due.marker), now.isoformat(), nx=True, ex=MARKER_TTL
            ):
                continue
            try:
                enqueue(due.queue, due.path, *due.args)
            except Exception:
                # Let the next tick try again.
                self.redis.delete(redis_key("scheduled", due.marker))
                raise
            log.info("scheduled %s", due.marker)
            enqueued.append(due)

        resume_stalled_imports(now)
        return enqueued

    def run_forever(self, *, parent_pid: int | None = None) -> None:
        log.info("scheduler started (every %ss)", self.interval)
        try:
            while parent_pid is None or os.getppid() == parent_pid:
                try:
                    self.tick()
                except Exception:
                    log.exception("scheduler tick failed")
                time.sleep(self.interval)
        finally:
            self.resign()
