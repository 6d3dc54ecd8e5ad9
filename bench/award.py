"""Time a bulk award to 1,000 members (not a test: prints milliseconds).

    python bench/award.py [--members 1000] [--runs 3] [--database-url URL] [--profile]

With no ``--database-url`` it runs on a fresh SQLite file in a temporary
folder. A given database is migrated first (``db upgrade``) and gets a new
scheme of its own. Each run is one ``POST /api/v1/schemes/<slug>/awards``
through the test client (parsing, the membership checks, the all-or-none
validation, locking every account, the bulk ledger write, the commit and the
JSON body with every transaction), after which ``ledger verify`` must report
no break. ``--profile`` prints the top of a cProfile of the last run.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import time
import uuid
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--profile", action="store_true")
    options = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="timebank-bench-"))
    url = options.database_url or f"sqlite:///{folder / 'bench.sqlite3'}"

    from flask_migrate import upgrade
    from sqlalchemy import select

    from timebank.platform import tenancy
    from timebank.platform.app import create_app
    from timebank.platform.db import db, run_atomic
    from timebank.platform.identity.passwords import use_fast_hashing
    from timebank.platform.identity.services import issue_token, register_user
    from timebank.platform.schemes.models import Scheme
    from timebank.platform.schemes.services import create_scheme
    from timebank.tenants.earning.models import Activity
    from timebank.tenants.ledger.verify import verify_ledger
    from timebank.tenants.memberships.services import join_scheme
    from timebank.tenants.templates import load_template

    app = create_app(
        {
            "DATABASE_URL": url,
            "REDIS_URL": None,
            "OUTBOX_DIR": str(folder / "outbox"),
            "LOG_LEVEL": "WARNING",
            "RATELIMIT_ENABLED": False,
        }
    )
    use_fast_hashing()
    tag = uuid.uuid4().hex[:8]
    with app.app_context():
        upgrade()
        coordinator = register_user(
            email=f"coordinator-{tag}@bench.test", password="bench-password", name="Coordinator"
        )
        token, _ = issue_token(coordinator)
        scheme = create_scheme(
            name=f"Bench {tag}",
            slug=f"bench-{tag}",
            template="youth_court",
            creator=coordinator,
            template_data=load_template("youth_court"),
        )
        users = [
            register_user(email=f"juror{n}-{tag}@bench.test", password="bench", name=f"Juror {n}")
            for n in range(options.members)
        ]

        def join() -> list[int]:
            with tenancy.scheme_context(scheme.id):
                row = db.session.get(Scheme, scheme.id)
                assert row is not None
                return [
                    join_scheme(row, user, role="member", actor_user_id=coordinator.id).id
                    for user in users
                ]

        member_ids = run_atomic(join)
        with tenancy.scheme_context(scheme.id):
            activity_id = db.session.execute(
                select(Activity.id).where(Activity.name == "Juror at a court session")
            ).scalar_one()
        db.session.remove()

    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    body = {"activity_id": activity_id, "minutes": 150, "member_ids": member_ids}

    def award() -> float:
        started = time.perf_counter()
        response = client.post(f"/api/v1/schemes/{scheme.slug}/awards", json=body, headers=headers)
        elapsed = time.perf_counter() - started
        assert response.status_code == 201, response.get_data(as_text=True)[:500]
        assert len(response.get_json()["transactions"]) == options.members
        return elapsed

    # The first award lands on an empty ledger. PostgreSQL caches the plans of its
    # foreign-key checks per connection: planned while ``transactions`` is nearly
    # empty, the check of each posting's transaction is a sequential scan, and
    # stays one until the statistics change (autovacuum's ANALYZE). A live
    # database has statistics; give this one some, then use fresh connections.
    first = award()
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect() as connection:
                connection.exec_driver_sql("ANALYZE")
                connection.commit()
        db.session.remove()
        db.engine.dispose()
    timings = []
    profiler = cProfile.Profile()
    for run in range(options.runs):
        last = run == options.runs - 1
        if last and options.profile:
            profiler.enable()
        timings.append(award())
        if last and options.profile:
            profiler.disable()

    with app.app_context():
        report = verify_ledger(scheme.slug)
        db.session.remove()
    dialect = url.split(":", 1)[0]
    print(f"database: {dialect}; members per award: {options.members}")
    print(f"  first award, on an empty ledger: {first * 1000:.0f} ms")
    for run, seconds in enumerate(timings, 1):
        print(f"  award {run}: {seconds * 1000:.0f} ms (HTTP request, commit included)")
    print(f"  best: {min(timings) * 1000:.0f} ms")
    print("  ledger verify: " + report.lines()[-1])
    if options.profile:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
    if report.breaks:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
