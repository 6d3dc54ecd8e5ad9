"""Reading and changing a scheme's policy document.

Policy versions are immutable, so a version once read is cached in-process by
``(scheme_id, version)``; the hot path (posting) costs no query for it.
"""

from __future__ import annotations

import copy
from typing import Any

from flask import current_app
from sqlalchemy import select

from timebank.platform import audit
from timebank.platform.api.errors import NotFound
from timebank.platform.db import atomic, db
from timebank.platform.schemes.models import Scheme
from timebank.tenants.policy.models import PolicyVersion
from timebank.tenants.policy.schemas import (
    GROUPS_DEFAULTS,
    LISTINGS_DEFAULTS,
    MINORS_DEFAULTS,
    ORDERS_DEFAULTS,
    REFERRALS_DEFAULTS,
    WELLBEING_DEFAULTS,
    sittings_default,
    validate_policy,
)


def _cache() -> dict[tuple[int, int], dict[str, Any]]:
    return current_app.extensions.setdefault("timebank.policy_cache", {})  # type: ignore[no-any-return]


def policy_document(scheme: Scheme, version: int | None = None) -> dict[str, Any]:
    """The policy in force (or an older ``version``), with its ``version`` field."""
    wanted = version or scheme.policy_version
    key = (scheme.id, wanted)
    cache = _cache()
    cached = cache.get(key)
    if cached is None:
        row = db.session.execute(
            select(PolicyVersion).where(PolicyVersion.version == wanted)
        ).scalar_one_or_none()
        if row is None:
            raise NotFound(f"This scheme has no policy version {wanted}.")
        cached = {"version": row.version, **row.document}
        # Sections added after a version was written read as their defaults.
        cached.setdefault("listings", dict(LISTINGS_DEFAULTS))
        # Keys added to a section later (``minors.approved_activities_only``) too.
        cached["minors"] = {**MINORS_DEFAULTS, **cached.get("minors", {})}
        cached.setdefault("sittings", sittings_default())
        cached.setdefault("orders", dict(ORDERS_DEFAULTS))
        cached.setdefault("groups", dict(GROUPS_DEFAULTS))
        cached.setdefault("referrals", dict(REFERRALS_DEFAULTS))
        cached.setdefault("wellbeing", dict(WELLBEING_DEFAULTS))
        cache[key] = cached
    return copy.deepcopy(cached)


def current_policy(scheme: Scheme) -> dict[str, Any]:
    """The policy in force, for reading only (shared; do not mutate)."""
    key = (scheme.id, scheme.policy_version)
    cache = _cache()
    if key not in cache:
        policy_document(scheme)
    return cache[key]


def list_versions(scheme: Scheme) -> list[PolicyVersion]:
    return list(
        db.session.execute(select(PolicyVersion).order_by(PolicyVersion.version.desc())).scalars()
    )


def diff_paths(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted paths whose values differ between two documents."""
    if isinstance(old, dict) and isinstance(new, dict):
        changed: list[str] = []
        for key in sorted(set(old) | set(new)):
            path = f"{prefix}.{key}" if prefix else key
            changed.extend(diff_paths(old.get(key), new.get(key), path))
        return changed
    return [] if old == new else [prefix]


def write_version(scheme: Scheme, document: dict[str, Any], *, actor_user_id: int | None) -> int:
    """Store ``document`` as the next version (inside the caller's unit of work)."""
    previous = policy_document(scheme) if scheme.policy_version else {}
    previous.pop("version", None)
    changes = diff_paths(previous, document) if previous else ["*"]
    version = scheme.policy_version + 1
    db.session.add(
        PolicyVersion(
            scheme_id=scheme.id,
            version=version,
            document=document,
            changes=changes,
            created_by=actor_user_id,
        )
    )
    scheme.policy_version = version
    audit.record(
        scheme.id,
        "policy.changed",
        actor_user_id=actor_user_id,
        target=f"policy:{version}",
        details={
            "changes": changes,
            "before": {p: _at(previous, p) for p in changes if p != "*"},
            "after": {p: _at(document, p) for p in changes if p != "*"},
        },
    )
    return version


def _at(document: dict[str, Any], path: str) -> Any:
    value: Any = document
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


@atomic
def update_policy(scheme: Scheme, document: Any, *, actor_user_id: int) -> dict[str, Any]:
    """Validate and store a new version; raises ``ValidationError`` and changes nothing."""
    cleaned = validate_policy(document)
    db.session.refresh(scheme, with_for_update=True)
    current = policy_document(scheme)
    current.pop("version", None)
    if current == cleaned:
        return policy_document(scheme)
    write_version(scheme, cleaned, actor_user_id=actor_user_id)
    db.session.flush()
    return {"version": scheme.policy_version, **cleaned}
