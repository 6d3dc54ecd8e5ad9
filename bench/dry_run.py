"""Time the policy dry-run on a year of a 1,000-member scheme (not a test: prints seconds).

    python bench/dry_run.py [--members 1000] [--weeks 52] [--database-url URL] [--profile]

With no ``--database-url`` it runs on a fresh SQLite file in a temporary
folder; a given database is migrated first and gets a new scheme of its own.
The history is written in bulk through the posting service (``post_many``,
one batch per week under ``clock_at``): each member logs two approved claims a
week (30–180 minutes) and pays one other member (15–120 minutes). The draft
then tried: a weekly cap of 4 hours, at most 2 hours a claim, payments of at
most 1 hour, no balance below zero, credits lapsing after 90 days, one
activity at 1.5 credits an hour. The dry-run is timed as the API serves it
(``POST …/policy/dry-run`` through the test client), three runs.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--profile", action="store_true")
    options = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="timebank-bench-"))
    url = options.database_url or f"sqlite:///{folder / 'bench.sqlite3'}"

    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from timebank.platform import tenancy
    from timebank.platform.app import create_app
    from timebank.platform.db import clock_at, db, run_atomic
    from timebank.platform.identity.passwords import use_fast_hashing
    from timebank.platform.identity.services import issue_token, register_user
    from timebank.platform.schemes.models import Scheme
    from timebank.platform.schemes.services import create_scheme
    from timebank.tenants.earning.models import Activity, Claim
    from timebank.tenants.ledger.models import Account, Posting
    from timebank.tenants.ledger.services import Leg, post_many
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
    rng = random.Random(22)
    data = load_template("community")
    data["policy"]["balance"] = {"min": None, "max": None}
    data["policy"]["expiry"] = None
    data["policy"]["claims"].update(cap=None, max_minutes_per_claim=None, max_age_days=None)
    data["policy"]["peer_transfers"]["max_amount"] = None
    started = time.perf_counter()
    with app.app_context():
        upgrade()
        coordinator = register_user(
            email=f"coordinator-{tag}@bench.test", password="bench-password", name="Coordinator"
        )
        token, _ = issue_token(coordinator)
        scheme = create_scheme(
            name=f"Bench {tag}",
            slug=f"bench-{tag}",
            template="community",
            creator=coordinator,
            template_data=data,
        )
        users = [
            register_user(email=f"m{n}-{tag}@bench.test", password="bench", name=f"Member {n}")
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
            activities = list(db.session.execute(select(Activity.id)).scalars())
            accounts = dict(
                db.session.execute(
                    select(Account.member_id, Account.id).where(Account.kind == "member")
                ).all()
            )
            issuance = db.session.execute(
                select(Account.id).where(Account.kind == "issuance")
            ).scalar_one()
        now = datetime.now(UTC)
        for week in range(options.weeks, 0, -1):
            moment = now - timedelta(weeks=week)

            def write_week(moment: datetime = moment) -> None:
                with tenancy.scheme_context(scheme.id), clock_at(moment):
                    row = db.session.get(Scheme, scheme.id)
                    assert row is not None
                    claims: list[tuple[int, int, int]] = []
                    for member_id in member_ids:
                        for _ in range(2):
                            claims.append(
                                (member_id, rng.choice(activities), rng.randint(1, 6) * 30)
                            )
                    earned = post_many(
                        row,
                        kind="earn",
                        entries=[
                            [Leg(issuance, -minutes), Leg(accounts[member_id], minutes)]
                            for member_id, _, minutes in claims
                        ],
                        actor_user_id=coordinator.id,
                    )
                    db.session.add_all(
                        Claim(
                            scheme_id=scheme.id,
                            member_id=member_id,
                            activity_id=activity_id,
                            minutes=minutes,
                            credited_minutes=minutes,
                            performed_on=(moment - timedelta(days=rng.randint(0, 3))).date(),
                            status="approved",
                            transaction_id=transaction["id"],
                            entered_by=coordinator.id,
                            decided_at=moment,
                        )
                        for (member_id, activity_id, minutes), transaction in zip(
                            claims, earned, strict=True
                        )
                    )
                    post_many(
                        row,
                        kind="transfer",
                        entries=[
                            [
                                Leg(accounts[payer], -amount),
                                Leg(accounts[rng.choice(member_ids)], amount),
                            ]
                            for payer in member_ids
                            for amount in [rng.randint(1, 8) * 15]
                        ],
                        actor_user_id=coordinator.id,
                    )

            run_atomic(write_week)
        with tenancy.scheme_context(scheme.id):
            postings = db.session.execute(select(func.count()).select_from(Posting)).scalar_one()
            claims_count = db.session.execute(select(func.count()).select_from(Claim)).scalar_one()
            food = db.session.execute(
                select(Activity.id).where(Activity.name == "Food bank shift")
            ).scalar_one()
            policy = dict(data["policy"])
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect() as connection:
                connection.exec_driver_sql("ANALYZE")
                connection.commit()
        db.session.remove()
    setup = time.perf_counter() - started

    draft: dict[str, Any] = {
        **policy,
        "balance": {"min": 0, "max": None},
        "peer_transfers": {"enabled": True, "max_amount": 60},
        "claims": {**policy["claims"], "max_minutes_per_claim": 120,
                   "cap": {"minutes": 240, "period": "week"}},
        "expiry": {"after_days": 90},
    }  # fmt: skip
    body = {
        "policy": draft,
        "months": 12,
        "activity_rates": [{"activity_id": food, "rate": "1.5"}],
    }
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    timings: list[float] = []
    cpu_times: list[float] = []
    result: dict[str, Any] = {}
    profiler = cProfile.Profile()
    for run in range(options.runs):
        last = run == options.runs - 1
        if last and options.profile:
            profiler.enable()
        begun, cpu = time.perf_counter(), time.process_time()
        response = client.post(
            f"/api/v1/schemes/{scheme.slug}/policy/dry-run", json=body, headers=headers
        )
        timings.append(time.perf_counter() - begun)
        cpu_times.append(time.process_time() - cpu)
        if last and options.profile:
            profiler.disable()
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
        result = response.get_json()
    dialect = url.split(":", 1)[0]
    print(f"database: {dialect}; members: {options.members}; weeks: {options.weeks}")
    print(f"  history: {claims_count} claims, {postings} postings (written in {setup:.0f} s)")
    for run, (seconds, cpu_seconds) in enumerate(zip(timings, cpu_times, strict=True), 1):
        print(
            f"  dry-run {run}: {seconds:.2f} s wall, {cpu_seconds:.2f} s CPU of this process "
            "(HTTP request through the test client)"
        )
    print(f"  best: {min(timings):.2f} s wall, {min(cpu_times):.2f} s CPU; load {os.getloadavg()}")
    print(
        f"  prediction: {result['claims_refused']} claims refused "
        f"({result['minutes_not_credited']} minutes), {result['transfers_refused']} transfers "
        f"refused, {result['minutes_expired']['predicted']} minutes lapsed, "
        f"{len(result['members_outside_limits'])} members outside limits"
    )
    if options.profile:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
