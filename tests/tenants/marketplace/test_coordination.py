"""Brokered schemes, disputes and decisions, ending a response, and the coordinator's tools."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from flask import Flask

from tests.factories import World, fund, problem
from tests.tenants.marketplace.support import (
    balance,
    category_ids,
    listing,
    mails,
    snapshot,
    url,
    verify,
)


def _agreed(world: World, scheme: Any, minutes: int = 60) -> tuple[dict[str, Any], int]:
    author, responder = scheme.members
    cats = category_ids(world, scheme)
    posted = listing(world, author, scheme, category_id=next(iter(cats.values())))
    rid = (
        world.api(responder)
        .post(url(scheme, f"listings/{posted['id']}/responses"), {"message": "I can"})
        .get_json()["id"]
    )
    agreed = world.api(author).post(url(scheme, f"responses/{rid}/agree"), {"minutes": minutes})
    assert agreed.status_code == 200, agreed.get_json()
    return posted, rid


def test_in_a_brokered_scheme_only_a_coordinator_confirms(app: Flask, world: World) -> None:
    coordinator = world.a.coordinator
    policy = world.api(coordinator).get(url(world.a, "policy")).get_json()
    policy["listings"]["brokered"] = True
    assert world.api(coordinator).put(url(world.a, "policy"), policy).status_code == 200
    _posted, rid = _agreed(world, world.a)
    ann, arthur = world.a.members
    before = snapshot(app, world.a)
    by_member = world.api(ann).post(url(world.a, f"responses/{rid}/confirm"), {})
    assert by_member.status_code == 403 and problem(by_member)["code"] == "coordinator_only"
    assert snapshot(app, world.a) == before
    done = world.api(coordinator).post(
        url(world.a, f"responses/{rid}/confirm"), {"minutes": 45}, headers={"Idempotency-Key": "b1"}
    )
    assert done.status_code == 201, done.get_json()
    assert done.get_json()["minutes"] == 45
    assert balance(world, ann, world.a) == -45 and balance(world, arthur, world.a) == 45
    assert verify(app) == []


def test_a_dispute_goes_to_a_coordinator_who_decides(
    app: Flask, world: World, outbox: Path
) -> None:
    ann, arthur = world.a.members
    fund(app, world.a, ann, 200)
    _posted, rid = _agreed(world, world.a, minutes=120)
    not_yet = world.api(world.a.coordinator).post(
        url(world.a, f"responses/{rid}/decide"), {"minutes": 60}
    )
    assert not_yet.status_code == 422 and problem(not_yet)["code"] == "not_disputed"
    disputed = world.api(arthur).post(
        url(world.a, f"responses/{rid}/dispute"), {"reason": "It took longer than agreed"}
    )
    assert disputed.status_code == 200 and disputed.get_json()["status"] == "disputed"
    assert any(
        "decision is needed" in mail and world.a.coordinator.email in mail for mail in mails(outbox)
    )
    # A disputed exchange is no longer the parties' to confirm.
    confirm = world.api(ann).post(url(world.a, f"responses/{rid}/confirm"), {})
    assert confirm.status_code == 422 and problem(confirm)["code"] == "not_agreed"
    by_member = world.api(ann).post(url(world.a, f"responses/{rid}/decide"), {"minutes": 60})
    assert by_member.status_code == 403
    key = {"Idempotency-Key": "decide-1"}
    decided = world.api(world.a.coordinator).post(
        url(world.a, f"responses/{rid}/decide"), {"minutes": 150, "note": "Fair"}, headers=key
    )
    assert decided.status_code == 201, decided.get_json()
    body = decided.get_json()
    assert body["status"] == "completed" and body["minutes"] == 150 and body["transaction_id"]
    replay = world.api(world.a.coordinator).post(
        url(world.a, f"responses/{rid}/decide"), {"minutes": 150, "note": "Fair"}, headers=key
    )
    assert replay.get_json() == body
    assert balance(world, ann, world.a) == 50 and balance(world, arthur, world.a) == 150
    from timebank.platform import tenancy
    from timebank.platform.audit import AuditEvent
    from timebank.platform.db import db

    with app.app_context(), tenancy.scheme_context(world.a.id):
        audit = db.session.query(AuditEvent).filter_by(action="listing_response.decided").one()
        assert audit.details["minutes"] == 150
        assert audit.details["transaction_id"] == body["transaction_id"]
    assert verify(app) == []


def test_a_decision_of_nothing_closes_without_moving_credits(app: Flask, world: World) -> None:
    _posted, rid = _agreed(world, world.a)
    ann, arthur = world.a.members
    world.api(ann).post(url(world.a, f"responses/{rid}/dispute"), {"reason": "Never came"})
    before = snapshot(app, world.a)
    decided = world.api(world.a.coordinator).post(
        url(world.a, f"responses/{rid}/decide"), {"minutes": 0}
    )
    assert decided.status_code == 200, decided.get_json()
    assert decided.get_json()["status"] == "closed" and decided.get_json()["transaction_id"] is None
    after = snapshot(app, world.a)
    assert after["transactions"] == before["transactions"]
    assert after["balances"] == before["balances"]
    figures = (
        world.api(arthur)
        .get(url(world.a, f"members/{arthur.member_ids[world.a.slug]}/given-received"))
        .get_json()
    )
    assert figures["given_minutes"] == 0 and figures["people_helped"] == 0


def test_declining_and_withdrawing(app: Flask, world: World) -> None:
    ann, arthur = world.a.members
    posted = listing(world, ann, world.a)
    path = url(world.a, f"listings/{posted['id']}/responses")
    rid = world.api(arthur).post(path, {"message": "one"}).get_json()["id"]
    wrong = world.api(arthur).post(url(world.a, f"responses/{rid}/decline"))
    assert wrong.status_code == 403 and problem(wrong)["code"] == "not_author"
    wrong = world.api(ann).post(url(world.a, f"responses/{rid}/withdraw"))
    assert wrong.status_code == 403 and problem(wrong)["code"] == "not_responder"
    declined = world.api(ann).post(url(world.a, f"responses/{rid}/decline"))
    assert declined.status_code == 200 and declined.get_json()["status"] == "declined"
    closed = world.api(arthur).post(url(world.a, f"responses/{rid}/messages"), {"body": "why?"})
    assert closed.status_code == 422 and problem(closed)["code"] == "response_closed"
    agree = world.api(arthur).post(url(world.a, f"responses/{rid}/agree"), {"minutes": 30})
    assert agree.status_code == 422 and problem(agree)["code"] == "response_closed"
    # A declined response no longer counts: the member may respond again, then withdraw.
    again = world.api(arthur).post(path, {"message": "two"})
    assert again.status_code == 201, again.get_json()
    withdrawn = world.api(arthur).post(url(world.a, f"responses/{again.get_json()['id']}/withdraw"))
    assert withdrawn.status_code == 200 and withdrawn.get_json()["status"] == "withdrawn"
    mine = world.api(arthur).get(url(world.a, "responses")).get_json()["items"]
    assert [item["status"] for item in mine] == ["withdrawn", "declined"]


def test_unanswered_requests_and_the_csv_export(app: Flask, world: World) -> None:
    ann, arthur = world.a.members
    quiet = listing(world, ann, world.a, title='=HYPERLINK("x")')
    answered = listing(world, ann, world.a, title="Answered")
    world.api(arthur).post(url(world.a, f"listings/{answered['id']}/responses"), {"message": "hi"})
    listing(world, ann, world.a, kind="offer", title="An offer")
    coordinator = world.api(world.a.coordinator)
    assert coordinator.get(url(world.a, "listings/unanswered?days=1")).get_json()["items"] == []
    unanswered = coordinator.get(url(world.a, "listings/unanswered?days=0")).get_json()["items"]
    assert [item["id"] for item in unanswered] == [quiet["id"]]
    assert world.api(ann).get(url(world.a, "listings/unanswered")).status_code == 403
    assert world.api(ann).get(url(world.a, "listings.csv")).status_code == 403
    exported = coordinator.get(url(world.a, "listings.csv"))
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert [row["id"] for row in rows] == [
        str(quiet["id"]),
        str(answered["id"]),
        str(quiet["id"] + 2),
    ]
    assert rows[0]["title"].startswith("'=")  # no spreadsheet formula
    assert rows[1]["responses"] == "1" and rows[1]["author_name"] == "Ann Alpha"
    beta = world.api(world.b.coordinator).get(url(world.b, "listings.csv"))
    assert len(list(csv.DictReader(io.StringIO(beta.get_data(as_text=True))))) == 0


def test_digest_categories_are_a_members_own_choice(app: Flask, world: World) -> None:
    ann = world.a.members[0]
    cats = category_ids(world, world.a)
    chosen = [cats["Gardening"], cats["Lifts"]]
    saved = world.api(ann).put(url(world.a, "listings/digest"), {"category_ids": chosen})
    assert saved.status_code == 200 and saved.get_json()["category_ids"] == sorted(chosen)
    assert world.api(ann).get(url(world.a, "listings/digest")).get_json()["category_ids"] == sorted(
        chosen
    )
    beta_cat = category_ids(world, world.b)["Lifts"]
    before = snapshot(app, world.a)
    bad = world.api(ann).put(url(world.a, "listings/digest"), {"category_ids": [beta_cat]})
    assert bad.status_code == 422 and "category_ids.0" in problem(bad)["errors"]
    assert snapshot(app, world.a) == before
    assert world.api(world.a.members[1]).get(url(world.a, "listings/digest")).get_json() == {
        "category_ids": []
    }
