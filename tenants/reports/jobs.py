"""Report jobs (RQ ``reports`` queue): monthly member statements as HTML files, and the
daily summaries of the impact reports (:mod:`.summaries`).

A statement is written to ``<statements dir>/<scheme id>/<YYYY-MM>/
member-<id>.html`` (replaced atomically, so a re-run rewrites the same file).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from timebank.platform import tenancy
from timebank.platform.db import db
from timebank.platform.jobs import job
from timebank.platform.schemes.models import Scheme
from timebank.tenants.memberships.models import Member
from timebank.tenants.reports import impact
from timebank.tenants.reports.statements import build_statement, render_statement_html

log = logging.getLogger(__name__)


def statements_dir() -> Path:
    """``STATEMENTS_DIR`` (config or ``TIMEBANK_STATEMENTS_DIR``), else ``<instance>/statements``."""
    configured = current_app.config.get("STATEMENTS_DIR") or os.environ.get(
        "TIMEBANK_STATEMENTS_DIR"
    )
    return Path(configured) if configured else Path(current_app.instance_path) / "statements"


def statement_path(scheme_id: int, member_id: int, month: str) -> Path:
    return statements_dir() / str(scheme_id) / month / f"member-{member_id}.html"


def _write(scheme: Scheme, member_id: int, month: str) -> Path:
    html = render_statement_html(build_statement(scheme, member_id, month))
    path = statement_path(scheme.id, member_id, month)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(html, encoding="utf-8")
    partial.replace(path)
    return path


@job
def render_statement(scheme_id: int, member_id: int, month: str) -> str:
    """Write one member's statement for ``month`` (YYYY-MM); the file's path."""
    scheme = db.session.get(Scheme, scheme_id)
    if scheme is None:
        raise LookupError(f"no scheme {scheme_id}")
    with tenancy.scheme_context(scheme.id):
        path = _write(scheme, member_id, month)
        db.session.rollback()
    return str(path)


@job
def monthly_statements(scheme_id: int, month: str) -> int:
    """Write the statement of every current member for ``month``; how many were written."""
    scheme = db.session.get(Scheme, scheme_id)
    if scheme is None:
        return 0
    with tenancy.scheme_context(scheme.id):
        member_ids = list(
            db.session.execute(
                select(Member.id).where(Member.status != "left").order_by(Member.id)
            ).scalars()
        )
        for member_id in member_ids:
            _write(scheme, member_id, month)
        db.session.rollback()
    log.info("statements for %s %s: %d members", scheme.slug, month, len(member_ids))
    return len(member_ids)


@job
def summarise_reports(scheme_id: int, rebuild: bool = False) -> int:
    """Bring the scheme's report summaries up to yesterday (local); days summarised."""
    scheme = db.session.get(Scheme, scheme_id)
    if scheme is None:
        return 0
    with tenancy.scheme_context(scheme.id):
        days = impact.summarise_scheme(scheme, rebuild=rebuild)
        db.session.commit()
    log.info("report summaries for %s: %d days", scheme.slug, days)
    return days
