"""Sandbox schemes: generated people and history, go-live, reset, mail, billing, figures, expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from tests.factories import Person, World, make_operator, make_user, problem
from timebank.platform import tenancy
from timebank.platform.db import db
from timebank.platform.identity.models import User
from timebank.platform.mail import send_mail
from timebank.platform.schemes.models import Scheme
from timebank.platform.schemes.sandboxes import delete_unused
from timebank.tenants.earning.models import Activity, Claim
from timebank.tenants.ledger.models import Transaction
from timebank.tenants.ledger.verify import verify_ledger
from timebank.tenants.memberships.models import Member
from timebank.tenants.partners.models import Partner
from timebank.tenants.policy.models import PolicyVersion
from timebank.tenants.spending.models import Reward


def create(world: World, person: Person, slug: str, template: str = "school") -> Any:
    return world.api(person).post(
        "/api/v1/schemes",
        {"name": f"Try {slug}", "slug": slug, "template": template, "sandbox": True},
    )


def counts(app: Flask, slug: str) -> dict[str, int]:
    with app.app_context():
        scheme_id = db.session.execute(select(Scheme.id).where(Scheme.slug == slug)).scalar_one()
        with tenancy.scheme_context(scheme_id):
            return {
                model.__tablename__: int(
                    db.session.execute(select(func.count()).select_from(model)).scalar_one()
                )
                for model in (Member, Claim, Transaction, Activity, Reward, PolicyVersion, Partner)
            }


def test_a_sandbox_has_generated_people_and_history_and_goes_live(app: Flask, world: World) -> None:
    person = make_user(app)
    response = create(world, person, "try-school")
    assert response.status_code == 201, response.data
    assert response.get_json()["sandbox"] is True
    filled = counts(app, "try-school")
    assert filled["members"] == 11 and filled["claims"] > 10 and filled["transactions"] > 10
    before = counts(app, world.a.slug)

    # Rules are kept through go-live: change one first.
    policy = world.api(person).get("/api/v1/schemes/try-school/policy").get_json()
    policy["claims"]["max_minutes_per_claim"] = 200
    assert world.api(person).put("/api/v1/schemes/try-school/policy", policy).status_code == 200
    # Partners are kept too (their accounts with them).
    partner = world.api(person).post(
        "/api/v1/schemes/try-school/partners", {"name": "The Book Swap", "area": "Catford"}
    )
    assert partner.status_code == 201, partner.data

    live = world.api(person).post("/api/v1/schemes/try-school/go-live")
    assert live.status_code == 200, live.data
    assert live.get_json() == {"slug": "try-school", "sandbox": False}
    after = counts(app, "try-school")
    assert after["members"] == 1 and after["claims"] == 0 and after["transactions"] == 0
    assert after["activities"] == filled["activities"] and after["rewards"] == filled["rewards"]
    assert after["policy_versions"] == filled["policy_versions"] + 1
    assert after["partners"] == 1
    kept = world.api(person).get("/api/v1/schemes/try-school/policy").get_json()
    assert kept["claims"]["max_minutes_per_claim"] == 200
    with app.app_context():
        report = verify_ledger("try-school")
        assert report.breaks == [], report.lines()
        generated = db.session.execute(
            select(func.count()).select_from(User).where(User.email.like("%@sandbox.invalid"))
        ).scalar_one()
        assert generated == 0
    # A live scheme cannot be wiped or reset, and another scheme was never touched.
    again = world.api(person).post("/api/v1/schemes/try-school/go-live")
    assert again.status_code == 422 and problem(again)["code"] == "not_a_sandbox"
    reset = world.api(world.a.coordinator).post(f"/api/v1/schemes/{world.a.slug}/sandbox/reset")
    assert reset.status_code == 422 and problem(reset)["code"] == "not_a_sandbox"
    assert counts(app, world.a.slug) == before


def test_reset_and_who_may(app: Flask, world: World) -> None:
    person = make_user(app)
    assert create(world, person, "try-reset", template="community").status_code == 201
    first = counts(app, "try-reset")
    reset = world.api(person).post("/api/v1/schemes/try-reset/sandbox/reset")
    assert reset.status_code == 200, reset.data
    assert counts(app, "try-reset")["members"] == first["members"]
    # Another scheme's coordinator: not theirs, so not there.
    other = world.api(world.a.coordinator).post("/api/v1/schemes/try-reset/go-live")
    assert other.status_code == 404
    assert (
        world.api(world.a.coordinator).post("/api/v1/schemes/try-reset/sandbox/reset").status_code
        == 404
    )


def test_mail_from_a_sandbox_goes_only_to_its_coordinator(
    app: Flask, world: World, outbox: Path
) -> None:
    person = make_user(app)
    assert create(world, person, "try-mail").status_code == 201
    for eml in outbox.glob("*.eml"):
        eml.unlink()  # whatever the generator caused (it sends none to anybody else anyway)
    with app.app_context():
        sandbox_id = db.session.execute(
            select(Scheme.id).where(Scheme.slug == "try-mail")
        ).scalar_one()
        context = {"name": "X", "scheme_name": "Try", "status_text": "active",
                   "suspended": False, "reason": None, "link": "/"}  # fmt: skip
        with tenancy.scheme_context(sandbox_id):
            for to in (person.email, "stranger@example.test", "sandbox-1-1@sandbox.invalid"):
                send_mail(to=to, template="scheme_status", context=context)
        with tenancy.scheme_context(world.a.id):
            send_mail(to="stranger@example.test", template="scheme_status", context=context)
        db.session.commit()
    recipients = sorted(
        line.split(":", 1)[1].strip()
        for eml in outbox.glob("*.eml")
        for line in eml.read_text().splitlines()
        if line.startswith("To:")
    )
    assert recipients == sorted([person.email, "stranger@example.test"])  # the 2nd: scheme A


def test_sandboxes_count_nowhere(app: Flask, world: World) -> None:
    operator = make_operator(app)
    before = world.api(operator).get("/api/v1/platform/stats").get_json()
    person = make_user(app)
    assert create(world, person, "try-stats").status_code == 201
    assert world.api(operator).get("/api/v1/platform/stats").get_json() == before
    listing = world.api(operator).get("/api/v1/schemes?all=true&limit=100").get_json()
    with app.app_context():
        from timebank.platform.billing.usage import subscribed_scheme_ids, sync_usage

        sandbox_id = db.session.execute(
            select(Scheme.id).where(Scheme.slug == "try-stats")
        ).scalar_one()
        assert sandbox_id not in subscribed_scheme_ids()
        assert sync_usage(sandbox_id) is None
    assert listing is not None


def test_unused_sandboxes_are_deleted_after_30_days(app: Flask, world: World) -> None:
    person = make_user(app)
    assert create(world, person, "try-expire").status_code == 201
    before_a = counts(app, world.a.slug)
    now = datetime.now(UTC)
    with app.app_context():
        assert delete_unused(now + timedelta(days=29)) == []
        assert delete_unused(now + timedelta(days=31)) == ["try-expire"]
        assert (
            db.session.execute(select(Scheme.id).where(Scheme.slug == "try-expire")).first() is None
        )
    assert world.api(person).get("/api/v1/schemes/try-expire").status_code == 404
    assert counts(app, world.a.slug) == before_a


def test_the_daily_job_deletes_unused_sandboxes(app: Flask, world: World) -> None:
    from timebank.platform.db import clock_at
    from timebank.worker.maintenance import delete_unused_sandboxes

    person = make_user(app)
    assert create(world, person, "try-job").status_code == 201
    with app.app_context():
        with clock_at(datetime.now(UTC) + timedelta(days=10)):
            assert delete_unused_sandboxes() == []
        with clock_at(datetime.now(UTC) + timedelta(days=31)):
            assert delete_unused_sandboxes() == ["try-job"]


def test_a_sandbox_in_use_is_kept(app: Flask, world: World) -> None:
    from timebank.platform.db import clock_at

    person = make_user(app)
    assert create(world, person, "try-used").status_code == 201
    later = datetime.now(UTC) + timedelta(days=20)
    with clock_at(later):
        assert world.api(person).get("/api/v1/schemes/try-used/balance").status_code == 200
    with app.app_context():
        assert delete_unused(later + timedelta(days=29)) == []
        assert delete_unused(later + timedelta(days=31)) == ["try-used"]
