"""The policy dry-run: its prediction is what the live code does, and it writes nothing.

The history is built through the API under a generous policy; the same requests
are then sent, in the same order and under the same clock, to a fresh scheme
whose policy is the draft (with the nightly expiry run each day). What the
dry-run predicted for the first scheme must be what happened in the second.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask
from sqlalchemy import func, select, text

from tests.factories import Person, SchemeInfo, World, add_member, make_scheme, make_user, problem
from timebank.platform import tenancy
from timebank.platform.db import clock_at, db
from timebank.tenants.spending.expiry import expire_all

GENEROUS = {
    "peer_transfers": {"enabled": True, "max_amount": None},
    "balance": {"min": -600, "max": None},
    "claims": {
        "enabled": True,
        "approval": "auto",
        "max_minutes_per_claim": None,
        "cap": None,
        "max_age_days": None,
    },
    "expiry": None,
}
DRAFT_CHANGES = {
    "peer_transfers": {"enabled": True, "max_amount": 120},
    "balance": {"min": 0, "max": None},
    "claims": {
        "enabled": True,
        "approval": "auto",
        "max_minutes_per_claim": 180,
        "cap": {"minutes": 300, "period": "week"},
        "max_age_days": None,
    },
    "expiry": {"after_days": 30},
}
ZONE = ZoneInfo("Europe/London")
DAYS = 80


def url(scheme: SchemeInfo, path: str) -> str:
    return f"/api/v1/schemes/{scheme.slug}/{path}"


def policy_of(world: World, scheme: SchemeInfo) -> dict[str, Any]:
    response = world.api(scheme.coordinator).get(url(scheme, "policy"))
    assert response.status_code == 200
    document: dict[str, Any] = response.get_json()
    document.pop("version")
    return document


def draft_of(document: dict[str, Any]) -> dict[str, Any]:
    draft = {**document}
    for key, value in DRAFT_CHANGES.items():
        draft[key] = value
    return draft


def activities(world: World, scheme: SchemeInfo) -> dict[str, int]:
    response = world.api(scheme.coordinator).get(url(scheme, "activities?limit=200"))
    return {item["name"]: item["id"] for item in response.get_json()["items"]}


def history(seed: int) -> list[dict[str, Any]]:
    """A reproducible list of requests, oldest first: claims and transfers over DAYS days."""
    rng = random.Random(seed)
    today = datetime.now(UTC).astimezone(ZONE).date()
    requests: list[dict[str, Any]] = []
    for back in range(DAYS, 0, -1):
        day = today - timedelta(days=back)
        for slot in range(rng.randint(0, 4)):
            moment = datetime.combine(day, time(9 + slot * 2), ZONE).astimezone(UTC)
            who = rng.randrange(3)
            if rng.random() < 0.6:
                requests.append(
                    {
                        "kind": "claim",
                        "at": moment,
                        "who": who,
                        "activity": rng.choice(("Helping a neighbour", "Food bank shift")),
                        "minutes": rng.choice((30, 60, 90, 120, 150, 200, 240)),
                        "day": day,
                    }
                )
            else:
                requests.append(
                    {
                        "kind": "transfer",
                        "at": moment,
                        "who": who,
                        "to": (who + rng.randint(1, 2)) % 3,
                        "amount": rng.choice((30, 60, 100, 150, 200)),
                    }
                )
    return requests


def send(
    world: World, scheme: SchemeInfo, people: list[Person], names: dict[str, int], request: Any
) -> Any:
    person = people[request["who"]]
    with clock_at(request["at"]):
        if request["kind"] == "claim":
            return world.api(person).post(
                url(scheme, "claims"),
                {
                    "activity_id": names[request["activity"]],
                    "minutes": request["minutes"],
                    "performed_on": request["day"].isoformat(),
                },
            )
        payee = people[request["to"]]
        return world.api(person).post(
            url(scheme, "transfers"),
            {"to_member_id": payee.member_ids[scheme.slug], "amount": request["amount"]},
        )


def scheme_with_people(app: Flask, slug: str, policy: dict[str, Any]) -> tuple[SchemeInfo, list]:
    scheme = make_scheme(app, make_user(app), slug=slug, template="community", policy=policy)
    people = [make_user(app, name=f"{slug} member {n}") for n in range(3)]
    for person in people:
        add_member(app, scheme, person)
    return scheme, people


def test_the_prediction_is_what_the_live_rules_do(app: Flask, world: World) -> None:
    current, current_people = scheme_with_people(app, "dry-current", GENEROUS)
    names = activities(world, current)
    credited: dict[int, int] = {}  # request index → minutes credited in the current scheme
    happened: list[tuple[int, dict[str, Any]]] = []
    for index, request in enumerate(history(seed=22)):
        response = send(world, current, current_people, names, request)
        if response.status_code == 201:
            happened.append((index, request))
            if request["kind"] == "claim":
                credited[index] = response.get_json()["credited_minutes"]
    assert len(happened) > 100

    draft = draft_of(policy_of(world, current))
    rates = [{"activity_id": names["Food bank shift"], "rate": "1.5"}]
    response = world.api(current.coordinator).post(
        url(current, "policy/dry-run"), {"policy": draft, "months": 4, "activity_rates": rates}
    )
    assert response.status_code == 200, response.data
    predicted = response.get_json()
    assert predicted["claims_refused"] > 0 and predicted["transfers_refused"] > 0

    # The same requests, in the same order, in a fresh scheme that has the draft.
    fresh, fresh_people = scheme_with_people(app, "dry-fresh", draft)
    fresh_names = activities(world, fresh)
    patch = world.api(fresh.coordinator).patch(
        url(fresh, f"activities/{fresh_names['Food bank shift']}"), {"rate": "1.5"}
    )
    assert patch.status_code == 200, patch.data
    refused_claims = refused_minutes = refused_transfers = 0
    earned: dict[str, int] = defaultdict(int)
    last_day: date | None = None
    for index, request in happened:
        day = request["at"].astimezone(ZONE).date()
        if day != last_day:  # the nightly expiry of each day, before the day's requests
            with app.app_context(), clock_at(request["at"]):
                expire_all("dry-fresh", as_of=day)
            last_day = day
        response = send(world, fresh, fresh_people, fresh_names, request)
        if response.status_code == 201:
            if request["kind"] == "claim":
                earned[request["day"].strftime("%Y-%m")] += response.get_json()["credited_minutes"]
            continue
        assert response.status_code == 422, response.data
        if request["kind"] == "claim":
            refused_claims += 1
            refused_minutes += credited[index]
        else:
            refused_transfers += 1
    with app.app_context():
        expire_all("dry-fresh")

    assert predicted["claims_refused"] == refused_claims
    assert predicted["minutes_not_credited"] == refused_minutes
    assert predicted["transfers_refused"] == refused_transfers
    for month in predicted["by_month"]:
        assert month["predicted_minutes_earned"] == earned.get(month["month"], 0), month
    assert sum(m["actual_minutes_earned"] for m in predicted["by_month"]) == sum(credited.values())
    # Balances and expiry too: the dry-run's end state is the fresh scheme's.
    with app.app_context():
        expected = _balances(app, fresh, fresh_people)
        expired = _expired(fresh)
    assert predicted["minutes_expired"] == {"actual": 0, "predicted": expired}
    assert expired > 0
    assert _predicted_balances(app, current, current_people, draft, rates) == expected
    assert predicted["members_outside_limits"] == []


def _balances(app: Flask, scheme: SchemeInfo, people: list[Person]) -> list[int]:
    from timebank.tenants.ledger.models import Account

    with tenancy.scheme_context(scheme.id):
        return [
            int(
                db.session.execute(
                    select(Account.balance).where(
                        Account.member_id == person.member_ids[scheme.slug]
                    )
                ).scalar_one()
            )
            for person in people
        ]


def _expired(scheme: SchemeInfo) -> int:
    from timebank.tenants.ledger.models import Transaction

    with tenancy.scheme_context(scheme.id):
        return int(
            db.session.execute(
                select(func.coalesce(func.sum(Transaction.amount), 0)).where(
                    Transaction.kind == "expiry"
                )
            ).scalar_one()
        )


def _predicted_balances(
    app: Flask, scheme: SchemeInfo, people: list[Person], draft: Any, rates: Any
) -> list[int]:
    from timebank.platform.schemes.models import Scheme
    from timebank.tenants.reports.dryrun import dry_run

    with app.app_context(), tenancy.scheme_context(scheme.id):
        row = db.session.get(Scheme, scheme.id)
        assert row is not None
        result = dry_run(
            row, draft, months=4, activity_rates={r["activity_id"]: r["rate"] for r in rates}
        )
        return [result.balances[person.member_ids[scheme.slug]] for person in people]


def _row_counts(app: Flask) -> dict[str, int]:
    """Rows in every table of the database (as the owner: no scheme filter, no RLS)."""
    with app.app_context():
        tables = sorted(db.metadata.tables)
        with db.engine.connect() as connection:
            return {
                name: int(connection.execute(text(f"SELECT count(*) FROM {name}")).scalar_one())
                for name in tables
            }


def test_the_dry_run_writes_nothing(app: Flask, world: World) -> None:
    scheme, people = scheme_with_people(app, "dry-nothing", GENEROUS)
    names = activities(world, scheme)
    for request in history(seed=5)[:60]:
        send(world, scheme, people, names, request)
    draft = draft_of(policy_of(world, scheme))
    before = _row_counts(app)
    response = world.api(scheme.coordinator).post(
        url(scheme, "policy/dry-run"), {"policy": draft, "months": 3}
    )
    assert response.status_code == 200, response.data
    assert _row_counts(app) == before
    assert policy_of(world, scheme) != draft  # the policy in force is unchanged


def test_members_outside_the_draft_limits(app: Flask, world: World) -> None:
    scheme, people = scheme_with_people(app, "dry-limits", GENEROUS)
    payer, payee = people[0], people[1]
    with clock_at(datetime.now(UTC) - timedelta(days=70)):  # before the period replayed
        paid = world.api(payer).post(
            url(scheme, "transfers"),
            {"to_member_id": payee.member_ids[scheme.slug], "amount": 300},
        )
    assert paid.status_code == 201, paid.data
    draft = draft_of(policy_of(world, scheme))
    draft["balance"] = {"min": -120, "max": 200}
    draft["expiry"] = None  # (with expiry after 30 days the payee's credit would lapse)
    body = world.api(scheme.coordinator).post(
        url(scheme, "policy/dry-run"), {"policy": draft, "months": 1}
    )
    assert body.status_code == 200, body.data
    outside = body.get_json()["members_outside_limits"]
    assert sorted(outside) == sorted(p.member_ids[scheme.slug] for p in (payer, payee))
    # Their balances came from before the period: nothing in it was refused.
    assert body.get_json()["transfers_refused"] == 0


def test_bad_drafts_and_who_may_ask(world: World) -> None:
    a = world.a
    draft = draft_of(policy_of(world, a))
    bad = {**draft, "claims": {**draft["claims"], "cap": {"minutes": 60, "period": "fortnight"}}}
    response = world.api(a.coordinator).post(url(a, "policy/dry-run"), {"policy": bad})
    assert response.status_code == 422
    assert "policy.claims.cap.period" in problem(response)["errors"]
    unknown = world.api(a.coordinator).post(
        url(a, "policy/dry-run"),
        {"policy": draft, "activity_rates": [{"activity_id": 999999, "rate": "2"}]},
    )
    assert unknown.status_code == 422
    assert "activity_rates.0.activity_id" in problem(unknown)["errors"]
    member = world.api(a.members[0]).post(url(a, "policy/dry-run"), {"policy": draft})
    assert member.status_code == 403
    # Another scheme's coordinator: the scheme is not theirs, so it is not there.
    other = world.api(world.b.coordinator).post(url(a, "policy/dry-run"), {"policy": draft})
    assert other.status_code == 404
    # Another scheme's activity is no activity of this one.
    b_activity = activities(world, world.b)
    foreign = world.api(a.coordinator).post(
        url(a, "policy/dry-run"),
        {
            "policy": draft,
            "activity_rates": [{"activity_id": next(iter(b_activity.values())), "rate": "2"}],
        },
    )
    assert foreign.status_code == 422
