"""``GET /api/v1/schemes``: the caller's schemes, paginated; every scheme for operators."""

from __future__ import annotations

from flask import Flask

from tests.factories import World, add_member, make_operator, make_scheme, make_user, problem


def test_a_member_lists_their_own_schemes_only(app: Flask, world: World) -> None:
    ann = world.a.members[0]
    assert world.api(ann).get("/api/v1/schemes").get_json() == {
        "items": [
            {
                "slug": world.a.slug,
                "name": "Alpha Time Bank",
                "template": "community",
                "status": "active",
                "role": "member",
                "member_status": "active",
            }
        ],
        "next_cursor": None,
    }
    # Scheme B's people see only B.
    ben = world.api(world.b.coordinator).get("/api/v1/schemes").get_json()
    assert [(s["slug"], s["role"]) for s in ben["items"]] == [(world.b.slug, "coordinator")]


def test_several_schemes_are_paginated_and_suspensions_shown(app: Flask, world: World) -> None:
    ann = world.a.members[0]
    add_member(app, world.b, ann, role="coordinator")
    third = make_scheme(app, make_user(app), slug="gamma-school", template="school")
    member_id = add_member(app, third, ann)
    suspend = world.api(third.coordinator).patch(
        f"/api/v1/schemes/{third.slug}/members/{member_id}", {"status": "suspended"}
    )
    assert suspend.status_code == 200
    api = world.api(ann)
    first = api.get("/api/v1/schemes?limit=2").get_json()
    assert [s["slug"] for s in first["items"]] == [world.a.slug, world.b.slug]
    assert first["items"][1]["role"] == "coordinator" and first["next_cursor"]
    second = api.get(f"/api/v1/schemes?limit=2&cursor={first['next_cursor']}").get_json()
    assert second["next_cursor"] is None
    assert second["items"] == [
        {
            "slug": "gamma-school",
            "name": "Gamma School",
            "template": "school",
            "status": "active",
            "role": "member",
            "member_status": "suspended",
        }
    ]
    # One who left is no longer listed.
    arthur = world.a.members[1]
    assert world.api(arthur).post(
        f"/api/v1/schemes/{world.a.slug}/leave", {"balance_to": "pot"}
    ).status_code in (200, 201)
    assert world.api(arthur).get("/api/v1/schemes").get_json()["items"] == []


def test_bad_queries_are_422_and_no_credentials_401(app: Flask, world: World) -> None:
    api = world.api(world.a.members[0])
    for query, field in (
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=x", "limit"),
        ("cursor=%%%", "cursor"),
        ("all=maybe", "all"),
    ):
        response = api.get(f"/api/v1/schemes?{query}")
        assert response.status_code == 422, query
        assert field in problem(response)["errors"], (query, problem(response)["errors"])
    anonymous = world.api().get("/api/v1/schemes")
    assert anonymous.status_code == 401 and problem(anonymous)["code"] == "unauthorized"


def test_all_is_for_operators_only(app: Flask, world: World) -> None:
    refused = world.api(world.a.coordinator).get("/api/v1/schemes?all=true")
    assert refused.status_code == 403 and problem(refused)["code"] == "operator_only"
    operator = make_operator(app)
    assert world.api(operator).get("/api/v1/schemes").get_json()["items"] == []
    listed = world.api(operator).get("/api/v1/schemes?all=true").get_json()
    assert [(s["slug"], s["role"], s["member_status"]) for s in listed["items"]] == [
        (world.a.slug, None, None),
        (world.b.slug, None, None),
    ]
    add_member(app, world.b, operator)
    page = world.api(operator).get("/api/v1/schemes?all=true&limit=1").get_json()
    assert [s["slug"] for s in page["items"]] == [world.a.slug]
    rest = world.api(operator).get(f"/api/v1/schemes?all=true&cursor={page['next_cursor']}")
    assert [(s["slug"], s["role"]) for s in rest.get_json()["items"]] == [(world.b.slug, "member")]
    assert world.api(operator).get("/api/v1/schemes?all=false").get_json()["items"] == [
        rest.get_json()["items"][0]
    ]
