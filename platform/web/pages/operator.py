"""The operator console: every scheme with its usage, suspension with a reason, platform figures."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from timebank.platform.api.pagination import keyset_page
from timebank.platform.identity.auth import require_operator
from timebank.platform.operators import services as operators
from timebank.platform.schemes.models import Scheme
from timebank.platform.web.forms import Form, Submission, read_optional_text
from timebank.tenants.reports.services import scheme_usage

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


def _console(form: Form, failed_slug: str | None, status: int) -> Any:
    rows, next_cursor = keyset_page(
        select(Scheme),
        keys=[Scheme.id],
        limit=100,
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
        form=form,
        failed_slug=failed_slug,
        none_form=Form(),
    ), status


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
        return redirect(url_for("operator.console"))
    return _console(form, slug, sent.status)
