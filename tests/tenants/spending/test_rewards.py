"""The reward catalogue: template seeding, listing, coordinators' changes, bad input."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tests.factories import World, make_scheme, make_user, problem
from tests.tenants.spending.support import create_reward, snapshot, url
from timebank.tenants.templates import load_template


@pytest.mark.parametrize("template", ["community", "school", "surgery", "youth_court"])
def test_a_new_scheme_gets_its_templates_catalogue(app: Flask, template: str) -> None:
    coordinator = make_user(app)
    scheme = make_scheme(app, coordinator, template=template)
    world = World(app=app, a=scheme, b=scheme)
    response = world.api(coordinator).get(url(scheme, "rewards"))
    assert response.status_code == 200, response.get_json()
    items = response.get_json()["items"]
    expected = load_template(template)["rewards"]
    assert [(i["name"], i["price"], i["stock"]) for i in items] == [
        (r["name"], r["price"], r["stock"]) for r in expected
    ]
    assert [i["per_member_limit"] for i in items] == [r.get("per_member_limit") for r in expected]
    assert all(i["active"] for i in items)


def test_members_list_rewards_paginated(app: Flask, world: World) -> None:
    ann = world.a.members[0]
    for n in range(3):
        create_reward(world, world.a, name=f"Extra {n}")
    first = world.api(ann).get(url(world.a, "rewards?limit=4"))
    assert first.status_code == 200
    body = first.get_json()
    assert len(body["items"]) == 4 and body["next_cursor"]
    assert {"id", "name", "price", "stock", "active"} <= set(body["items"][0])
    rest = world.api(ann).get(url(world.a, f"rewards?limit=4&cursor={body['next_cursor']}"))
    assert [i["name"] for i in rest.get_json()["items"]] == ["Extra 1", "Extra 2"]
    assert rest.get_json()["next_cursor"] is None
    bad = world.api(ann).get(url(world.a, "rewards?limit=0"))
    assert bad.status_code == 422 and "limit" in problem(bad)["errors"]


def test_coordinator_creates_and_changes_a_reward(app: Flask, world: World) -> None:
    created = create_reward(
        world,
        world.a,
        name="Bike repair",
        price=90,
        stock=2,
        description="At the community workshop.",
        per_member_limit={"quantity": 1, "period": "week"},
        eligible_roles=["member"],
    )
    assert (
        created
        | {
            "name": "Bike repair",
            "price": 90,
            "stock": 2,
            "active": True,
            "per_member_limit": {"quantity": 1, "period": "week"},
            "eligible_roles": ["member"],
        }
        == created
    )
    coordinator = world.api(world.a.coordinator)
    changed = coordinator.patch(
        url(world.a, f"rewards/{created['id']}"),
        {"price": 120, "stock": None, "per_member_limit": None, "active": False},
    )
    assert changed.status_code == 200, changed.get_json()
    body = changed.get_json()
    assert (body["price"], body["stock"], body["per_member_limit"], body["active"]) == (
        120,
        None,
        None,
        False,
    )
    shown = world.api(world.a.members[0]).get(url(world.a, f"rewards/{created['id']}"))
    assert shown.get_json()["active"] is False
    inactive = world.api(world.a.members[0]).get(url(world.a, "rewards?active=false"))
    assert [i["id"] for i in inactive.get_json()["items"]] == [created["id"]]


def test_members_cannot_create_or_change_rewards(app: Flask, world: World) -> None:
    ann = world.api(world.a.members[0])
    before = snapshot(app, world.a)
    created = ann.post(url(world.a, "rewards"), {"name": "Mine", "price": 10})
    assert created.status_code == 403 and problem(created)["code"] == "coordinator_only"
    reward_id = next(iter(before["stock"]))
    changed = ann.patch(url(world.a, f"rewards/{reward_id}"), {"price": 1})
    assert changed.status_code == 403
    assert snapshot(app, world.a) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Free", "price": 0}, "price"),
        ({"name": "Owed", "price": -5}, "price"),
        ({"name": "Minus", "price": 60, "stock": -1}, "stock"),
        ({"name": "Float", "price": 1.5}, "price"),
        ({"name": "", "price": 60}, "name"),
        ({"price": 60}, "name"),
        ({"name": "Limit", "price": 60, "per_member_limit": {"quantity": 0, "period": "week"}},
         "per_member_limit.quantity"),
        ({"name": "Limit", "price": 60, "per_member_limit": {"quantity": 1, "period": "day"}},
         "per_member_limit.period"),
        ({"name": "Roles", "price": 60, "eligible_roles": ["operator"]}, "eligible_roles.0"),
        ({"name": "Extra", "price": 60, "scheme_id": 2}, "scheme_id"),
        ({"name": "Long", "price": 60, "description": "x" * 501}, "description"),
    ],
)  # fmt: skip
def test_bad_reward_input_is_422_and_writes_nothing(
    app: Flask, world: World, body: dict[str, Any], field: str
) -> None:
    before = snapshot(app, world.a)
    other_before = snapshot(app, world.b)
    response = world.api(world.a.coordinator).post(url(world.a, "rewards"), body)
    assert response.status_code == 422, response.get_json()
    details = problem(response)
    assert details["code"] == "validation_error"
    assert field in details["errors"], details
    assert snapshot(app, world.a) == before
    assert snapshot(app, world.b) == other_before


def test_bad_patch_is_422_and_writes_nothing(app: Flask, world: World) -> None:
    reward = create_reward(world, world.a, stock=3)
    before = snapshot(app, world.a)
    coordinator = world.api(world.a.coordinator)
    for body, field in (({"price": 0}, "price"), ({"stock": -2}, "stock"), ({}, "_schema")):
        response = coordinator.patch(url(world.a, f"rewards/{reward['id']}"), body)
        assert response.status_code == 422, (body, response.get_json())
        assert field in problem(response)["errors"]
    assert snapshot(app, world.a) == before


def test_rewards_of_another_scheme_are_404(app: Flask, world: World) -> None:
    b_reward = create_reward(world, world.b, name="Beta only")
    a_before = snapshot(app, world.a)
    coordinator = world.api(world.a.coordinator)
    missing = coordinator.get(url(world.a, "rewards/999999"))
    foreign = coordinator.get(url(world.a, f"rewards/{b_reward['id']}"))
    assert foreign.status_code == missing.status_code == 404
    assert foreign.get_json() == missing.get_json()
    patched = coordinator.patch(url(world.a, f"rewards/{b_reward['id']}"), {"price": 1})
    assert patched.status_code == 404
    listed = coordinator.get(url(world.a, "rewards")).get_json()["items"]
    assert "Beta only" not in {i["name"] for i in listed}
    assert snapshot(app, world.a) == a_before


def test_openapi_documents_the_spending_routes(app: Flask) -> None:
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    paths = spec["paths"]
    for path in (
        "/api/v1/schemes/{slug}/rewards",
        "/api/v1/schemes/{slug}/redemptions",
        "/api/v1/schemes/{slug}/gifts",
        "/api/v1/schemes/{slug}/pot/grants",
        "/api/v1/schemes/{slug}/leave",
        "/api/v1/schemes/{slug}/members/{member_id}/settle",
    ):
        assert path in paths, path
    gift = spec["components"]["schemas"]["GiftIn"]["properties"]["to"]
    assert gift["oneOf"][0] == {"type": "string", "enum": ["pot"]}
