"""Operators: the CLI, the scheme list, suspension and platform figures."""

from __future__ import annotations

from flask import Flask

from tests.factories import World, fund, make_operator, problem


def test_operators_create_command(app: Flask) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["operators", "create", "olu@example.test", "--password", "operator-pass"]
    )
    assert result.exit_code == 0, result.output
    assert "Created operator" in result.output
    client = app.test_client()
    token = client.post(
        "/api/v1/tokens", json={"email": "olu@example.test", "password": "operator-pass"}
    )
    assert token.status_code == 201
    headers = {"Authorization": f"Bearer {token.get_json()['token']}"}
    assert client.get("/api/v1/platform/stats", headers=headers).status_code == 200
    short = runner.invoke(args=["operators", "create", "x@example.test", "--password", "short"])
    assert short.exit_code != 0


def test_non_operators_get_403(app: Flask, world: World) -> None:
    api = world.api(world.a.coordinator)
    for path in ("/api/v1/platform/schemes", "/api/v1/platform/stats"):
        response = api.get(path)
        assert response.status_code == 403 and problem(response)["code"] == "operator_only"
    assert api.post(f"/api/v1/platform/schemes/{world.b.slug}/suspend").status_code == 403


def test_scheme_list_and_stats(app: Flask, world: World) -> None:
    fund(app, world.a, world.a.members[0], 300)
    ann, arthur = world.a.members
    pay = world.api(ann).post(
        f"/api/v1/schemes/{world.a.slug}/transfers",
        {"to_member_id": arthur.member_ids[world.a.slug], "amount": 45},
    )
    assert pay.status_code == 201
    api = world.api(make_operator(app))
    listing = api.get("/api/v1/platform/schemes?limit=1").get_json()
    assert len(listing["items"]) == 1 and listing["next_cursor"]
    rest = api.get(f"/api/v1/platform/schemes?cursor={listing['next_cursor']}").get_json()
    rows = {row["slug"]: row for row in listing["items"] + rest["items"]}
    assert rows[world.a.slug] == rows[world.a.slug] | {
        "name": "Alpha Time Bank",
        "status": "active",
        "plan": "free",
        "members": 3,
    }
    assert rows[world.b.slug]["members"] == 3
    stats = api.get("/api/v1/platform/stats").get_json()
    assert stats == {"schemes": 2, "members": 6, "transactions": 2, "minutes_exchanged": 45}


def test_suspended_scheme_refuses_writes_but_reads_work(app: Flask, world: World) -> None:
    fund(app, world.a, world.a.members[0], 300)
    operator = world.api(make_operator(app))
    response = operator.post(
        f"/api/v1/platform/schemes/{world.a.slug}/suspend", {"reason": "Unpaid invoice"}
    )
    assert response.status_code == 200 and response.get_json() == {"status": "suspended"}

    ann = world.api(world.a.members[0])
    target = world.a.members[1].member_ids[world.a.slug]
    pay = ann.post(
        f"/api/v1/schemes/{world.a.slug}/transfers", {"to_member_id": target, "amount": 10}
    )
    body = problem(pay)
    assert pay.status_code == 403 and body["code"] == "scheme_suspended"
    assert "Unpaid invoice" in body["detail"]
    coordinator = world.api(world.a.coordinator)
    policy = coordinator.get(f"/api/v1/schemes/{world.a.slug}/policy").get_json()
    assert coordinator.put(f"/api/v1/schemes/{world.a.slug}/policy", policy).status_code == 403
    invite = coordinator.post(
        f"/api/v1/schemes/{world.a.slug}/invitations", {"email": "x@example.test"}
    )
    assert invite.status_code == 403
    # Reads still work, history included.
    assert ann.get(f"/api/v1/schemes/{world.a.slug}/balance").get_json()["balance"] == 300
    assert len(ann.get(f"/api/v1/schemes/{world.a.slug}/transactions").get_json()["items"]) == 1
    assert ann.get(f"/api/v1/schemes/{world.a.slug}").get_json()["status"] == "suspended"
    # Scheme B is untouched.
    b = world.api(world.b.members[0])
    b_target = world.b.members[1].member_ids[world.b.slug]
    fund(app, world.b, world.b.members[0], 60)
    assert (
        b.post(
            f"/api/v1/schemes/{world.b.slug}/transfers", {"to_member_id": b_target, "amount": 10}
        ).status_code
        == 201
    )

    assert operator.post(f"/api/v1/platform/schemes/{world.a.slug}/reactivate").get_json() == {
        "status": "active"
    }
    assert (
        ann.post(
            f"/api/v1/schemes/{world.a.slug}/transfers", {"to_member_id": target, "amount": 10}
        ).status_code
        == 201
    )


def test_suspending_an_unknown_scheme_is_404(app: Flask, world: World) -> None:
    operator = world.api(make_operator(app))
    assert operator.post("/api/v1/platform/schemes/nope-nope/suspend").status_code == 404
    long_reason = operator.post(
        f"/api/v1/platform/schemes/{world.a.slug}/suspend", {"reason": "x" * 501}
    )
    assert long_reason.status_code == 422 and "reason" in problem(long_reason)["errors"]
