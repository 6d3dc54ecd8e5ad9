"""Scheme sign-up from templates, slugs, and the versioned policy document."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tests.factories import World, make_user, problem

TEMPLATES = ("surgery", "school", "youth_court", "community")


@pytest.mark.parametrize("template", TEMPLATES)
def test_sign_up_a_scheme_from_each_template(app: Flask, world: World, template: str) -> None:
    founder = make_user(app)
    api = world.api(founder)
    slug = f"new-{template.replace('_', '-')}"
    response = api.post(
        "/api/v1/schemes",
        {
            "name": f"New {template}",
            "slug": slug,
            "template": template,
            "timezone": "America/Chicago",
        },
    )
    assert response.status_code == 201, response.data
    body = response.get_json()
    assert body == body | {
        "slug": slug,
        "template": template,
        "status": "active",
        "timezone": "America/Chicago",
    }
    me = api.get("/api/v1/me").get_json()
    assert [(m["scheme"], m["role"]) for m in me["memberships"]] == [(slug, "coordinator")]
    policy = api.get(f"/api/v1/schemes/{slug}/policy").get_json()
    assert policy["version"] == 1
    if template == "school":
        assert policy["peer_transfers"]["enabled"] is False
        assert policy["balance"]["min"] == 0
    if template == "community":
        assert policy["peer_transfers"]["enabled"] is True
        assert policy["balance"]["min"] < 0
    # The other schemes saw nothing of it.
    assert world.api(world.a.coordinator).get(f"/api/v1/schemes/{slug}").status_code == 404


def test_default_timezone_is_london(app: Flask, world: World) -> None:
    api = world.api(make_user(app))
    body = api.post(
        "/api/v1/schemes", {"name": "X", "slug": "xyz-bank", "template": "surgery"}
    ).get_json()
    assert body["timezone"] == "Europe/London"


@pytest.mark.parametrize(
    ("slug", "field"),
    [
        ("ab", "slug"),
        ("Upper-Case", "slug"),
        ("-leading", "slug"),
        ("trailing-", "slug"),
        ("has space", "slug"),
        ("a" * 41, "slug"),
        ("admin", "slug"),
        ("api", "slug"),
    ],
)
def test_bad_slugs_are_refused(app: Flask, world: World, slug: str, field: str) -> None:
    api = world.api(make_user(app))
    response = api.post("/api/v1/schemes", {"name": "X", "slug": slug, "template": "surgery"})
    assert response.status_code == 422
    assert field in problem(response)["errors"]


def test_duplicate_slug_is_409_and_bad_template_or_timezone_422(app: Flask, world: World) -> None:
    api = world.api(make_user(app))
    taken = api.post("/api/v1/schemes", {"name": "X", "slug": world.a.slug, "template": "surgery"})
    assert taken.status_code == 409 and problem(taken)["code"] == "slug_taken"
    bad = api.post("/api/v1/schemes", {"name": "X", "slug": "fine-slug", "template": "bank"})
    assert bad.status_code == 422 and "template" in problem(bad)["errors"]
    tz = api.post(
        "/api/v1/schemes",
        {"name": "X", "slug": "fine-slug", "template": "surgery", "timezone": "Mars/Base"},
    )
    assert tz.status_code == 422 and "timezone" in problem(tz)["errors"]
    assert api.get("/api/v1/me").get_json()["memberships"] == []


def _policy(api: Any, slug: str) -> dict[str, Any]:
    response = api.get(f"/api/v1/schemes/{slug}/policy")
    assert response.status_code == 200
    return response.get_json()  # type: ignore[no-any-return]


def test_policy_change_makes_a_new_version_and_keeps_the_old(app: Flask, world: World) -> None:
    api = world.api(world.a.coordinator)
    slug = world.a.slug
    before = _policy(api, slug)
    # Read-only fields a GET returns (version, id) are ignored on PUT.
    changed = dict(before, id=123, peer_transfers={"enabled": True, "max_amount": 90})
    response = api.put(f"/api/v1/schemes/{slug}/policy", changed)
    assert response.status_code == 200, response.data
    assert response.get_json()["version"] == before["version"] + 1
    assert response.get_json()["peer_transfers"]["max_amount"] == 90
    old = api.get(f"/api/v1/schemes/{slug}/policy?version={before['version']}").get_json()
    assert old == before
    versions = api.get(f"/api/v1/schemes/{slug}/policy/versions").get_json()
    assert versions[0]["changes"] == ["peer_transfers.max_amount"]
    # Members read it; only coordinators change it.
    member = world.api(world.a.members[0])
    assert (
        member.get(f"/api/v1/schemes/{slug}/policy").get_json()["version"] == before["version"] + 1
    )
    refused = member.put(f"/api/v1/schemes/{slug}/policy", changed)
    assert refused.status_code == 403 and problem(refused)["code"] == "coordinator_only"
    # The other scheme's policy is untouched.
    assert _policy(world.api(world.b.coordinator), world.b.slug)["version"] == 1


def test_policy_change_is_audited(app: Flask, world: World) -> None:
    from sqlalchemy import select

    from timebank.platform import tenancy
    from timebank.platform.audit import AuditEvent
    from timebank.platform.db import db

    api = world.api(world.a.coordinator)
    policy = _policy(api, world.a.slug)
    policy["claims"]["cap"] = {"minutes": 600, "period": "week"}
    assert api.put(f"/api/v1/schemes/{world.a.slug}/policy", policy).status_code == 200
    with app.app_context(), tenancy.scheme_context(world.a.id):
        event = (
            db.session.execute(
                select(AuditEvent)
                .where(AuditEvent.action == "policy.changed")
                .order_by(AuditEvent.id.desc())
            )
            .scalars()
            .first()
        )
        assert event is not None
        assert event.actor_user_id == world.a.coordinator.user_id
        assert event.details["changes"] == ["claims.cap.minutes", "claims.cap.period"]
        assert event.details["after"]["claims.cap.period"] == "week"
    with app.app_context(), tenancy.scheme_context(world.b.id):
        assert not db.session.execute(
            select(AuditEvent).where(
                AuditEvent.action == "policy.changed", AuditEvent.target != "policy:1"
            )
        ).first()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"claims": {"cap": {"minutes": 60, "period": "fortnight"}}}, "claims.cap.period"),
        ({"balance": {"min": 10, "max": None}}, "balance.min"),
        ({"balance": {"min": -60, "max": -10}}, "balance.max"),
        ({"peer_transfers": {"enabled": "yes", "max_amount": None}}, "peer_transfers.enabled"),
        ({"privacy": {"member_directory": "public"}}, "privacy.member_directory"),
        ({"surprise": True}, "surprise"),
        ({"peer_transfers": {"enabled": True, "max_amount": 1.5}}, "peer_transfers.max_amount"),
    ],
)
def test_invalid_policy_is_refused_with_dotted_field_errors(
    app: Flask, world: World, change: dict[str, Any], field: str
) -> None:
    api = world.api(world.a.coordinator)
    policy = _policy(api, world.a.slug)
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(policy.get(key), dict):
            policy[key] = {**policy[key], **value}
        else:
            policy[key] = value
    response = api.put(f"/api/v1/schemes/{world.a.slug}/policy", policy)
    assert response.status_code == 422, response.data
    body = problem(response)
    assert body["code"] == "validation_error"
    assert field in body["errors"], body["errors"]
    assert _policy(api, world.a.slug)["version"] == 1


def test_missing_policy_section_and_unknown_version(app: Flask, world: World) -> None:
    api = world.api(world.a.coordinator)
    policy = _policy(api, world.a.slug)
    del policy["claims"]
    response = api.put(f"/api/v1/schemes/{world.a.slug}/policy", policy)
    assert response.status_code == 422 and "claims" in problem(response)["errors"]
    assert api.get(f"/api/v1/schemes/{world.a.slug}/policy?version=99").status_code == 404
    bad = api.get(f"/api/v1/schemes/{world.a.slug}/policy?version=abc")
    assert bad.status_code == 422 and "version" in problem(bad)["errors"]


def test_templates_give_valid_policies_activities_and_rewards() -> None:
    from timebank.tenants.policy.schemas import validate_policy
    from timebank.tenants.templates import load_template

    for name in TEMPLATES:
        data = load_template(name)
        validate_policy(data["policy"])
        assert len(data["activities"]) >= 3 and len(data["rewards"]) >= 3
