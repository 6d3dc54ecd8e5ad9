"""Posting and changing listings: validation, expiry, approval, renewal, categories, policy."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask

from tests.factories import World, add_member, make_scheme, make_user, problem
from tests.tenants.marketplace.support import (
    category_ids,
    listing,
    post_listing,
    snapshot,
    url,
)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"description": "x" * 10_000}, "description"),
        ({"category_id": 999_999}, "category_id"),
        ({"expires_on": (date.today() - timedelta(days=1)).isoformat()}, "expires_on"),
        ({"minutes": 0}, "minutes"),
        ({"minutes": -30}, "minutes"),
        ({"kind": "swap"}, "kind"),
        ({"where": "moon"}, "where"),
        ({"owner": 3}, "owner"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(
    app: Flask, world: World, fields: dict[str, Any], field: str
) -> None:
    ann = world.a.members[0]
    before, other = snapshot(app, world.a), snapshot(app, world.b)
    response = post_listing(world, ann, world.a, **fields)
    assert response.status_code == 422, response.get_json()
    body = problem(response)
    assert body["code"] == "validation_error" and field in body["errors"], body
    assert snapshot(app, world.a) == before and snapshot(app, world.b) == other


def test_another_schemes_category_is_unknown(app: Flask, world: World) -> None:
    beta_category = category_ids(world, world.b)["Lifts"]
    before = snapshot(app, world.a)
    response = post_listing(world, world.a.members[0], world.a, category_id=beta_category)
    assert response.status_code == 422 and "category_id" in problem(response)["errors"]
    assert snapshot(app, world.a) == before


def test_bad_agreement_minutes_are_refused(app: Flask, world: World) -> None:
    ann, arthur = world.a.members
    posted = listing(world, ann, world.a)
    rid = (
        world.api(arthur)
        .post(url(world.a, f"listings/{posted['id']}/responses"), {"message": "hi"})
        .get_json()["id"]
    )
    before = snapshot(app, world.a)
    for minutes in (0, -5, "30", 1.5):
        response = world.api(ann).post(url(world.a, f"responses/{rid}/agree"), {"minutes": minutes})
        assert response.status_code == 422 and "minutes" in problem(response)["errors"]
    empty = world.api(ann).post(url(world.a, f"responses/{rid}/messages"), {"body": " "})
    assert empty.status_code == 422 and "body" in problem(empty)["errors"]
    assert snapshot(app, world.a) == before


def test_expiry_defaults_and_no_expiry_follow_the_policy(app: Flask, world: World) -> None:
    ann = world.a.members[0]
    default = listing(world, ann, world.a)
    assert date.fromisoformat(default["expires_on"]) >= date.today() + timedelta(days=89)
    # Community allows no expiry; the surgery template does not.
    forever = listing(world, ann, world.a, expires_on=None)
    assert forever["expires_on"] is None
    ben = world.b.members[0]
    before = snapshot(app, world.b)
    refused = post_listing(
        world, ben, world.b, category_id=category_ids(world, world.b)["Lifts"], expires_on=None
    )
    assert refused.status_code == 422 and "expires_on" in problem(refused)["errors"]
    assert snapshot(app, world.b) == before


def test_renew_sets_expiry_and_republishes(app: Flask, world: World) -> None:
    ann = world.a.members[0]
    soon = (date.today() + timedelta(days=3)).isoformat()
    posted = listing(world, ann, world.a, expires_on=soon)
    world.api(ann).patch(url(world.a, f"listings/{posted['id']}"), {"status": "paused"})
    renewed = world.api(ann).post(url(world.a, f"listings/{posted['id']}/renew"))
    assert renewed.status_code == 200, renewed.get_json()
    assert renewed.get_json()["status"] == "published"
    assert date.fromisoformat(renewed.get_json()["expires_on"]) >= date.today() + timedelta(89)


def test_listings_wait_for_approval_when_the_policy_asks(app: Flask, world: World) -> None:
    coordinator = world.a.coordinator
    policy = world.api(coordinator).get(url(world.a, "policy")).get_json()
    policy["listings"]["approval"] = "coordinator"
    assert world.api(coordinator).put(url(world.a, "policy"), policy).status_code == 200
    ann, arthur = world.a.members
    posted = listing(world, ann, world.a, title="Dog walking")
    assert posted["status"] == "pending"
    assert world.api(arthur).get(url(world.a, "listings")).get_json()["items"] == []
    queue = world.api(arthur).get(url(world.a, "listings?status=pending"))
    assert queue.status_code == 403 and problem(queue)["code"] == "coordinator_only"
    queue = world.api(coordinator).get(url(world.a, "listings?status=pending")).get_json()
    assert [item["id"] for item in queue["items"]] == [posted["id"]]
    early = world.api(ann).patch(url(world.a, f"listings/{posted['id']}"), {"status": "published"})
    assert early.status_code == 422 and problem(early)["code"] == "awaiting_approval"
    approved = world.api(coordinator).post(url(world.a, f"listings/{posted['id']}/approve"))
    assert approved.status_code == 200 and approved.get_json()["status"] == "published"
    again = world.api(coordinator).post(url(world.a, f"listings/{posted['id']}/approve"))
    assert again.status_code == 422 and problem(again)["code"] == "not_pending"
    assert [i["id"] for i in world.api(arthur).get(url(world.a, "listings")).get_json()["items"]]


def test_categories_are_per_scheme_and_coordinators_manage_them(app: Flask, world: World) -> None:
    alpha = category_ids(world, world.a)
    beta = category_ids(world, world.b)
    assert {"Befriending", "Lifts", "Shopping", "Form filling"} <= set(beta)
    assert "Gardening" in alpha and set(alpha) != set(beta)
    ann = world.a.members[0]
    refused = world.api(ann).post(url(world.a, "categories"), {"name": "Knitting"})
    assert refused.status_code == 403
    made = world.api(world.a.coordinator).post(url(world.a, "categories"), {"name": "Knitting"})
    assert made.status_code == 201 and made.get_json()["active"] is True
    dup = world.api(world.a.coordinator).post(url(world.a, "categories"), {"name": "knitting"})
    assert dup.status_code == 409 and problem(dup)["code"] == "category_exists"
    off = world.api(world.a.coordinator).patch(
        url(world.a, f"categories/{made.get_json()['id']}"), {"active": False}
    )
    assert off.status_code == 200 and off.get_json()["active"] is False
    unused = post_listing(world, ann, world.a, category_id=made.get_json()["id"])
    assert unused.status_code == 422 and "category_id" in problem(unused)["errors"]
    assert "Knitting" not in category_ids(world, world.b)


def test_policies_without_the_section_read_as_the_defaults(app: Flask) -> None:
    coordinator = make_user(app, name="Old Scheme Coordinator")
    old = make_scheme(app, coordinator, slug="old-scheme", template="community")
    from sqlalchemy import update

    from timebank.platform import tenancy
    from timebank.platform.db import db
    from timebank.tenants.policy.models import PolicyVersion

    with app.app_context(), tenancy.scheme_context(old.id):
        row = db.session.query(PolicyVersion).one()
        document = {k: v for k, v in row.document.items() if k != "listings"}
        db.session.execute(
            update(PolicyVersion).where(PolicyVersion.id == row.id).values(document=document)
        )
        db.session.commit()
        app.extensions.pop("timebank.policy_cache", None)
    from tests.factories import Api

    api = Api(app.test_client(), coordinator)
    policy = api.get(f"/api/v1/schemes/{old.slug}/policy").get_json()
    assert policy["listings"] == {
        "enabled": True,
        "approval": "none",
        "default_expiry_days": 90,
        "allow_no_expiry": False,
        "brokered": False,
    }
    add_member(app, old, make_user(app))
    put = dict(policy)
    put.pop("listings")
    assert api.put(f"/api/v1/schemes/{old.slug}/policy", put).status_code == 200
    bad = dict(policy, listings={**policy["listings"], "approval": "sometimes"})
    response = api.put(f"/api/v1/schemes/{old.slug}/policy", bad)
    assert response.status_code == 422 and "listings.approval" in problem(response)["errors"]


def test_each_template_seeds_categories_and_a_listings_policy(app: Flask) -> None:
    from tests.factories import Api

    seeded: dict[str, list[str]] = {}
    for template in ("surgery", "school", "youth_court", "community"):
        coordinator = make_user(app)
        scheme = make_scheme(app, coordinator, template=template)
        api = Api(app.test_client(), coordinator)
        policy = api.get(f"/api/v1/schemes/{scheme.slug}/policy").get_json()
        assert policy["listings"]["enabled"] is True
        names = [
            c["name"]
            for c in api.get(f"/api/v1/schemes/{scheme.slug}/categories").get_json()["items"]
        ]
        assert len(names) >= 4, (template, names)
        seeded[template] = names
    assert {"Tutoring", "Reading buddy"} <= set(seeded["school"])
    assert {"Befriending", "Lifts", "Shopping", "Form filling"} <= set(seeded["surgery"])
