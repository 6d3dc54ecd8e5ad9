"""Wellbeing surveys: published scoring of ONS4 and SWEMWBS, incomplete answers refused,
who may see whose answers, and the change between first and latest answers."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from flask import Flask

from tests.factories import World, make_operator, problem
from timebank.platform.db import clock_at
from timebank.tenants.wellbeing import scales

# The published SWEMWBS conversion table (Warwick Medical School), raw → metric.
PUBLISHED = {
    7: 7.00, 8: 9.51, 9: 11.25, 10: 12.40, 11: 13.33, 12: 14.08, 13: 14.75, 14: 15.32,
    15: 15.84, 16: 16.36, 17: 16.88, 18: 17.43, 19: 17.98, 20: 18.59, 21: 19.25, 22: 19.98,
    23: 20.73, 24: 21.54, 25: 22.35, 26: 23.21, 27: 24.11, 28: 25.03, 29: 26.02, 30: 27.03,
    31: 28.13, 32: 29.31, 33: 30.70, 34: 32.55, 35: 35.00,
}  # fmt: skip


def url(slug: str, path: str) -> str:
    return f"/api/v1/schemes/{slug}/{path}"


def switch_on(world: World, scale: str, slug: str | None = None) -> None:
    scheme = world.a if slug is None else world.b
    api = world.api(scheme.coordinator)
    document = api.get(url(scheme.slug, "policy")).get_json()
    document["wellbeing"] = {"scale": scale, "every_months": 6}
    response = api.put(url(scheme.slug, "policy"), document)
    assert response.status_code == 200, response.data


def answer(world: World, person: Any, body: dict[str, Any], slug: str | None = None) -> Any:
    return world.api(person).post(url(slug or world.a.slug, "surveys/responses"), body)


@pytest.mark.parametrize("raw", sorted(PUBLISHED))
def test_swemwbs_metric_is_the_published_conversion(raw: int) -> None:
    # Any seven answers 1-5 adding up to ``raw``.
    answers = [1] * 7
    left = raw - 7
    for index in range(7):
        step = min(4, left)
        answers[index] += step
        left -= step
    assert sum(answers) == raw
    assert scales.score("swemwbs", answers) == {"raw": raw, "metric": PUBLISHED[raw]}


def test_ons4_scores_each_question_and_anxiety_improves_when_it_falls() -> None:
    assert scales.score("ons4", [7, 8, 6, 3]) == {
        "life_satisfaction": 7,
        "worthwhile": 8,
        "happiness": 6,
        "anxiety": 3,
    }
    assert scales.improved("anxiety", 6, 3) and not scales.improved("anxiety", 3, 6)
    assert scales.improved("happiness", 3, 6)
    assert [scales.ons4_band("anxiety", s) for s in (0, 1, 2, 3, 4, 5, 6, 10)] == [
        "very low", "very low", "low", "low", "medium", "medium", "high", "high"
    ]  # fmt: skip
    assert [scales.ons4_band("happiness", s) for s in (4, 5, 6, 7, 8, 9, 10)] == [
        "low", "medium", "medium", "high", "high", "very high", "very high"
    ]  # fmt: skip
    assert len(scales.SWEMWBS.questions) == 7 and len(scales.ONS4.questions) == 4


@pytest.mark.parametrize(
    ("scale", "answers"),
    [
        ("swemwbs", [3, 3, 3, 3, 3, 3]),  # six of seven
        ("swemwbs", [3, 3, 3, 3, 3, 3, 3, 3]),
        ("swemwbs", [0, 3, 3, 3, 3, 3, 3]),
        ("swemwbs", [6, 3, 3, 3, 3, 3, 3]),
        ("swemwbs", [3, 3, None, 3, 3, 3, 3]),
        ("swemwbs", [3, 3, "3", 3, 3, 3, 3]),
        ("swemwbs", [3, 3, 3.5, 3, 3, 3, 3]),
        ("swemwbs", [3, 3, True, 3, 3, 3, 3]),
        ("swemwbs", []),
    ],
)
def test_incomplete_or_out_of_range_answers_are_422_and_nothing_is_kept(
    world: World, scale: str, answers: list[Any]
) -> None:
    switch_on(world, scale)
    ann = world.a.members[0]
    response = answer(world, ann, {"scale": scale, "answers": answers, "consent_to_report": True})
    assert response.status_code == 422, response.data
    assert "answers" in problem(response)["errors"]
    assert world.api(ann).get(url(world.a.slug, "surveys/responses")).get_json()["items"] == []


def test_ons4_out_of_range_and_short_are_422(world: World) -> None:
    switch_on(world, "ons4")
    ann = world.a.members[0]
    for answers in ([5, 5, 5], [5, 5, 5, 11], [-1, 5, 5, 5]):
        response = answer(world, ann, {"scale": "ons4", "answers": answers})
        assert response.status_code == 422 and "answers" in problem(response)["errors"]


def test_a_scale_the_scheme_does_not_use_is_422_on_scale(world: World) -> None:
    ann = world.a.members[0]
    response = answer(world, ann, {"scale": "ons4", "answers": [5, 5, 5, 5]})
    assert response.status_code == 422 and "scale" in problem(response)["errors"]
    switch_on(world, "swemwbs")
    response = answer(world, ann, {"scale": "ons4", "answers": [5, 5, 5, 5]})
    assert response.status_code == 422 and "scale" in problem(response)["errors"]


def test_answers_are_seen_by_the_member_and_coordinators_only(app: Flask, world: World) -> None:
    switch_on(world, "swemwbs")
    ann, arthur = world.a.members
    response = answer(
        world, ann, {"scale": "swemwbs", "answers": [4] * 7, "consent_to_report": True}
    )
    assert response.status_code == 201, response.data
    created = response.get_json()
    assert created["scores"] == {"raw": 28, "metric": 25.03}
    assert created["scale"] == "swemwbs" and created["taken_on"] == date.today().isoformat()
    ann_id = ann.member_ids[world.a.slug]
    mine = world.api(ann).get(url(world.a.slug, "surveys/responses")).get_json()["items"]
    assert [item["id"] for item in mine] == [created["id"]]
    # Another member: sees only their own (none), and may not ask for Ann's.
    assert world.api(arthur).get(url(world.a.slug, "surveys/responses")).get_json()["items"] == []
    denied = world.api(arthur).get(url(world.a.slug, f"surveys/responses?member_id={ann_id}"))
    assert denied.status_code == 403 and problem(denied)["code"] == "coordinator_only"
    # ... nor answer for her.
    denied = answer(world, arthur, {"scale": "swemwbs", "answers": [3] * 7, "member_id": ann_id})
    assert denied.status_code == 403 and problem(denied)["code"] == "coordinator_only"
    # The coordinator: everyone's, or one member's.
    coordinator = world.api(world.a.coordinator)
    every = coordinator.get(url(world.a.slug, "surveys/responses")).get_json()["items"]
    assert [item["member_id"] for item in every] == [ann_id]
    # Another scheme: its members and coordinator get 404, whatever they ask.
    for outsider in (world.b.coordinator, world.b.members[0]):
        response = world.api(outsider).get(url(world.a.slug, "surveys/responses"))
        assert response.status_code == 404
    response = world.api(world.b.coordinator).get(
        url(world.b.slug, f"surveys/responses?member_id={ann_id}")
    )
    assert response.status_code == 404
    assert (
        world.api(world.b.coordinator)
        .get(url(world.b.slug, "surveys/responses"))
        .get_json()["items"]
        == []
    )
    # A member may not read the wellbeing report; the operator's report has no answers.
    assert world.api(ann).get(url(world.a.slug, "reports/wellbeing")).status_code == 403
    operator = make_operator(app)
    body = world.api(operator).get("/api/v1/platform/reports/summary").get_json()
    assert set(body) == {"from", "to", "schemes", "totals"}
    assert all("answers" not in row and "member_id" not in row for row in body["schemes"])
    assert world.api(operator).get(url(world.a.slug, "surveys/responses")).status_code == 404


def test_a_coordinator_enters_answers_on_paper_for_a_member(app: Flask, world: World) -> None:
    switch_on(world, "ons4")
    ann = world.a.members[0]
    ann_id = ann.member_ids[world.a.slug]
    response = answer(
        world,
        world.a.coordinator,
        {"scale": "ons4", "answers": [6, 7, 5, 4], "member_id": ann_id, "consent_to_report": True},
    )
    assert response.status_code == 201, response.data
    assert response.get_json()["member_id"] == ann_id
    mine = world.api(ann).get(url(world.a.slug, "surveys/responses")).get_json()["items"]
    assert [item["scores"]["anxiety"] for item in mine] == [4]
    # A member of another scheme is not found.
    other = world.b.members[0].member_ids[world.b.slug]
    response = answer(
        world, world.a.coordinator, {"scale": "ons4", "answers": [6, 7, 5, 4], "member_id": other}
    )
    assert response.status_code == 404


def test_change_from_first_to_latest_counts_consenting_members_with_two(
    app: Flask, world: World
) -> None:
    from datetime import UTC, datetime

    switch_on(world, "swemwbs")
    ann, arthur = world.a.members
    coordinator = world.a.coordinator
    history = [
        (ann, "2026-01-10", [2] * 7, True),  # raw 14 → 15.32
        (ann, "2026-07-10", [4] * 7, True),  # raw 28 → 25.03: improved
        (arthur, "2026-01-12", [4] * 7, True),  # 25.03
        (arthur, "2026-07-12", [3] * 7, True),  # raw 21 → 19.25: worse
        (coordinator, "2026-02-01", [5] * 7, False),  # no consent: left out
        (coordinator, "2026-08-01", [1] * 7, False),
    ]
    for person, day, answers, consent in history:
        with clock_at(datetime.fromisoformat(day + "T12:00:00").replace(tzinfo=UTC)):
            response = answer(
                world,
                person,
                {"scale": "swemwbs", "answers": answers, "consent_to_report": consent},
            )
            assert response.status_code == 201, response.data
    api = world.api(coordinator)
    body = api.get(url(world.a.slug, "reports/wellbeing?from=2026-07-01&to=2026-12-31")).get_json()
    assert body["members"] == 2
    assert body["mean_first"] == round((15.32 + 25.03) / 2, 2)
    assert body["mean_latest"] == round((25.03 + 19.25) / 2, 2)
    assert body["share_improved"] == 0.5
    # Latest answers outside the period: nobody.
    body = api.get(url(world.a.slug, "reports/wellbeing?from=2026-09-01&to=2026-12-31")).get_json()
    assert body["members"] == 0 and body["mean_first"] is None
    # The other scheme's report knows nothing of these.
    other = world.api(world.b.coordinator).get(url(world.b.slug, "reports/wellbeing")).get_json()
    assert other["members"] == 0


def test_asked_at_joining_then_every_n_months_and_a_skip_counts(app: Flask, world: World) -> None:
    from datetime import UTC, datetime

    from timebank.platform import tenancy
    from timebank.platform.db import db
    from timebank.platform.schemes.models import Scheme
    from timebank.tenants.wellbeing import services

    switch_on(world, "ons4")  # every 6 months
    ann = world.a.members[0]
    ann_id = ann.member_ids[world.a.slug]

    def due(day: str) -> bool:
        with app.app_context(), tenancy.scheme_context(world.a.id):
            scheme = db.session.get(Scheme, world.a.id)
            assert scheme is not None
            return services.is_due(scheme, ann_id, date.fromisoformat(day))

    assert due("2026-01-01")  # never asked: at joining
    with clock_at(datetime(2026, 1, 31, 12, tzinfo=UTC)):
        assert answer(world, ann, {"scale": "ons4", "answers": [5, 5, 5, 5]}).status_code == 201
    assert not due("2026-07-30") and due("2026-07-31")  # 31 Jan + 6 months (end of July)
    with app.app_context(), tenancy.scheme_context(world.a.id):
        scheme = db.session.get(Scheme, world.a.id)
        member = db.session.get(services.Member, (world.a.id, ann_id))
        assert scheme is not None and member is not None
        with clock_at(datetime(2026, 8, 1, 12, tzinfo=UTC)):
            services.skip(scheme, member, actor_user_id=ann.user_id)
        db.session.commit()
    assert not due("2027-01-31") and due("2027-02-01")  # a skip waits as an answer does
    # A skip is not an answer: nothing of it in the list.
    items = world.api(ann).get(url(world.a.slug, "surveys/responses")).get_json()["items"]
    assert len(items) == 1
