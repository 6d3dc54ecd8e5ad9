"""``deploy/restore-drill.sh``: a dump restored into a fresh database, and its ledger verified.

Runs the real script with the real ``pg_dump``/``pg_restore`` against the
test process's own PostgreSQL database (never the shared ones'), on a dump of
a world with real transfers: clean → exit 0; a dump of a tampered ledger →
exit 1; a file that is no dump → exit 2, the fresh database dropped each time.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import Database
from tests.factories import World, fund

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "deploy" / "restore-drill.sh"

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL"),
        reason="a PostgreSQL restore: runs when DATABASE_URL is set (CI)",
    ),
]


def pg_env(database: Database) -> dict[str, str]:
    url = make_url(database.owner_url_string())
    timebank = Path(sys.executable).parent / "timebank"
    return {
        **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
        "PGHOST": url.host or "127.0.0.1",
        "PGPORT": str(url.port or 5432),
        "PGUSER": url.username or "postgres",
        "TIMEBANK": str(timebank),
    }


def dump(database: Database, path: Path) -> Path:
    env = pg_env(database)
    subprocess.run(
        ["pg_dump", "--format=custom", f"--file={path}", database.name],
        env=env,
        check=True,
        timeout=120,
    )
    return path


def drill(database: Database, dump_file: Path, target: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), str(dump_file), target],
        env=pg_env(database),
        capture_output=True,
        text=True,
        timeout=300,
    )


def exists(database: Database, name: str) -> bool:
    admin = create_engine(database.admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            found = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ).first()
    finally:
        admin.dispose()
    return found is not None


def test_a_restored_dump_verifies_clean_and_a_tampered_one_does_not(
    world: World, database: Database, tmp_path: Path
) -> None:
    ann, arthur = world.a.members
    fund(world.app, world.a, ann, 120)
    paid = world.api(ann).post(
        f"/api/v1/schemes/{world.a.slug}/transfers",
        {"to_member_id": arthur.member_ids[world.a.slug], "amount": 45},
    )
    assert paid.status_code == 201
    target = f"drill_{os.getpid()}"

    clean = drill(database, dump(database, tmp_path / "clean.dump"), target)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "PASSED" in clean.stdout
    assert not exists(database, target), "the drill leaves no database behind"

    # Tamper as the tables' owner: a balance no posting explains.
    with database.owner.begin() as connection:
        connection.execute(text("SET LOCAL app.all_schemes = 'on'"))
        changed = connection.execute(
            text(
                "UPDATE accounts SET balance = balance + 7 WHERE scheme_id = :s AND kind = 'member'"
            ),
            {"s": world.a.id},
        ).rowcount
        assert changed >= 1
    tampered = drill(database, dump(database, tmp_path / "tampered.dump"), target)
    assert tampered.returncode == 1, tampered.stdout + tampered.stderr
    assert "FAILED" in tampered.stderr
    assert not exists(database, target)


def test_a_file_that_is_no_dump_is_refused_and_leaves_nothing(
    database: Database, tmp_path: Path
) -> None:
    bogus = tmp_path / "bogus.dump"
    bogus.write_text("not a dump")
    target = f"drill_bogus_{os.getpid()}"
    refused = drill(database, bogus, target)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert not exists(database, target)
