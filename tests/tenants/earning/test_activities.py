"""Activities: seeded from the sector template, created and changed by coordinators."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.factories import World, make_scheme, make_user, problem
from tests.tenants.earning.conftest import activity_ids, counts, url


def test_templates_seed_their_activities(app: Flask, world: World) -> None:
    member = world.a.members[0]
    response = world.api(member).get(url(world.a, "activities"))
    assert response.status_code == 200, response.data
    items = {item["name"]: item for item in response.get_json()["items"]}
    assert items["Helping a neighbour"] | {"id": 0} == {
        "id": 0,
        "name": "Helping a neighbour",
        "description": "Any hour of help given to another member.",
        "category": "Mutual support",
        "rate": "1",
        "approval": "policy",
        "active": True,
        "requires_note": False,
        "with_children": False,
        "minors_allowed": False,
    }
    assert items["Running a skills workshop"]["rate"] == "1.5"
    assert items["Community clean-up day"]["approval"] == "coordinator"

    surgery = activity_ids(world, world.b)
    assert "Befriending a patient referred by the practice" in surgery
    assert not set(surgery) & set(items)  # each scheme sees only its own

    school = make_scheme(app, make_user(app), template="school")
    rates = {
        item["name"]: item["rate"]
        for item in world.api(school.coordinator).get(url(school, "activities")).get_json()["items"]
    }
    assert rates["Homework club"] == "0.5"


def test_coordinator_creates_activities_with_exact_rates(app: Flask, world: World) -> None:
    api = world.api(world.a.coordinator)
    plain = api.post(url(world.a, "activities"), {"name": "Gardening"})
    assert plain.status_code == 201, plain.data
    assert plain.get_json() | {"id": 0} == {
        "id": 0,
        "name": "Gardening",
        "description": None,
        "category": None,
        "rate": "1",
        "approval": "policy",
        "active": True,
        "requires_note": False,
        "with_children": False,
        "minors_allowed": False,
    }
    for given, stored in (("1.5", "1.5"), ("0.25", "0.25"), ("1.50", "1.5"), ("2", "2"), (3, "3")):
        response = api.post(
            url(world.a, "activities"),
            {"name": f"Rate {given}", "rate": given, "approval": "auto", "category": "Test"},
        )
        assert response.status_code == 201, response.data
        assert response.get_json()["rate"] == stored
    listed = world.api(world.a.members[0]).get(url(world.a, "activities?limit=200")).get_json()
    assert {"Rate 0.25", "Rate 1.5", "Gardening"} <= {item["name"] for item in listed["items"]}
    assert "Gardening" not in activity_ids(world, world.b)


@pytest.mark.parametrize(
    "rate", ["abc", "0", "0.0", "-1", "1.23456", "1e2", "", " ", 1.5, True, None, "1,5", "101"]
)
def test_bad_rates_are_refused_on_the_rate_field(app: Flask, world: World, rate: object) -> None:
    before = counts(app, world.a.id)
    response = world.api(world.a.coordinator).post(
        url(world.a, "activities"), {"name": "Bad rate", "rate": rate}
    )
    assert response.status_code == 422, response.data
    body = problem(response)
    assert body["code"] == "validation_error"
    assert set(body["errors"]) == {"rate"}
    assert counts(app, world.a.id) == before


def test_other_bad_activity_fields(app: Flask, world: World) -> None:
    api = world.api(world.a.coordinator)
    for body, field in (
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x", "approval": "sometimes"}, "approval"),
        ({"name": "x", "description": "d" * 501}, "description"),
        ({"name": "x", "scheme_id": world.b.id}, "scheme_id"),
    ):
        response = api.post(url(world.a, "activities"), body)
        assert response.status_code == 422, (body, response.data)
        assert field in problem(response)["errors"], (body, response.get_json())


def test_only_coordinators_create_or_change_activities(app: Flask, world: World) -> None:
    member = world.a.members[0]
    activity_id = activity_ids(world, world.a)["Helping a neighbour"]
    created = world.api(member).post(url(world.a, "activities"), {"name": "Mine"})
    assert created.status_code == 403 and problem(created)["code"] == "coordinator_only"
    changed = world.api(member).patch(url(world.a, f"activities/{activity_id}"), {"rate": "5"})
    assert changed.status_code == 403 and problem(changed)["code"] == "coordinator_only"


def test_coordinator_changes_and_retires_an_activity(app: Flask, world: World) -> None:
    activity_id = activity_ids(world, world.a)["Food bank shift"]
    api = world.api(world.a.coordinator)
    response = api.patch(
        url(world.a, f"activities/{activity_id}"),
        {"rate": "1.25", "approval": "coordinator", "requires_note": True, "description": None},
    )
    assert response.status_code == 200, response.data
    body = response.get_json()
    assert (body["rate"], body["approval"], body["requires_note"], body["description"]) == (
        "1.25",
        "coordinator",
        True,
        None,
    )
    retired = api.patch(url(world.a, f"activities/{activity_id}"), {"active": False})
    assert retired.get_json()["active"] is False
    active = api.get(url(world.a, "activities?active=true")).get_json()["items"]
    assert activity_id not in {item["id"] for item in active}
    bad = api.patch(url(world.a, f"activities/{activity_id}"), {"rate": "abc"})
    assert bad.status_code == 422 and set(problem(bad)["errors"]) == {"rate"}
    assert api.get(url(world.a, f"activities/{activity_id}")).get_json()["rate"] == "1.25"


def test_another_schemes_activity_is_404(app: Flask, world: World) -> None:
    b_activity = next(iter(activity_ids(world, world.b).values()))
    api = world.api(world.a.coordinator)
    for response in (
        api.get(url(world.a, f"activities/{b_activity}")),
        api.patch(url(world.a, f"activities/{b_activity}"), {"active": False}),
    ):
        assert response.status_code == 404 and problem(response)["code"] == "not_found"
    b_items = world.api(world.b.coordinator).get(url(world.b, "activities")).get_json()["items"]
    assert all(item["active"] for item in b_items)
