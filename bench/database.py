"""The bench's own database: created afresh, migrated as its owner, used as the app role.

The same arrangement as the test suite and the deployment: the migrations run
as the tables' owner; the application (and the raw-SQL baseline) connects as
``timebank_app``, a role with neither SUPERUSER nor BYPASSRLS, so row-level
security applies to every query measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

APP_ROLE = "timebank_app"


def libpq(url: URL) -> str:
    """A ``postgresql://`` URL psycopg can connect with (no SQLAlchemy driver name)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass
class BenchDatabase:
    name: str
    admin_url: URL
    owner_url: URL
    app_url: URL

    @classmethod
    def from_environment(cls, database_url: str, name: str) -> BenchDatabase:
        base = make_url(database_url).set(drivername="postgresql+psycopg")
        owner = base.set(database=name)
        return cls(
            name=name,
            admin_url=base.set(database="postgres"),
            owner_url=owner,
            app_url=owner.set(username=APP_ROLE, password=None),
        )

    def sqlalchemy_url(self, which: str) -> str:
        url = {"owner": self.owner_url, "app": self.app_url}[which]
        return url.render_as_string(hide_password=False)

    def psycopg_url(self, which: str) -> str:
        return libpq({"owner": self.owner_url, "app": self.app_url}[which])

    def claim(self) -> None:
        """Hold a session advisory lock on the name for the whole run: two runs with the
        same ``--database-name`` would drop each other's database."""
        import psycopg

        self._lock = psycopg.connect(libpq(self.admin_url), autocommit=True)
        taken = self._lock.execute(
            "SELECT pg_try_advisory_lock(hashtext(%s))", (f"timebank-bench:{self.name}",)
        ).fetchone()[0]  # type: ignore[index]
        if not taken:
            self._lock.close()
            raise SystemExit(
                f"bench: another run is using the database {self.name!r} on this server; "
                "wait for it or pass --database-name"
            )

    def release(self) -> None:
        lock = getattr(self, "_lock", None)
        if lock is not None:
            lock.close()

    def recreate(self) -> None:
        """Drop and create the database, make sure the app role exists, migrate, grant."""
        admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
            exists = conn.execute(
                text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": APP_ROLE}
            ).first()
            if not exists:
                conn.execute(text(f"CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS"))
        admin.dispose()
        self._migrate()
        owner = create_engine(self.owner_url)
        with owner.begin() as conn:
            conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}"))
            conn.execute(
                text(
                    "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public "
                    f"TO {APP_ROLE}"
                )
            )
            conn.execute(text(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}"))
        owner.dispose()

    def _migrate(self) -> None:
        from flask_migrate import upgrade

        from timebank.platform.app import create_app
        from timebank.platform.db import db

        app = create_app(
            {
                "DATABASE_URL": self.sqlalchemy_url("owner"),
                "SECRET_KEY": "bench",
                "LOG_LEVEL": "WARNING",
                "REDIS_URL": None,
            }
        )
        with app.app_context():
            upgrade()
            db.engine.dispose()

    def drop(self) -> None:
        admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        admin.dispose()

    def server_facts(self) -> dict[str, Any]:
        """PostgreSQL's version and the settings that shape the figures."""
        import psycopg

        facts: dict[str, Any] = {}
        with psycopg.connect(self.psycopg_url("owner")) as conn:
            facts["version"] = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
            for setting in (
                "max_connections",
                "shared_buffers",
                "synchronous_commit",
                "fsync",
                "wal_level",
                "work_mem",
            ):
                facts[setting] = conn.execute(f"SHOW {setting}").fetchone()[0]  # type: ignore[index]
            facts["owner_is_superuser"] = bool(
                conn.execute(
                    "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
                ).fetchone()[0]  # type: ignore[index]
            )
        return facts
