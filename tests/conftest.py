"""Fixtures: a real database per test run, cleaned between tests, and two schemes.

With ``DATABASE_URL`` set (CI always sets it) the suite runs on PostgreSQL:
a fresh database per test process is migrated as its owner, and the
application connects as ``timebank_app`` — a role with neither SUPERUSER nor
BYPASSRLS, so row-level security really applies. Without it, SQLite: the
migrated database is copied afresh for every test.

Services commit for real (they are units of work, and the concurrency tests
need real commits), so instead of rolling back, each test starts from an
empty database: TRUNCATE on PostgreSQL, a fresh copy on SQLite.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.factories import World, build_world

# The browser fixtures are defined once, here: one Playwright session per test
# process (a second sync_playwright in the same process refuses to start).
from tests.web.browser import browser_context, chromium, live_server  # noqa: F401

APP_ROLE = "timebank_app"


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


class Database:
    """The test database of this process and how to reset it."""

    def __init__(self, tmp: Path) -> None:
        raw = os.environ.get("DATABASE_URL")
        self.postgres = bool(raw)
        self.tmp = tmp
        if raw:
            base = make_url(raw).set(drivername="postgresql+psycopg")
            # Unique per process: several test runs may share one server.
            name = f"timebank_test_{_worker()}_{os.getpid()}"
            self.name = name
            self.admin_url = base.set(database="postgres")
            self.owner_url = base.set(database=name)
            self.app_url = self.owner_url.set(username=APP_ROLE, password=None)
            admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{name}"'))
                exists = conn.execute(
                    text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": APP_ROLE}
                ).first()
                if not exists:
                    conn.execute(text(f"CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS"))
            admin.dispose()
            self._migrate(self.owner_url.render_as_string(hide_password=False))
            self.owner = create_engine(self.owner_url)
            with self.owner.begin() as conn:
                conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}"))
                conn.execute(
                    text(
                        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public "
                        f"TO {APP_ROLE}"
                    )
                )
                conn.execute(text(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}"))
                self.tables = [
                    row[0]
                    for row in conn.execute(
                        text(
                            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                            "AND tablename <> 'alembic_version'"
                        )
                    )
                ]
        else:
            self.template = tmp / "template.sqlite3"
            self._migrate(f"sqlite:///{self.template}")

    def _migrate(self, url: str) -> None:
        from flask_migrate import upgrade

        from timebank.platform.app import create_app

        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "test", "TESTING": True})
        with app.app_context():
            upgrade()
            from timebank.platform.db import db

            db.engine.dispose()

    def url_for_test(self) -> str:
        if self.postgres:
            return self.app_url.render_as_string(hide_password=False)
        path = self.tmp / f"test-{uuid.uuid4().hex}.sqlite3"
        shutil.copyfile(self.template, path)
        return f"sqlite:///{path}"

    def owner_url_string(self) -> str:
        return self.owner_url.render_as_string(hide_password=False)

    def drop(self) -> None:
        if not self.postgres:
            return
        self.owner.dispose()
        admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        admin.dispose()

    def reset(self) -> None:
        if self.postgres:
            with self.owner.begin() as conn:
                conn.execute(
                    text(
                        "TRUNCATE "
                        + ", ".join(f'"{t}"' for t in self.tables)
                        + " RESTART IDENTITY CASCADE"
                    )
                )


@pytest.fixture(scope="session")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    database = Database(tmp_path_factory.mktemp("db"))
    yield database
    database.drop()


def test_config(database: Database, tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "DATABASE_URL": database.url_for_test(),
        "SECRET_KEY": "test-secret",
        "TESTING": True,
        "FAST_PASSWORD_HASHING": True,
        "OUTBOX_DIR": str(tmp_path / "outbox"),
        "REDIS_URL": None,
        "RATELIMIT_KEY_PREFIX": f"test-{uuid.uuid4().hex}",
        "WTF_CSRF_ENABLED": False,
    }
    if os.environ.get("REDIS_URL"):
        config["RATELIMIT_STORAGE_URI"] = os.environ["REDIS_URL"]
    config.update(overrides)
    return config


@pytest.fixture
def app(database: Database, tmp_path: Path) -> Iterator[Flask]:
    from timebank.platform.app import create_app
    from timebank.platform.db import db

    app = create_app(test_config(database, tmp_path))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    database.reset()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def world(app: Flask) -> World:
    """Two schemes, each with a coordinator and two members (see factories)."""
    return build_world(app)


@pytest.fixture
def outbox(app: Flask) -> Path:
    return Path(app.config["OUTBOX_DIR"])
