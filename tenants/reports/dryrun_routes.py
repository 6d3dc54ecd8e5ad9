"""The policy dry-run API: a draft policy tried on the scheme's history, writing nothing."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate

from timebank.platform.api.blueprint import Blueprint
from timebank.platform.api.schemas import Strict
from timebank.tenants.access import scheme_access
from timebank.tenants.earning.schemas import Rate
from timebank.tenants.reports.dryrun import dry_run, resolve_rates

blp = Blueprint(
    "dryrun",
    __name__,
    url_prefix="/api/v1/schemes/<slug>",
    description="Policy dry-run",
    credentials="scheme",
)


class ActivityRateIn(Strict):
    activity_id = fields.Integer(strict=True, required=True, validate=validate.Range(1, 2**62))
    rate = Rate(required=True)


class DryRunIn(Strict):
    policy = fields.Dict(required=True)
    months = fields.Integer(strict=True, load_default=12, validate=validate.Range(1, 36))
    activity_rates = fields.List(fields.Nested(ActivityRateIn), load_default=list)


@blp.route("/policy/dry-run", methods=["POST"])
@blp.arguments(DryRunIn)
def policy_dry_run(body: dict[str, Any], slug: str) -> dict[str, Any]:
    """What the last months would have been under a draft policy; writes nothing."""
    access = scheme_access(slug, coordinator=True)
    rates = resolve_rates(body["activity_rates"])
    try:
        result = dry_run(access.scheme, body["policy"], months=body["months"], activity_rates=rates)
    except ValidationError as error:  # reported as fields of ``policy``: policy.claims.cap …
        raise ValidationError({"policy": error.messages}) from error
    return result.as_dict()
