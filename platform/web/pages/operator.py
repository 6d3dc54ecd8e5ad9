"""The operator console: every scheme with its usage, suspension with a reason, platform figures."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, or_, select
from werkzeug.exceptions import NotFound

from timebank.platform import tenancy
from timebank.platform.api.pagination import keyset_page
from timebank.platform.audit import AuditEvent
from timebank.platform.billing.plans import PLANS, describe_for_operators, set_plan_by_hand
from timebank.platform.db import db
from timebank.platform.identity.auth import require_operator
from timebank.platform.identity.models import User
from timebank.platform.operators import services as operators
from timebank.platform.schemes.models import Scheme
from timebank.platform.web.forms import Form, Submission, read_optional_text
from timebank.tenants.reports import impact
from timebank.tenants.reports.services import scheme_usage
from timebank.worker import failed, maintenance

bp = Blueprint("operator", __name__, url_prefix="/operator")


@bp.before_request
def _operators_only() -> Any:
    if not current_user.is_authenticated:
        return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
    require_operator()  # 403 page for everyone else
    return None


@bp.route("/")
def console() -> Any:
    return _console(Form(), None, 200)


CONSOLE_PAGE = 25


def _console(form: Form, failed_slug: str | None, status: int) -> Any:
    query = (request.args.get("q") or "").strip()[:100]
    statement = select(Scheme)
    if query:
        pattern = "%" + query.lower().replace("\\", "").replace("%", "").replace("_", "\\_") + "%"
        statement = statement.where(
            or_(
                func.lower(Scheme.name).like(pattern, escape="\\"),
                Scheme.slug.like(pattern, escape="\\"),
            )
        )
    rows, next_cursor = keyset_page(
        statement,
        keys=[Scheme.id],
        limit=CONSOLE_PAGE,
        cursor=request.args.get("cursor") or None,
        descending=False,
        key_of=lambda scheme: [scheme.id],
    )
    schemes = operators.describe_schemes(rows)
    usage = scheme_usage([row.id for row in rows])
    for scheme, row in zip(schemes, rows, strict=True):
        scheme["usage"] = usage.get(row.id, {"transactions": 0, "minutes": 0})
    return render_template(
        "operator/console.html",
        stats=operators.platform_stats(),
        schemes=schemes,
        next_cursor=next_cursor,
        first_page=not request.args.get("cursor"),
        query=query,
        form=form,
        failed_slug=failed_slug,
        none_form=Form(),
    ), status


@bp.route("/schemes/<slug>")
def scheme_page(slug: str) -> Any:
    """One scheme for an operator: members, activity, billing, audit; suspend or reactivate."""
    row = db.session.execute(select(Scheme).where(Scheme.slug == slug)).scalar_one_or_none()
    if row is None:
        raise NotFound("No scheme with this address.")
    scheme = describe_for_operators([row])[0]
    month = scheme_usage([row.id]).get(row.id, {"transactions": 0, "minutes": 0})
    quarter = scheme_usage([row.id], days=90).get(row.id, {"transactions": 0, "minutes": 0})
    with tenancy.scheme_context(row.id):
        events = db.session.execute(
            select(AuditEvent, User.name)
            .outerjoin(User, User.id == AuditEvent.actor_user_id)
            .where(AuditEvent.scheme_id == row.id)
            .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
            .limit(AUDIT_SHOWN)
        ).all()
    return render_template(
        "operator/scheme.html",
        scheme=scheme,
        month=month,
        quarter=quarter,
        events=[(event, actor) for event, actor in events],
        form=Form(),
    )


AUDIT_SHOWN = 30


@bp.route("/schemes/<slug>/<any(suspend, reactivate):action>", methods=["POST"])
def change_status(slug: str, action: str) -> Any:
    operator = require_operator()
    form = Form.from_request()
    with Submission(form, {"reason": "reason"}) as sent:
        reason = read_optional_text(form, "reason")
        if action == "suspend" and not reason:
            form.add("reason", "Say why, in words the scheme's members will read.")
        form.check()
        scheme = operators.change_scheme_status(
            slug,
            "suspended" if action == "suspend" else "active",
            actor=operator,
            reason=reason if action == "suspend" else None,
        )
    if sent.ok:
        flash(f"{scheme.name} is now {scheme.status}.")
        if request.form.get("back") == "scheme":
            return redirect(url_for("operator.scheme_page", slug=scheme.slug))
        return redirect(url_for("operator.console"))
    return _console(form, slug, sent.status)


# --- billing and background work (the API had them; now pages too) ---------


@bp.route("/billing")
def billing() -> Any:
    return _billing(Form(), None, 200)


def _billing(form: Form, failed_slug: str | None, status: int) -> Any:
    rows, next_cursor = operators.scheme_page(CONSOLE_PAGE, request.args.get("cursor") or None)
    return render_template(
        "operator/billing.html",
        schemes=describe_for_operators(rows),
        plans=[(plan, plan) for plan in PLANS],
        next_cursor=next_cursor,
        first_page=not request.args.get("cursor"),
        form=form,
        failed_slug=failed_slug,
        none_form=Form(),
    ), status


@bp.route("/billing/<slug>/plan", methods=["POST"])
def set_plan(slug: str) -> Any:
    operator = require_operator()
    form = Form.from_request()
    with Submission(form, {"plan": "plan", "reason": "reason"}) as sent:
        scheme = set_plan_by_hand(
            slug,
            request.form.get("plan", ""),
            actor=operator,
            reason=read_optional_text(form, "reason"),
        )
    if sent.ok:
        flash(f"{scheme.name} is now on the {scheme.plan} plan.")
        return redirect(url_for("operator.billing"))
    return _billing(form, slug, sent.status)


@bp.route("/jobs")
def jobs() -> Any:
    items, next_cursor = failed.failed_jobs(
        limit=CONSOLE_PAGE, cursor=request.args.get("cursor") or None
    )
    return render_template(
        "operator/jobs.html",
        jobs=items,
        next_cursor=next_cursor,
        first_page=not request.args.get("cursor"),
        ledger=maintenance.last_ledger_check(),
    )


@bp.route("/jobs/<job_id>/retry", methods=["POST"])
def retry_job(job_id: str) -> Any:
    require_operator()
    done = failed.retry_failed(job_id[:100])
    flash(f"The job is back on the {done['queue']} queue.")
    return redirect(url_for("operator.jobs"))


@bp.route("/impact")
def impact_page() -> Any:
    """Figures across schemes for a period: aggregates per scheme and totals, no people."""
    preset = request.args.get("preset") or "month"
    if preset not in impact.PRESETS:
        preset = "month"
    first, last = impact.resolve_period(None, None, None, preset)
    return render_template(
        "operator/impact.html",
        report=impact.platform_report(first, last),
        preset=preset,
        presets=impact.PRESETS,
    )
