"""Reward goals: one per member, progress toward it, another scheme's reward refused."""

from __future__ import annotations

from flask import Flask

from tests.factories import World, fund
from tests.tenants.spending.support import create_reward, snapshot, url


def test_a_member_sets_reads_replaces_and_clears_their_goal(app: Flask, world: World) -> None:
    ann = world.a.members[0]
    api = world.api(ann)
    beta_before = snapshot(app, world.b)
    assert api.get(url(world.a, "goal")).get_json()["reward_id"] is None
    computer = create_reward(world, world.a, name="Pupils' computer", price=600)
    fund(app, world.a, ann, 150)
    start = api.get(url(world.a, "balance")).get_json()["balance"]
    response = api.put(url(world.a, "goal"), {"reward_id": computer["id"]})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["reward_id"] == computer["id"] and body["reward_name"] == "Pupils' computer"
    assert body["price"] == 600 and body["balance"] == start
    assert body["missing_minutes"] == max(0, 600 - start)
    assert body["progress_minutes"] == min(600, start)
    assert api.get(url(world.a, "goal")).get_json() == body
    # Another reward replaces it: still one goal.
    mug = create_reward(world, world.a, name="Mug", price=30)
    assert (
        api.put(url(world.a, "goal"), {"reward_id": mug["id"]}).get_json()["missing_minutes"] == 0
    )
    assert snapshot(app, world.a)["reward_goals"] == 1
    # Cleared.
    assert api.client.delete(url(world.a, "goal"), headers=ann.headers).status_code == 204
    assert api.get(url(world.a, "goal")).get_json()["reward_id"] is None
    assert api.client.delete(url(world.a, "goal"), headers=ann.headers).status_code == 204
    assert snapshot(app, world.a)["reward_goals"] == 0
    assert snapshot(app, world.b) == beta_before


def test_a_goal_of_another_scheme_or_a_withdrawn_reward_is_refused(
    app: Flask, world: World
) -> None:
    ann = world.a.members[0]
    api = world.api(ann)
    beta_reward = create_reward(world, world.b, name="Beta only", price=60)
    beta_before = snapshot(app, world.b)
    refused = api.put(url(world.a, "goal"), {"reward_id": beta_reward["id"]})
    assert refused.status_code == 422
    assert "reward_id" in str(refused.get_json())
    gone = create_reward(world, world.a, name="Old", price=60)
    patched = world.api(world.a.coordinator).patch(
        url(world.a, f"rewards/{gone['id']}"), {"active": False}
    )
    assert patched.status_code == 200, patched.get_json()
    assert api.put(url(world.a, "goal"), {"reward_id": gone["id"]}).status_code == 422
    bad = api.put(url(world.a, "goal"), {"reward_id": "x"})
    assert bad.status_code == 422
    assert snapshot(app, world.a)["reward_goals"] == 0
    assert snapshot(app, world.b) == beta_before
