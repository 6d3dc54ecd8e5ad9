"""Leaving a scheme: settle to zero, close the account, keep history, touch nothing else."""

from __future__ import annotations

from flask import Flask

from tests.factories import World, add_member, fund, make_user, problem
from tests.tenants.spending.support import (
    balance,
    scheme_account_balance,
    snapshot,
    transactions_of_kind,
    url,
    verify,
)


def _memberships(world: World, person: object) -> dict[str, dict[str, object]]:
    me = world.api(person).get("/api/v1/me").get_json()  # type: ignore[arg-type]
    return {m["scheme"]: m for m in me["memberships"]}


def _account_history(app: Flask, world: World, member_id: int) -> tuple[str, int, list[str]]:
    """The closed account, its balance and the kinds of its postings, oldest first."""
    from sqlalchemy import and_, select

    from timebank.platform import tenancy
    from timebank.platform.db import db
    from timebank.tenants.ledger.models import Account, Posting, Transaction

    with app.app_context(), tenancy.scheme_context(world.a.id):
        account = db.session.execute(
            select(Account).where(Account.member_id == member_id)
        ).scalar_one()
        kinds = list(
            db.session.execute(
                select(Transaction.kind)
                .join(
                    Posting,
                    and_(
                        Posting.scheme_id == Transaction.scheme_id,
                        Posting.transaction_id == Transaction.id,
                    ),
                )
                .where(Posting.account_id == account.id)
                .order_by(Posting.account_version)
            ).scalars()
        )
        result = (account.status, account.balance, kinds)
        db.session.rollback()
    return result


def test_a_member_leaves_giving_the_balance_to_the_pot(app: Flask, world: World) -> None:
    ann = world.a.members[0]
    add_member(app, world.b, ann)  # Ann also belongs to the surgery
    fund(app, world.a, ann, 250)
    fund(app, world.b, ann, 70)
    other_before = snapshot(app, world.b)
    ann_id = ann.member_ids[world.a.slug]

    missing = world.api(ann).post(url(world.a, "leave"), {})
    assert missing.status_code == 422 and "balance_to" in problem(missing)["errors"]
    left = world.api(ann).post(url(world.a, "leave"), {"balance_to": "pot"})
    assert left.status_code == 200, left.get_json()
    body = left.get_json()
    assert body | {"member_id": ann_id, "status": "left", "balance": 0} == body
    assert body["account_status"] == "closed" and body["left_at"]
    assert scheme_account_balance(app, world.a, "pot") == 250

    # Gone from /me and the directory; history kept for coordinators; B untouched.
    assert set(_memberships(world, ann)) == {world.b.slug}
    assert _memberships(world, ann)[world.b.slug]["balance"] == 70
    directory = world.api(world.a.coordinator).get(url(world.a, "members")).get_json()["items"]
    assert ann_id not in {m["member_id"] for m in directory}
    assert _account_history(app, world, ann_id) == ("closed", 0, ["adjustment", "gift"])
    gone = world.api(ann).get(url(world.a, "balance"))
    assert gone.status_code == 404
    assert snapshot(app, world.b) == other_before
    assert verify(app) == []


def test_a_member_leaves_giving_the_balance_to_another_member(app: Flask, world: World) -> None:
    ann, arthur = world.a.members
    fund(app, world.a, ann, 90)
    left = world.api(ann).post(
        url(world.a, "leave"), {"balance_to": arthur.member_ids[world.a.slug]}
    )
    assert left.status_code == 200, left.get_json()
    assert balance(world, arthur, world.a) == 90
    gift = world.api(arthur).get(url(world.a, "transactions")).get_json()["items"][0]
    assert gift["kind"] == "gift" and gift["amount"] == 90
    # A closed account takes nothing more.
    refused = world.api(arthur).post(
        url(world.a, "transfers"), {"to_member_id": ann.member_ids[world.a.slug], "amount": 10}
    )
    assert refused.status_code == 422
    assert verify(app) == []


def test_bad_leave_input_writes_nothing(app: Flask, world: World) -> None:
    ann = world.a.members[0]
    fund(app, world.a, ann, 90)
    ann_id = ann.member_ids[world.a.slug]
    b_member = world.b.members[0].member_ids[world.b.slug]
    before = snapshot(app, world.a)
    other_before = snapshot(app, world.b)
    for body in (
        {"balance_to": "bin"},
        {"balance_to": ann_id},
        {"balance_to": 999999},
        {"balance_to": b_member},
        {"balance_to": "pot", "status": "left"},
    ):
        response = world.api(ann).post(url(world.a, "leave"), body)
        assert response.status_code == 422, (body, response.get_json())
        assert problem(response)["code"] == "validation_error"
    assert snapshot(app, world.a) == before
    assert snapshot(app, world.b) == other_before
    assert _memberships(world, ann)[world.a.slug]["status"] == "active"


def test_a_negative_balance_needs_a_coordinator(app: Flask, world: World) -> None:
    ann, arthur = world.a.members
    ann_id = ann.member_ids[world.a.slug]
    paid = world.api(ann).post(
        url(world.a, "transfers"), {"to_member_id": arthur.member_ids[world.a.slug], "amount": 200}
    )
    assert paid.status_code == 201
    before = snapshot(app, world.a)
    refused = world.api(ann).post(url(world.a, "leave"), {"balance_to": "pot"})
    assert refused.status_code == 422
    details = problem(refused)
    assert details["code"] == "negative_balance_needs_coordinator" and details["balance"] == -200
    assert snapshot(app, world.a) == before

    coordinator = world.api(world.a.coordinator)
    by_member = world.api(arthur).post(
        url(world.a, f"members/{ann_id}/settle"), {"action": "write_off"}
    )
    assert by_member.status_code == 403
    bad = coordinator.post(url(world.a, f"members/{ann_id}/settle"), {"action": "forgive"})
    assert bad.status_code == 422 and "action" in problem(bad)["errors"]
    kept = coordinator.post(url(world.a, f"members/{ann_id}/settle"), {"action": "keep_open"})
    assert kept.status_code == 200 and kept.get_json()["status"] == "active"
    assert kept.get_json()["balance"] == -200
    assert snapshot(app, world.a)["transactions"] == before["transactions"]

    written_off = coordinator.post(
        url(world.a, f"members/{ann_id}/settle"), {"action": "write_off", "memo": "moved away"}
    )
    assert written_off.status_code == 200, written_off.get_json()
    body = written_off.get_json()
    assert (body["status"], body["balance"], body["account_status"]) == ("left", 0, "closed")
    adjustment = coordinator.get(url(world.a, f"transactions/{body['transaction_id']}")).get_json()
    assert adjustment["kind"] == "adjustment" and adjustment["memo"] == "moved away"
    assert sorted((p["account"], p["amount"]) for p in adjustment["postings"]) == [
        ("issuance", -200),
        ("member", 200),
    ]
    again = coordinator.post(url(world.a, f"members/{ann_id}/settle"), {"action": "write_off"})
    assert again.status_code == 404
    assert world.a.slug not in _memberships(world, ann)
    assert balance(world, arthur, world.a) == 200
    assert verify(app) == []


def test_settling_a_positive_balance_gives_it_to_the_pot(app: Flask, world: World) -> None:
    arthur = world.a.members[1]
    fund(app, world.a, arthur, 45)
    response = world.api(world.a.coordinator).post(
        url(world.a, f"members/{arthur.member_ids[world.a.slug]}/settle"), {"action": "write_off"}
    )
    assert response.status_code == 200, response.get_json()
    assert scheme_account_balance(app, world.a, "pot") == 45
    assert len(transactions_of_kind(app, world.a, "gift")) == 1
    assert verify(app) == []


def test_the_last_coordinator_cannot_leave(app: Flask, world: World) -> None:
    coordinator = world.a.coordinator
    coordinator_id = coordinator.member_ids[world.a.slug]
    before = snapshot(app, world.a)
    alone = world.api(coordinator).post(url(world.a, "leave"), {})
    assert alone.status_code == 422 and problem(alone)["code"] == "last_coordinator"
    settle_self = world.api(coordinator).post(
        url(world.a, f"members/{coordinator_id}/settle"), {"action": "write_off"}
    )
    assert settle_self.status_code == 422 and problem(settle_self)["code"] == "last_coordinator"
    assert snapshot(app, world.a) == before

    deputy = make_user(app)
    add_member(app, world.a, deputy, role="coordinator")
    left = world.api(coordinator).post(url(world.a, "leave"), {})
    assert left.status_code == 200, left.get_json()
    assert world.a.slug not in _memberships(world, coordinator)
    assert _memberships(world, deputy)[world.a.slug]["role"] == "coordinator"


def test_a_member_who_left_can_be_invited_back(app: Flask, world: World) -> None:
    arthur = world.a.members[1]
    assert world.api(arthur).post(url(world.a, "leave"), {}).status_code == 200
    add_member(app, world.a, arthur)
    assert _memberships(world, arthur)[world.a.slug]["status"] == "active"
    fund(app, world.a, arthur, 30)
    assert balance(world, arthur, world.a) == 30
    assert verify(app) == []
