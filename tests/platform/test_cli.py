"""The `timebank` command: demo data and the README's promises."""

from __future__ import annotations

from flask import Flask


def test_demo_seeds_four_sector_schemes_idempotently(app: Flask) -> None:
    from sqlalchemy import func, select

    from timebank.platform import tenancy
    from timebank.platform.db import db
    from timebank.platform.schemes.models import Scheme
    from timebank.tenants.memberships.models import Member

    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "--password", "demo-password"])
    assert first.exit_code == 0, first.output
    assert (
        "ruth@rusheygreen.example" in first.output and "operator@timebank.example" in first.output
    )
    second = runner.invoke(args=["demo", "--password", "demo-password"])
    assert second.exit_code == 0, second.output
    with app.app_context():
        templates = dict(db.session.execute(select(Scheme.slug, Scheme.template)).all())
        assert sorted(templates.values()) == ["community", "school", "surgery", "youth_court"]
        with tenancy.all_schemes():
            per_user = db.session.execute(
                select(Member.user_id, func.count()).group_by(Member.user_id)
            ).all()
    assert max(count for _, count in per_user) >= 2  # people in more than one scheme
    client = app.test_client()
    token = client.post(
        "/api/v1/tokens", json={"email": "alan@rusheygreen.example", "password": "demo-password"}
    )
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token.get_json()['token']}"})
    assert {m["scheme"] for m in me.get_json()["memberships"]} == {"rushey-green", "grace-hill"}
    alan = {"Authorization": f"Bearer {token.get_json()['token']}"}
    listings = client.get("/api/v1/schemes/grace-hill/listings", headers=alan).get_json()
    assert len(listings["items"]) == 2  # seeded once, though demo ran twice
    done = client.get("/api/v1/schemes/grace-hill/responses?status=completed", headers=alan)
    assert len(done.get_json()["items"]) == 1
    verify = runner.invoke(args=["ledger", "verify"])
    assert verify.exit_code == 0, verify.output
