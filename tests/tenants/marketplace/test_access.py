"""Who may see and change what: authors, parties, coordinators, and other schemes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.factories import World, problem
from tests.tenants.marketplace.support import listing, mails, snapshot, url


def _thread(world: World) -> dict[str, Any]:
    """Ann's request in Alpha with Arthur's response to it."""
    ann, arthur = world.a.members
    posted = listing(world, ann, world.a, title="Lift to the clinic")
    response = world.api(arthur).post(
        url(world.a, f"listings/{posted['id']}/responses"), {"message": "I drive"}
    )
    assert response.status_code == 201, response.get_json()
    return {"listing": posted, "response": response.get_json()}


def _id_routes(app: Flask) -> list[tuple[str, str]]:
    """Every marketplace route that names an object by id: (method, rule)."""
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api-marketplace") and not rule.endpoint.startswith(
            "marketplace."
        ):
            continue
        if not ({"listing_id", "response_id", "category_id", "member_id"} & set(rule.arguments)):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            routes.append((method, rule.rule))
    return routes


BODIES = {
    "responses": {"message": "hello"},
    "messages": {"body": "hello"},
    "agree": {"minutes": 30},
    "dispute": {"reason": "x"},
    "decide": {"minutes": 0},
    "hide": {"reason": "x"},
    "confirm": {},
    "renew": {},
    "approve": {},
    "decline": {},
    "withdraw": {},
}


def test_another_schemes_member_gets_404_on_every_listing_response_and_message_route(
    app: Flask, world: World
) -> None:
    made = _thread(world)
    ids = {
        "listing_id": made["listing"]["id"],
        "response_id": made["response"]["id"],
        "category_id": made["listing"]["category_id"],
        "member_id": world.a.members[0].member_ids[world.a.slug],
    }
    routes = _id_routes(app)
    assert len(routes) >= 15, routes
    before = snapshot(app, world.a)
    for outsider in (world.b.members[0], world.b.coordinator):
        for method, rule in routes:
            for slug in (world.b.slug, world.a.slug):
                path = rule.replace("<slug>", slug)
                for name, value in ids.items():
                    path = path.replace(f"<int:{name}>", str(value))
                last = path.rsplit("/", 1)[-1]
                body = BODIES.get(last, {"name": "x"} if "categories" in path else {"title": "x"})
                response = world.api(outsider).client.open(
                    path, method=method, json=body, headers=outsider.headers
                )
                assert response.status_code == 404, (method, path, response.get_json())
                assert problem(response)["code"] == "not_found"
    assert snapshot(app, world.a) == before


def test_authors_only_edit_their_own_listings(app: Flask, world: World) -> None:
    ann, arthur = world.a.members
    posted = listing(world, ann, world.a)
    before = snapshot(app, world.a)
    for person in (arthur, world.a.coordinator):
        for method, path, body in (
            ("PATCH", f"listings/{posted['id']}", {"title": "Mine now"}),
            ("POST", f"listings/{posted['id']}/renew", {}),
        ):
            response = world.api(person).client.open(
                url(world.a, path), method=method, json=body, headers=person.headers
            )
            assert response.status_code == 403, response.get_json()
            assert problem(response)["code"] == "not_author"
    assert snapshot(app, world.a) == before
    edited = world.api(ann).patch(
        url(world.a, f"listings/{posted['id']}"), {"title": "Tidy my garden", "status": "paused"}
    )
    assert edited.status_code == 200, edited.get_json()
    assert edited.get_json()["title"] == "Tidy my garden"
    assert edited.get_json()["status"] == "paused"
    # Paused: gone from the list and the page for others, still there for the author.
    assert world.api(arthur).get(url(world.a, f"listings/{posted['id']}")).status_code == 404
    mine = world.api(ann).get(url(world.a, "listings?mine=true")).get_json()["items"]
    assert [item["status"] for item in mine] == ["paused"]


def test_hidden_listings_vanish_from_search_but_the_author_sees_why(
    app: Flask, world: World, outbox: Path
) -> None:
    ann, arthur = world.a.members
    posted = listing(world, ann, world.a, title="Selling raffle tickets")
    assert [i["id"] for i in world.api(arthur).get(url(world.a, "listings")).get_json()["items"]]
    by_member = world.api(arthur).post(
        url(world.a, f"listings/{posted['id']}/hide"), {"reason": "spam"}
    )
    assert by_member.status_code == 403 and problem(by_member)["code"] == "coordinator_only"
    hidden = world.api(world.a.coordinator).post(
        url(world.a, f"listings/{posted['id']}/hide"), {"reason": "Selling is not time banking"}
    )
    assert hidden.status_code == 200, hidden.get_json()
    assert hidden.get_json()["status"] == "hidden"
    assert world.api(arthur).get(url(world.a, "listings")).get_json()["items"] == []
    assert world.api(arthur).get(url(world.a, f"listings/{posted['id']}")).status_code == 404
    own = world.api(ann).get(url(world.a, f"listings/{posted['id']}")).get_json()
    assert own["status"] == "hidden" and own["hidden_reason"] == "Selling is not time banking"
    assert any(
        "Selling is not time banking" in mail and ann.email in mail for mail in mails(outbox)
    )
    # The author cannot bring it back.
    again = world.api(ann).patch(url(world.a, f"listings/{posted['id']}"), {"status": "published"})
    assert again.status_code == 422 and problem(again)["code"] == "listing_hidden"
    responded = world.api(arthur).post(
        url(world.a, f"listings/{posted['id']}/responses"), {"message": "hi"}
    )
    assert responded.status_code == 404
    from timebank.platform import tenancy
    from timebank.platform.audit import AuditEvent
    from timebank.platform.db import db

    with app.app_context(), tenancy.scheme_context(world.a.id):
        audit = db.session.query(AuditEvent).filter_by(action="listing.hidden").one()
        assert audit.details["reason"] == "Selling is not time banking"


def test_responses_and_threads_are_for_their_parties_and_coordinators(
    app: Flask, world: World
) -> None:
    made = _thread(world)
    rid = made["response"]["id"]
    from tests.factories import add_member, make_user

    carol = make_user(app, name="Carol Alpha")
    add_member(app, world.a, carol)
    for path in (f"responses/{rid}", f"responses/{rid}/messages"):
        assert world.api(carol).get(url(world.a, path)).status_code == 404
        assert world.api(world.a.coordinator).get(url(world.a, path)).status_code == 200
    # Carol sees the listing, but not Arthur's response to it.
    listed = world.api(carol).get(url(world.a, f"listings/{made['listing']['id']}/responses"))
    assert listed.status_code == 200 and listed.get_json()["items"] == []
    assert (
        len(
            world.api(world.a.members[0])
            .get(url(world.a, f"listings/{made['listing']['id']}/responses"))
            .get_json()["items"]
        )
        == 1
    )
    before = snapshot(app, world.a)
    posted = world.api(carol).post(url(world.a, f"responses/{rid}/messages"), {"body": "me too"})
    assert posted.status_code == 404
    assert snapshot(app, world.a) == before


@pytest.mark.parametrize("action", ["own", "twice", "closed"])
def test_response_refusals(app: Flask, world: World, action: str) -> None:
    ann, arthur = world.a.members
    posted = listing(world, ann, world.a)
    path = url(world.a, f"listings/{posted['id']}/responses")
    if action == "twice":
        assert world.api(arthur).post(path, {"message": "one"}).status_code == 201
    if action == "closed":
        world.api(ann).patch(url(world.a, f"listings/{posted['id']}"), {"status": "closed"})
    before = snapshot(app, world.a)
    person = ann if action == "own" else arthur
    response = world.api(person).post(path, {"message": "again"})
    expected = {
        "own": (422, "own_listing"),
        "twice": (409, "already_responded"),
        "closed": (404 if person is arthur else 422, None),
    }[action]
    assert response.status_code == expected[0], response.get_json()
    if expected[1]:
        assert problem(response)["code"] == expected[1]
    assert snapshot(app, world.a) == before


def test_a_closed_listing_refuses_its_earlier_responder_with_listing_closed(
    app: Flask, world: World
) -> None:
    made = _thread(world)
    ann, arthur = world.a.members
    lid = made["listing"]["id"]
    world.api(arthur).post(url(world.a, f"responses/{made['response']['id']}/withdraw"))
    world.api(ann).patch(url(world.a, f"listings/{lid}"), {"status": "closed"})
    before = snapshot(app, world.a)
    again = world.api(arthur).post(url(world.a, f"listings/{lid}/responses"), {"message": "hi"})
    assert again.status_code == 422 and problem(again)["code"] == "listing_closed"
    assert snapshot(app, world.a) == before


@pytest.mark.parametrize(
    ("mode", "shown", "party_sees"),
    [
        ("full", "Ann Alpha", "Arthur Alpha"),
        ("first_names", "Ann", "Arthur"),
        ("hidden", None, "Arthur"),
    ],
)
def test_the_directory_setting_decides_how_authors_names_appear(
    app: Flask, world: World, mode: str, shown: str | None, party_sees: str
) -> None:
    coordinator = world.a.coordinator
    policy = world.api(coordinator).get(url(world.a, "policy")).get_json()
    policy["privacy"]["member_directory"] = mode
    assert world.api(coordinator).put(url(world.a, "policy"), policy).status_code == 200
    ann, arthur = world.a.members
    posted = listing(world, ann, world.a)
    seen = world.api(arthur).get(url(world.a, "listings")).get_json()["items"][0]
    assert seen["author"]["name"] == shown
    assert (
        world.api(ann).get(url(world.a, "listings")).get_json()["items"][0]["author"]["name"]
        == "Ann Alpha"
    )
    assert (
        world.api(coordinator)
        .get(url(world.a, "listings"))
        .get_json()["items"][0]["author"]["name"]
        == "Ann Alpha"
    )
    response = world.api(arthur).post(
        url(world.a, f"listings/{posted['id']}/responses"), {"message": "hello"}
    )
    by_author = world.api(ann).get(url(world.a, f"responses/{response.get_json()['id']}"))
    assert by_author.get_json()["responder"]["name"] == party_sees
