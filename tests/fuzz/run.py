"""Fuzz the HTTP API with schemathesis against the served OpenAPI document.

    .venv/bin/python -m tests.fuzz.run [--max-examples 50] [--phases examples,coverage,fuzzing] [--workers 2]

Seeds a fresh database with the two-scheme world of the tests (PostgreSQL
through the non-superuser application role when ``DATABASE_URL`` is set, else
a SQLite file), an invitation into the other scheme for the fuzzing user and
some history, serves the app on a free port (werkzeug, threaded), and runs
``st run`` against ``/api/v1/openapi.json`` as the first scheme's coordinator
with the ``not_a_server_error`` check. Path parameters ``slug``,
``member_id`` and ``token`` are pinned to seeded values so the operations get
past their look-ups (invitation accept, leave, member PATCH and settle
included); every other id is generated. Exits with schemathesis' status and
prints its summary (requests made, failures). Not part of ``pytest``; the
slow test set runs a short version (``tests/fuzz/test_fuzz_smoke.py``).
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parent.parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.conftest import Database, test_config  # noqa: E402
from tests.factories import Person, World, build_world, fund, make_operator  # noqa: E402


@contextmanager
def seeded_app(folder: Path) -> Iterator[tuple[Any, World, str, Person]]:
    """The app on a fresh database holding two schemes: (app, world, invitation token, operator)."""
    from timebank.platform.app import create_app

    (folder / "db").mkdir()
    database = Database(folder / "db")
    try:
        app = create_app(test_config(database, folder, RATELIMIT_ENABLED=False, TESTING=False))
        world = build_world(app)
        api_b = world.api(world.b.coordinator)
        invited = api_b.post(
            f"/api/v1/schemes/{world.b.slug}/invitations",
            json={"email": world.a.coordinator.email, "role": "member"},
        )
        assert invited.status_code == 201, invited.get_json()
        for person in world.a.members:
            fund(app, world.a, person, 600)
        api_a = world.api(world.a.members[0])
        to_id = world.a.members[1].member_ids[world.a.slug]
        moved = api_a.post(
            f"/api/v1/schemes/{world.a.slug}/transfers", json={"to_member_id": to_id, "amount": 30}
        )
        assert moved.status_code == 201, moved.get_json()
        yield app, world, invited.get_json()["token"], make_operator(app)
    finally:
        database.drop()


@contextmanager
def serving(app: Any) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def run(max_examples: int, phases: str, workers: int, extra: list[str]) -> int:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="timebank-fuzz-") as tmp:
        folder = Path(tmp)
        with seeded_app(folder) as (app, world, token, operator), serving(app) as base:
            member_id = world.a.members[0].member_ids[world.a.slug]
            config = folder / "schemathesis.toml"
            config.write_text(
                "[parameters]\n"
                f'"path.slug" = "{world.a.slug}"\n'
                f'"path.member_id" = {member_id}\n'
                f'"path.token" = "{token}"\n'
            )
            passes = [
                (
                    "coordinator",
                    world.a.coordinator.token,
                    ["--exclude-path-regex", "^/api/v1/platform/"],
                ),
                ("operator", operator.token, ["--include-path-regex", "^/api/v1/platform/"]),
            ]
            status = 0
            for who, bearer, selection in passes:
                print(f"== as the {who}", flush=True)
                status |= _schemathesis(
                    base, config, bearer, selection + extra, max_examples, phases, workers
                )
            return status


def _schemathesis(
    base: str,
    config: Path,
    bearer: str,
    extra: list[str],
    max_examples: int,
    phases: str,
    workers: int,
) -> int:
    command = [
        str(Path(sys.executable).parent / "st"),
        "--no-color",
        "--config-file",
        str(config),
        "run",
        f"{base}/api/v1/openapi.json",
        "--header",
        f"Authorization: Bearer {bearer}",
        "--checks",
        "not_a_server_error",
        "--phases",
        phases,
        "--max-examples",
        str(max_examples),
        "--workers",
        str(workers),
        # Revoking the fuzzing user's own token would leave nothing to test.
        "--exclude-path",
        "/api/v1/tokens/current",
        "--suppress-health-check",
        "all",
        *extra,
    ]
    print("$", " ".join(c if "Bearer" not in c else "'Authorization: Bearer …'" for c in command))
    return subprocess.run(command, cwd=config.parent, check=False).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=50)
    parser.add_argument("--phases", default="examples,coverage,fuzzing")
    parser.add_argument("--workers", type=int, default=2)
    args, extra = parser.parse_known_args(argv)
    os.environ.setdefault("PYTHONHASHSEED", "0")
    return run(args.max_examples, args.phases, args.workers, extra)


if __name__ == "__main__":
    raise SystemExit(main())
