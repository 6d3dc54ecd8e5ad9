"""Policy API: the scheme's rule document and its versions."""

from __future__ import annotations

from typing import Any

from flask import request

from timebank.platform.api.blueprint import Blueprint
from timebank.platform.api.errors import FieldError
from timebank.tenants.access import scheme_access
from timebank.tenants.policy import services
from timebank.tenants.policy.schemas import PolicyQuery, PolicySchema, PolicyVersionSummary

blp = Blueprint(
    "policy",
    __name__,
    url_prefix="/api/v1/schemes/<slug>",
    description="Policy",
    credentials="scheme",
)


@blp.route("/policy")
@blp.arguments(PolicyQuery, location="query")
@blp.response(200, PolicySchema)
def get_policy(args: dict[str, Any], slug: str) -> dict[str, Any]:
    access = scheme_access(slug)
    return services.policy_document(access.scheme, args.get("version"))


@blp.route("/policy", methods=["PUT"])
@blp.arguments(PolicySchema)
@blp.response(200, PolicySchema)
def put_policy(body: dict[str, Any], slug: str) -> dict[str, Any]:
    access = scheme_access(slug, write=True, coordinator=True)
    if not isinstance(request.get_json(silent=True), dict):
        raise FieldError("_schema", "The policy must be a JSON object.")
    return services.update_policy(access.scheme, body, actor_user_id=access.user.id)


@blp.route("/policy/versions")
@blp.response(200, PolicyVersionSummary(many=True))
def policy_versions(slug: str) -> Any:
    access = scheme_access(slug)
    return services.list_versions(access.scheme)
