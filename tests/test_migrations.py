"""The migrated schema equals the models (no autogenerate diff), on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from sqlalchemy import create_engine

from tests.conftest import Database


def test_migrations_match_the_models(app: Flask, database: Database) -> None:
    from timebank.platform.db import db, render_migration_item  # noqa: F401

    url = (
        database.owner_url_string() if database.postgres else app.config["SQLALCHEMY_DATABASE_URI"]
    )
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diff = compare_metadata(context, db.metadata)
    finally:
        engine.dispose()
    assert diff == [], diff


def test_db_upgrade_builds_an_empty_database(tmp_path: object) -> None:
    from pathlib import Path

    from flask_migrate import upgrade
    from sqlalchemy import inspect

    from timebank.platform.app import create_app

    path = Path(str(tmp_path)) / "fresh.sqlite3"
    app = create_app({"DATABASE_URL": f"sqlite:///{path}", "SECRET_KEY": "x"})
    with app.app_context():
        upgrade()
        from timebank.platform.db import db

        tables = set(inspect(db.engine).get_table_names())
        db.engine.dispose()
    assert {"schemes", "users", "accounts", "transactions", "postings"} <= tables
