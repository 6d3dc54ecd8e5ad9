"""Report figures equal the same figures counted by hand from the ledger, for random
histories and random periods, whether the daily summary job has run for none, part or
all of the period (property test)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from tests.factories import Person, World, add_member, fund, make_user
from tests.tenants.partners.support import add_offer, make_partner
from tests.tenants.reports import oracle
from tests.tenants.reports.test_breakdowns import new_group, record_ages
from timebank.platform import tenancy
from timebank.platform.db import clock_at, db
from timebank.platform.schemes.models import Scheme
from timebank.tenants.reports import impact, summaries
from timebank.tenants.reports.models import ReportProgress

ZONE = "Europe/London"
# Spans the change to summer time (29 March 2026) and a month end.
BASE = date(2026, 3, 20)
DAYS = 20


def url(world: World, path: str) -> str:
    return f"/api/v1/schemes/{world.a.slug}/{path}"


def moment(day: int, minute: int) -> datetime:
    local = datetime.combine(BASE + timedelta(days=day), datetime.min.time(), ZoneInfo(ZONE))
    return (local + timedelta(minutes=minute)).astimezone(UTC)


def ids(world: World, path: str) -> list[int]:
    response = world.api(world.a.coordinator).get(url(world, f"{path}?limit=200"))
    assert response.status_code == 200, response.data
    return [item["id"] for item in response.get_json()["items"]]


def apply(
    world: World,
    members: list[Person],
    event: tuple[Any, ...],
    activities: list[int],
    rewards: list[int],
) -> None:
    """One event through the API, dated by the clock; a refusal (a rule) is just skipped."""
    kind, day, minute, first, second, minutes = event
    slug = world.a.slug
    with clock_at(moment(day, minute)):
        if kind == "transfer" and first != second:
            paid = world.api(members[first]).post(
                url(world, "transfers"),
                {"to_member_id": members[second].member_ids[slug], "amount": minutes},
            )
            assert paid.status_code in (201, 422), paid.data  # paid, or a rule refused it
        elif kind == "claim":
            response = world.api(world.a.coordinator).post(
                url(world, "claims"),
                {
                    "activity_id": activities[second % len(activities)],
                    "minutes": minutes,
                    "performed_on": (BASE + timedelta(days=day)).isoformat(),
                    "member_id": members[first].member_ids[slug],
                    "note": "property test",
                },
            )
            body = response.get_json() or {}
            if response.status_code == 201 and body.get("status") == "pending" and minutes % 3:
                world.api(world.a.coordinator).post(url(world, f"claims/{body['id']}/approve"))
        elif kind == "award":
            chosen = sorted({members[first].member_ids[slug], members[second].member_ids[slug]})
            world.api(world.a.coordinator).post(
                url(world, "awards"),
                {
                    "activity_id": activities[first % len(activities)],
                    "minutes": minutes,
                    "member_ids": chosen,
                },
            )
        elif kind == "spend" and rewards:
            world.api(members[first]).post(
                url(world, "redemptions"),
                {"reward_id": rewards[second % len(rewards)], "quantity": 1},
            )


events = st.tuples(
    st.sampled_from(("transfer", "claim", "award", "spend")),
    st.integers(0, DAYS - 1),
    st.integers(0, 24 * 60 - 1),
    st.integers(0, 3),
    st.integers(0, 3),
    st.integers(1, 240),
)


def summarise(app: Flask, scheme_id: int, through: date | None) -> None:
    with app.app_context(), tenancy.scheme_context(scheme_id):
        scheme = db.session.get(Scheme, scheme_id)
        assert scheme is not None
        if through is None:
            for model in summaries.SUMMARY_MODELS:
                db.session.execute(delete(model))
            db.session.execute(delete(ReportProgress))
        else:
            summaries.summarise(scheme, through=through, rebuild=True)
        db.session.commit()


def report(app: Flask, scheme_id: int, first: date, last: date) -> impact.Report:
    with app.app_context(), tenancy.scheme_context(scheme_id):
        scheme = db.session.get(Scheme, scheme_id)
        assert scheme is not None
        result = impact.scheme_report(scheme, first, last)
        db.session.rollback()
    return result


def test_report_figures_equal_a_count_by_hand(app: Flask, world: World) -> None:
    members = list(world.a.members)
    for index in range(2):  # two more, joining inside the history (new members)
        person = make_user(app, name=f"Newcomer {index}")
        with clock_at(moment(3 + 7 * index, 600)):
            add_member(app, world.a, person)
        members.append(person)
    for person in members:
        fund(app, world.a, person, 6000)
    # A partner's offer among the rewards, two groups sharing a member, ages for two members.
    add_offer(world, make_partner(world, world.a), price=30)
    member_ids = [person.member_ids[world.a.slug] for person in members]
    new_group(world, world.a, "Blue", member_ids[:2])
    new_group(world, world.a, "Green", member_ids[1:3])
    record_ages(
        app, world.a.id, {member_ids[0]: (date(2014, 4, 1), None), member_ids[2]: (None, "16_17")}
    )
    activities = ids(world, "activities")
    rewards = ids(world, "rewards")
    before_b = oracle.load(app, world.b.id)

    @settings(max_examples=12, deadline=None, database=None, phases=[Phase.generate])
    @given(
        history=st.lists(events, min_size=1, max_size=8),
        start=st.integers(-3, DAYS + 2),
        length=st.integers(0, DAYS + 4),
        through=st.one_of(st.none(), st.integers(-5, DAYS + 5)),
    )
    def check(history: list[Any], start: int, length: int, through: int | None) -> None:
        for event in history:
            apply(world, members, event, activities, rewards)
        summarise(app, world.a.id, None if through is None else BASE + timedelta(days=through))
        first = BASE + timedelta(days=start)
        last = first + timedelta(days=length)
        got = report(app, world.a.id, first, last)
        data = oracle.load(app, world.a.id)
        expected = oracle.figures(data, ZONE, first, last)
        assert {name: getattr(got, name) for name in impact.TOTALLED} == {
            name: expected[name] for name in impact.TOTALLED
        }
        assert {row["activity_id"]: row["minutes"] for row in got.by_activity} == expected[
            "activities"
        ]
        assert sum(row["minutes"] for row in got.by_category) == sum(
            expected["activities"].values()
        )
        split = oracle.breakdowns(data, ZONE, first, last)
        assert {row["partner_id"]: row["minutes"] for row in got.by_partner} == split["partners"]
        assert sum(split["partners"].values()) == expected["minutes_spent"]
        assert {
            row["group_id"]: (row["members_earning"], row["minutes"]) for row in got.by_group
        } == split["groups"]
        assert {
            row["band"]: (row["active_members"], row["minutes_earned"]) for row in got.by_age_band
        } == split["age_bands"]
        assert sum(row["minutes_earned"] for row in got.by_age_band) == expected["minutes_earned"]
        for row in got.retention:
            month_first = date.fromisoformat(row["month"] + "-01")
            month_last = min(
                last, (month_first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
            )
            assert row["active_members"] == len(
                oracle.active_in(data, ZONE, month_first, month_last)
            )

    check()
    made = {kind for kind, _amount, _at in oracle.load(app, world.a.id)["transactions"].values()}
    # The histories did happen (a history's transfers may all be refused by a rule: every
    # transfer's answer is checked above to be 201 or 422, never a server error).
    assert {"earn", "spend"} <= made, made
    assert oracle.load(app, world.b.id) == before_b  # the other scheme: untouched


def test_the_daily_job_adds_days_without_counting_any_twice(app: Flask, world: World) -> None:
    ann, arthur = world.a.members
    for person in (ann, arthur):
        fund(app, world.a, person, 600)
    for day in range(6):
        with clock_at(moment(day, 23 * 60 + 30)):  # late evening: next day in UTC in summer
            response = world.api(ann).post(
                url(world, "transfers"),
                {"to_member_id": arthur.member_ids[world.a.slug], "amount": 10 + day},
            )
            assert response.status_code == 201, response.data
        with app.app_context(), tenancy.scheme_context(world.a.id):
            scheme = db.session.get(Scheme, world.a.id)
            assert scheme is not None
            summaries.summarise(scheme, through=BASE + timedelta(days=day))
            summaries.summarise(scheme, through=BASE + timedelta(days=day))  # again: no change
            db.session.commit()
    got = report(app, world.a.id, BASE, BASE + timedelta(days=10))
    assert (got.minutes_transferred, got.exchanges) == (sum(10 + d for d in range(6)), 6)
    assert (got.people_helped, got.people_helping, got.active_members) == (1, 1, 2)
    other = report(app, world.b.id, BASE, BASE + timedelta(days=10))
    assert (other.exchanges, other.active_members, other.minutes_transferred) == (0, 0, 0)
