"""Migration 0013 chains the postings that existed before it, exactly as the posting
service would have: downgrade to 0012, the one before it (the chains are gone), upgrade again (as the
tables' owner on PostgreSQL), and the backfilled hashes equal those written."""

from __future__ import annotations

from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import select, text

from tests.conftest import APP_ROLE, Database
from tests.factories import World, fund
from timebank.platform import tenancy
from timebank.platform.app import create_app
from timebank.platform.db import db
from timebank.tenants.ledger.models import Account, Posting
from timebank.tenants.ledger.verify import verify_ledger


def _chains(app: Flask, world: World) -> dict[int, list[tuple[str, str]]]:
    found: dict[int, list[tuple[str, str]]] = {}
    with app.app_context():
        for scheme_id in (world.a.id, world.b.id):
            with tenancy.scheme_context(scheme_id):
                for posting in db.session.execute(
                    select(Posting).order_by(Posting.account_id, Posting.account_version)
                ).scalars():
                    found.setdefault(posting.account_id, []).append(
                        (posting.prev_hash, posting.hash)
                    )
                found[-scheme_id] = [
                    (str(a), h)
                    for a, h in db.session.execute(select(Account.id, Account.head_hash)).all()
                ]
        db.session.remove()
    return found


def test_backfill_rebuilds_the_same_chains(app: Flask, world: World, database: Database) -> None:
    fund(app, world.a, world.a.members[0], 100)
    fund(app, world.b, world.b.members[0], 50)
    response = world.api(world.a.members[0]).post(
        f"/api/v1/schemes/{world.a.slug}/transfers",
        {"to_member_id": world.a.members[1].member_ids[world.a.slug], "amount": 30},
    )
    assert response.status_code == 201
    written = _chains(app, world)
    with app.app_context():
        db.engine.dispose()
    owner = create_app(
        {
            "DATABASE_URL": database.owner_url_string()
            if database.postgres
            else app.config["DATABASE_URL"],
            "SECRET_KEY": "test",
            "TESTING": True,
        }
    )
    with owner.app_context():
        downgrade(revision="0012")  # the revision before 0013
        upgrade()
        if database.postgres:  # tables made again are the owner's: let the app role in again
            db.session.execute(
                text(
                    "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public "
                    f"TO {APP_ROLE}"
                )
            )
            db.session.execute(text(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}"))
            db.session.commit()
        db.session.remove()
        db.engine.dispose()
    assert _chains(app, world) == written
    with app.app_context():
        assert verify_ledger().breaks == []
