"""Operators' view of background work: failed jobs (retryable) and the last ledger check."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from timebank.platform.api.blueprint import Blueprint
from timebank.platform.api.pagination import page, page_schema
from timebank.platform.api.schemas import PageQuery
from timebank.worker import failed, maintenance

blp = Blueprint(
    "jobs",
    __name__,
    url_prefix="/api/v1/platform/jobs",
    description="Background jobs",
    credentials="operator",
)


class FailedJobOut(Schema):
    id = fields.String()
    func = fields.String(allow_none=True)
    queue = fields.String()
    args = fields.String()
    exc_info = fields.String()
    failed_at = fields.DateTime(allow_none=True)
    retries_left = fields.Integer(allow_none=True)


FailedJobPage = page_schema(FailedJobOut, "FailedJobPage")


class RetriedOut(Schema):
    id = fields.String()
    queue = fields.String()
    status = fields.String()


class LedgerCheckOut(Schema):
    checked_at = fields.String(allow_none=True)
    ok = fields.Boolean(allow_none=True)
    breaks = fields.List(fields.String())
    warnings = fields.List(fields.String())


@blp.route("/failed")
@blp.arguments(PageQuery, location="query")
@blp.response(200, FailedJobPage)
def list_failed(args: dict[str, Any]) -> dict[str, Any]:
    """Jobs that failed after their retries, most recent first."""
    items, cursor = failed.failed_jobs(limit=args["limit"], cursor=args["cursor"])
    return page(items, cursor)


@blp.route("/failed/<job_id>/retry", methods=["POST"])
@blp.response(200, RetriedOut)
def retry(job_id: str) -> dict[str, Any]:
    """Put a failed job back on its queue."""
    return failed.retry_failed(job_id)


@blp.route("/ledger-check")
@blp.response(200, LedgerCheckOut)
def ledger_check() -> dict[str, Any]:
    """The result of the last nightly ledger verification."""
    return maintenance.last_ledger_check()
