"""What the hostile-input tests compare: every table's row count and every balance.

Read through a connection that sees all schemes (the PostgreSQL superuser, or
the SQLite file itself), so a write in either scheme — or on the platform —
shows up.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import create_engine, func, select, text

from tests.conftest import Database
from timebank.platform.db import db


def snapshot(app: Flask, database: Database) -> dict[str, Any]:
    """Row counts of every table and every account's balance, across all schemes."""
    if database.postgres:
        url: Any = database.admin_url.set(database=database.name)
    else:
        url = app.config["SQLALCHEMY_DATABASE_URI"]
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            counts = {
                table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
                for table in db.metadata.sorted_tables
            }
            balances = [
                tuple(row)
                for row in conn.execute(
                    text("SELECT scheme_id, id, balance FROM accounts ORDER BY scheme_id, id")
                )
            ]
    finally:
        engine.dispose()
    return {"counts": counts, "balances": balances}
