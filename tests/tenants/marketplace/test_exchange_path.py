"""The whole path through the API: a request, a response, messages, an agreement, the
confirmed help moving credits once, and the given-and-received figures."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from tests.factories import World, fund, problem
from tests.tenants.marketplace.support import (
    balance,
    listing,
    mails,
    snapshot,
    url,
    verify,
)


def test_request_response_agreement_confirmation(app: Flask, world: World, outbox: Path) -> None:
    ann, arthur = world.a.members
    ann_id, arthur_id = ann.member_ids[world.a.slug], arthur.member_ids[world.a.slug]
    fund(app, world.a, ann, 120)
    other_before = snapshot(app, world.b)

    posted = listing(world, ann, world.a, description="Weeding the back garden", minutes=90)
    assert posted["status"] == "published" and posted["kind"] == "request"
    assert posted["author"] == {"member_id": ann_id, "name": "Ann Alpha"}
    assert posted["expires_on"] is not None

    responded = world.api(arthur).post(
        url(world.a, f"listings/{posted['id']}/responses"), {"message": "I can help Saturday"}
    )
    assert responded.status_code == 201, responded.get_json()
    response = responded.get_json()
    assert response["status"] == "open" and response["listing_id"] == posted["id"]
    assert response["helper_member_id"] == arthur_id
    assert response["helped_member_id"] == ann_id
    assert response["responder"]["member_id"] == arthur_id
    assert any("replied to your request" in mail for mail in mails(outbox))
    rid = response["id"]

    reply = world.api(ann).post(url(world.a, f"responses/{rid}/messages"), {"body": "Lovely!"})
    assert reply.status_code == 201, reply.get_json()
    thread = world.api(arthur).get(url(world.a, f"responses/{rid}/messages")).get_json()
    assert [m["body"] for m in thread["items"]] == ["I can help Saturday", "Lovely!"]
    assert [m["author_member_id"] for m in thread["items"]] == [arthur_id, ann_id]

    # Not agreed yet: nothing to confirm.
    early = world.api(ann).post(url(world.a, f"responses/{rid}/confirm"), {})
    assert early.status_code == 422 and problem(early)["code"] == "not_agreed"

    agreed = world.api(arthur).post(
        url(world.a, f"responses/{rid}/agree"), {"minutes": 90, "on": "2026-12-05"}
    )
    assert agreed.status_code == 200, agreed.get_json()
    assert agreed.get_json()["status"] == "agreed" and agreed.get_json()["minutes"] == 90
    assert any("Arthur Alpha will help Ann Alpha" in mail for mail in mails(outbox))

    # The helper cannot confirm their own help.
    by_helper = world.api(arthur).post(url(world.a, f"responses/{rid}/confirm"), {})
    assert by_helper.status_code == 403 and problem(by_helper)["code"] == "not_helped_party"

    key = {"Idempotency-Key": "confirm-garden-1"}
    confirmed = world.api(ann).post(url(world.a, f"responses/{rid}/confirm"), {}, headers=key)
    assert confirmed.status_code == 201, confirmed.get_json()
    body = confirmed.get_json()
    assert body["status"] == "completed" and body["transaction_id"]
    assert body["listing_id"] == posted["id"] and body["response_id"] == rid
    again = world.api(ann).post(url(world.a, f"responses/{rid}/confirm"), {}, headers=key)
    assert again.status_code == 201 and again.get_json() == body
    assert again.headers.get("Idempotent-Replayed") == "true"
    fresh = world.api(ann).post(
        url(world.a, f"responses/{rid}/confirm"), {}, headers={"Idempotency-Key": "other"}
    )
    assert fresh.status_code == 422 and problem(fresh)["code"] == "already_confirmed"

    assert balance(world, ann, world.a) == 30
    assert balance(world, arthur, world.a) == 90
    transaction = world.api(ann).get(url(world.a, f"transactions/{body['transaction_id']}"))
    assert transaction.status_code == 200
    described = transaction.get_json()
    assert described["kind"] == "transfer" and described["amount"] == 90
    assert f"listing {posted['id']}, response {rid}" in described["memo"]
    transfers = [
        t
        for t in world.api(ann).get(url(world.a, "transactions")).get_json()["items"]
        if t["kind"] == "transfer"
    ]
    assert len(transfers) == 1

    figures = world.api(arthur).get(url(world.a, f"members/{arthur_id}/given-received"))
    assert figures.get_json() == {
        "member_id": arthur_id,
        "given_minutes": 90,
        "received_minutes": 0,
        "people_helped": 1,
        "helped_by": 0,
    }
    ann_figures = world.api(world.a.coordinator).get(
        url(world.a, f"members/{ann_id}/given-received")
    )
    assert ann_figures.get_json()["received_minutes"] == 90
    assert ann_figures.get_json()["helped_by"] == 1
    # A member cannot read someone else's figures.
    nosy = world.api(arthur).get(url(world.a, f"members/{ann_id}/given-received"))
    assert nosy.status_code == 403 and problem(nosy)["code"] == "coordinator_only"

    assert snapshot(app, world.b) == other_before
    assert verify(app) == []


def test_an_offer_makes_its_author_the_helper_and_limits_apply(app: Flask, world: World) -> None:
    ann, arthur = world.a.members
    ann_id, arthur_id = ann.member_ids[world.a.slug], arthur.member_ids[world.a.slug]
    offer = listing(world, ann, world.a, kind="offer", title="I can mow lawns")
    response = (
        world.api(arthur)
        .post(url(world.a, f"listings/{offer['id']}/responses"), {"message": "Mine please"})
        .get_json()
    )
    assert response["helper_member_id"] == ann_id and response["helped_member_id"] == arthur_id
    rid = response["id"]
    # Community: members may go down to -10 hours; 11 hours is over the credit line.
    world.api(ann).post(url(world.a, f"responses/{rid}/agree"), {"minutes": 660})
    before = snapshot(app, world.a)
    refused = world.api(arthur).post(url(world.a, f"responses/{rid}/confirm"), {})
    assert refused.status_code == 422 and problem(refused)["code"] == "insufficient_balance"
    assert snapshot(app, world.a) == before
    ok = world.api(arthur).post(url(world.a, f"responses/{rid}/confirm"), {"minutes": 600})
    assert ok.status_code == 201, ok.get_json()
    assert balance(world, arthur, world.a) == -600 and balance(world, ann, world.a) == 600
    assert verify(app) == []


def test_peer_transfers_off_does_not_govern_exchanges(app: Flask, world: World) -> None:
    coordinator = world.a.coordinator
    policy = world.api(coordinator).get(url(world.a, "policy")).get_json()
    policy["peer_transfers"]["enabled"] = False
    assert world.api(coordinator).put(url(world.a, "policy"), policy).status_code == 200
    ann, arthur = world.a.members
    request = listing(world, ann, world.a)
    rid = (
        world.api(arthur)
        .post(url(world.a, f"listings/{request['id']}/responses"), {"message": "Happy to"})
        .get_json()["id"]
    )
    world.api(ann).post(url(world.a, f"responses/{rid}/agree"), {"minutes": 30})
    done = world.api(ann).post(url(world.a, f"responses/{rid}/confirm"), {})
    assert done.status_code == 201, done.get_json()
    assert balance(world, arthur, world.a) == 30
