"""The coordinator's "try these rules first" page: the policy editor's draft replayed
on the last months (:mod:`timebank.tenants.reports.dryrun`), side by side with the
rules in force, before anything is saved."""

from __future__ import annotations

from typing import Any

from flask import request

from timebank.platform.web.forms import Form, Submission
from timebank.platform.web.pages.common import page_access, render
from timebank.platform.web.pages.manage import bp
from timebank.platform.web.pages.manage_catalogue import (
    CHANGE_WORDS,
    POLICY_FIELDS,
    _value_at,
    policy_document,
    rule_words,
    rules_history,
)
from timebank.tenants.ledger.services import member_names
from timebank.tenants.policy import services as policies
from timebank.tenants.reports.dryrun import dry_run

MONTHS = 12
# The rules shown side by side, in the editor's order.
COMPARED = ("balance.min", "balance.max", "peer_transfers.enabled", "peer_transfers.max_amount",
            "claims.enabled", "claims.approval", "claims.max_minutes_per_claim", "claims.cap",
            "claims.max_age_days", "rewards.enabled", "expiry")  # fmt: skip


def side_by_side(current: dict[str, Any], draft: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for path in COMPARED:
        now, then = _value_at(current, path), _value_at(draft, path)
        rows.append(
            {
                "rule": CHANGE_WORDS[path],
                "current": rule_words(path, now),
                "draft": rule_words(path, then),
                "changed": now != then,
            }
        )
    return rows


@bp.route("/rules/try", methods=["POST"])
def try_rules(slug: str) -> Any:
    """Replay the last months under the rules in the form; nothing is saved."""
    access = page_access(coordinator=True)
    current = policies.policy_document(access.scheme)
    current.pop("version", None)
    form = Form.from_request()
    outcome: dict[str, Any] | None = None
    rows: list[dict[str, Any]] = []
    with Submission(form, POLICY_FIELDS) as sent:
        draft = policy_document(form, current)  # the form's sections over the kept ones
        result = dry_run(access.scheme, draft, months=MONTHS)
        rows = side_by_side(current, draft)
        outcome = result.as_dict()
        names = member_names(
            {r.member_id for r in result.refusals if r.member_id is not None}
            | set(result.outside_limits)
        )
        outcome["whose"] = sorted(
            {names.get(r.member_id, "A former member") for r in result.refusals if r.member_id}
        )
        outcome["outside_names"] = [names.get(i, "A former member") for i in result.outside_limits]
    return render(
        "manage/policy.html",
        sent.status if not sent.ok else 200,
        form=form,
        version=current.get("version") or access.scheme.policy_version,
        versions=rules_history(policies.list_versions(access.scheme)),
        trial=outcome,
        compared=rows,
        months=MONTHS,
        tried=request.method == "POST",
    )
