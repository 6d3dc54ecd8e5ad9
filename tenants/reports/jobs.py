"""Report jobs (RQ ``reports`` queue): monthly member and partner statements, and the
daily summaries of the impact reports (:mod:`.summaries`).

A member's statement is written to ``<statements dir>/<scheme id>/<YYYY-MM>/
member-<id>.html``, a partner's to ``…/partner-<id>.csv`` (per day and per
offer) with its figures kept in ``partner_statements`` (replaced atomically,
so a re-run rewrites the same file and keeps the row).
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from timebank.platform import tenancy
from timebank.platform.db import db
from timebank.platform.jobs import job
from timebank.platform.schemes.models import Scheme
from timebank.tenants.memberships.models import Member
from timebank.tenants.partners.statements import write_monthly
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
    _replace(path, html)
    return path


def _replace(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


def partner_statement_path(scheme_id: int, partner_id: int, month: str) -> Path:
    return statements_dir() / str(scheme_id) / month / f"partner-{partner_id}.csv"


def _write_partners(scheme: Scheme, month: str) -> int:
    first = datetime.strptime(month, "%Y-%m").date()
    written = write_monthly(scheme, first)
    for partner_id, text in written:
        _replace(partner_statement_path(scheme.id, partner_id, month), text)
    return len(written)


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
        partners = _write_partners(scheme, month)
    log.info(
        "statements for %s %s: %d members, %d partners",
        scheme.slug,
        month,
        len(member_ids),
        partners,
    )
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
