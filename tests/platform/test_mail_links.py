"""Links in mail: ``BASE_URL`` when set, else the request's address when its host is trusted.

A forged ``Host`` header never reaches a link (the configured fallback is used);
a job keeps the address of the request that enqueued it (``job_outbox.link_base``,
the RQ job's meta); a scheme remembers the address it was started from for the
mails scheduled work sends. Runs on SQLite and PostgreSQL; the job test needs a
redis-server of its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from tests.conftest import Database
from tests.conftest import test_config as app_config
from tests.factories import World, build_world
from tests.platform.redis_server import OwnRedis, needs_redis_server
from timebank.platform import links, tenancy
from timebank.platform.db import db
from timebank.platform.jobs import OutboxJob
from timebank.platform.schemes.models import Scheme

TRUSTED = "bank.example.org"
FORGED = "evil.example"


def make_app(database: Database, tmp_path: Path, **overrides: Any) -> Flask:
    from timebank.platform.app import create_app

    overrides.setdefault("BASE_URL", None)
    overrides.setdefault("LINK_TRUSTED_HOSTS", [TRUSTED])
    return create_app(app_config(database, tmp_path, **overrides))


@pytest.fixture
def app(database: Database, tmp_path: Path) -> Iterator[Flask]:
    app = make_app(database, tmp_path)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    database.reset()


def mails(app: Flask, to: str | None = None) -> list[Any]:
    folder = Path(app.config["OUTBOX_DIR"])
    found = (
        [
            message_from_bytes(path.read_bytes(), policy=policy.default)
            for path in sorted(folder.glob("*.eml"))
        ]
        if folder.exists()
        else []
    )
    return [m for m in found if to is None or m["To"] == to]


def body(message: Any) -> str:
    return str(message.get_body(preferencelist=("plain",)).get_content())


def links_in(message: Any) -> list[str]:
    return re.findall(r"https?://\S+", body(message))


def forgot(world: World, email: str, **kw: Any) -> None:
    response = world.api().post("/api/v1/password/forgot", {"email": email}, **kw)
    assert response.status_code == 202, response.data


def test_a_forged_host_never_steers_a_reset_link(app: Flask) -> None:
    world = build_world(app)
    ann = world.a.members[0]
    forgot(world, ann.email, headers={"Host": FORGED})
    (message,) = mails(app, ann.email)
    assert FORGED not in message.as_string()
    assert all(link.startswith(links.FALLBACK + "/password/reset/") for link in links_in(message))
    assert links_in(message)


def test_a_trusted_host_is_the_link_the_person_used(app: Flask) -> None:
    world = build_world(app)
    ann, arthur = world.a.members
    forgot(world, ann.email, base_url=f"https://{TRUSTED}")
    (message,) = mails(app, ann.email)
    (link,) = links_in(message)
    assert link.startswith(f"https://{TRUSTED}/password/reset/")
    # Any port of a trusted name is the same site; the scheme comes from the request.
    forgot(world, arthur.email, base_url=f"http://{TRUSTED}:8080")
    (message,) = mails(app, arthur.email)
    assert links_in(message)[0].startswith(f"http://{TRUSTED}:8080/password/reset/")


def test_an_invitation_from_a_trusted_host_links_there_and_other_schemes_are_untouched(
    app: Flask,
) -> None:
    world = build_world(app)
    coordinator = world.api(world.a.coordinator)
    sent = coordinator.post(
        "/api/v1/schemes/alpha-bank/invitations",
        {"email": "zoe@example.test", "role": "member"},
        base_url=f"https://{TRUSTED}",
    )
    assert sent.status_code == 201, sent.data
    token = sent.get_json()["token"]
    (message,) = mails(app, "zoe@example.test")
    assert links_in(message) == [f"https://{TRUSTED}/invitations/{token}"]
    # The other scheme's coordinator cannot use alpha-bank's invitations (404 as a stranger).
    stranger = world.api(world.b.coordinator).post(
        "/api/v1/schemes/alpha-bank/invitations", {"email": "yan@example.test", "role": "member"}
    )
    assert stranger.status_code == 404
    assert mails(app, "yan@example.test") == []


def test_base_url_always_wins(database: Database, tmp_path: Path) -> None:
    app = make_app(database, tmp_path, BASE_URL="https://timebank.example.com/")
    try:
        world = build_world(app)
        ann = world.a.members[0]
        forgot(world, ann.email, base_url=f"https://{TRUSTED}")
        (message,) = mails(app, ann.email)
        assert links_in(message)[0].startswith("https://timebank.example.com/password/reset/")
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        database.reset()


def test_a_scheme_remembers_the_trusted_address_it_was_started_from(app: Flask) -> None:
    world = build_world(app)
    api = world.api(world.a.coordinator)
    trusted = api.post(
        "/api/v1/schemes",
        {"name": "Gamma", "slug": "gamma-bank", "template": "community"},
        base_url=f"https://{TRUSTED}",
    )
    forged = api.post(
        "/api/v1/schemes",
        {"name": "Delta", "slug": "delta-bank", "template": "community"},
        headers={"Host": FORGED},
    )
    assert trusted.status_code == 201 and forged.status_code == 201, (trusted.data, forged.data)
    with app.app_context():
        remembered = {
            slug: base for slug, base in db.session.execute(select(Scheme.slug, Scheme.link_base))
        }
        gamma = db.session.execute(select(Scheme).where(Scheme.slug == "gamma-bank")).scalar_one()
        # Scheduled work (no request) links where the scheme was started.
        with tenancy.scheme_context(gamma.id):
            assert links.link("/s/gamma-bank", remembered=gamma.link_base) == (
                f"https://{TRUSTED}/s/gamma-bank"
            )
        db.session.rollback()
    assert remembered["gamma-bank"] == f"https://{TRUSTED}"
    assert remembered["delta-bank"] is None  # an untrusted host is not remembered
    assert remembered["alpha-bank"] is None  # made outside a request


# --- jobs: the address travels with the job (outbox row, RQ meta) ------------------------


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


def run_queued_jobs(app: Flask) -> None:
    from rq import SimpleWorker

    from timebank.platform.jobs import QUEUES, get_queue, redis_connection

    with app.app_context():
        connection = redis_connection()
        for _ in range(3):  # a job's own jobs (the invitations' mails) too
            queues = [get_queue(name, connection) for name in QUEUES]
            SimpleWorker(queues, connection=connection).work(burst=True)


@needs_redis_server
def test_a_job_sent_mail_links_to_the_address_stored_when_it_was_enqueued(
    database: Database, tmp_path: Path, own_redis: OwnRedis
) -> None:
    app = make_app(database, tmp_path, REDIS_URL=own_redis.url, RATELIMIT_STORAGE_URI=own_redis.url)
    try:
        world = build_world(app)
        client = app.test_client()
        started = client.post(
            "/api/v1/schemes/alpha-bank/imports",
            data="name,email,role\nZoe Zed,zoe@example.test,member\n",
            content_type="text/csv",
            headers=world.a.coordinator.headers,
            base_url=f"https://{TRUSTED}",
        )
        assert started.status_code == 202, started.data
        forged = client.post(
            "/api/v1/schemes/beta-surgery/imports",
            data="name,email,role\nYan Yu,yan@example.test,member\n",
            content_type="text/csv",
            headers={**world.b.coordinator.headers, "Host": FORGED},
        )
        assert forged.status_code == 202, forged.data
        with app.app_context():
            stored = (
                db.session.execute(
                    select(OutboxJob.link_base).where(
                        OutboxJob.path == "timebank.tenants.memberships.jobs.process_import"
                    )
                )
                .scalars()
                .all()
            )
            db.session.rollback()
        assert sorted(stored, key=str) == sorted([f"https://{TRUSTED}", None], key=str)
        run_queued_jobs(app)
        (zoe,) = mails(app, "zoe@example.test")
        assert links_in(zoe)[0].startswith(f"https://{TRUSTED}/invitations/")
        (yan,) = mails(app, "yan@example.test")
        assert FORGED not in yan.as_string()
        assert links_in(yan)[0].startswith(links.FALLBACK + "/invitations/")
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        database.reset()
