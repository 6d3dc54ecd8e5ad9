"""Partners, their staff and offers: who sees and does what, in which scheme."""

from __future__ import annotations

from flask import Flask

from tests.factories import World, add_member, fund, make_user, problem
from tests.tenants.partners.support import (
    add_offer,
    create_partner,
    make_partner,
    partner_balance,
    redeem,
    url,
)
from tests.tenants.spending.support import balance, snapshot, verify


def test_a_coordinator_adds_a_partner_with_its_own_account(app: Flask, world: World) -> None:
    other_before = snapshot(app, world.b)
    body = create_partner(
        world,
        world.a,
        name="St Louis Clinic",
        area="Northside",
        categories=["Health", "doctors"],
        latitude=38.63,
        longitude=-90.2,
    )
    assert body["status"] == "active" and body["categories"] == ["doctors", "health"]
    assert partner_balance(app, world.a, body["id"]) == 0
    ann = world.a.members[0]
    listed = world.api(ann).get(url(world.a, "partners?area=northside")).get_json()["items"]
    assert [p["name"] for p in listed] == ["St Louis Clinic"]
    assert world.api(ann).get(url(world.a, "partners?category=food")).get_json()["items"] == []
    # A member cannot create one; another scheme sees nothing of it.
    refused = world.api(ann).post(url(world.a, "partners"), {"name": "Mine"})
    assert refused.status_code == 403 and problem(refused)["code"] == "coordinator_only"
    ben = world.b.members[0]
    assert world.api(ben).get(url(world.b, "partners")).get_json()["items"] == []
    assert world.api(ben).get(url(world.a, "partners")).status_code == 404
    assert (
        world.api(world.b.coordinator).get(url(world.b, f"partners/{body['id']}")).status_code
        == 404
    )
    assert snapshot(app, world.b) == other_before
    assert verify(app) == []


def test_staff_join_without_becoming_members(app: Flask, world: World) -> None:
    store = make_partner(world, world.a)
    # Staff are not members: not in the member list, no balance, no member routes.
    members = world.api(world.a.coordinator).get(url(world.a, "members")).get_json()["items"]
    assert store.staff.name not in [m["name"] for m in members]
    assert world.api(store.staff).get(url(world.a, "balance")).status_code == 404
    me = world.api(store.staff).get("/api/v1/me").get_json()
    assert me["memberships"] == []
    assert me["partners"] == [
        {
            "scheme": world.a.slug,
            "scheme_name": "Alpha Time Bank",
            "partner_id": store.id,
            "name": "Corner Food Store",
            "status": "active",
        }
    ]
    # The same login may be staff of a partner in another scheme too.
    college_b = create_partner(world, world.b, name="Beta College")
    from tests.tenants.partners.support import invite_and_accept

    invite_and_accept(world, world.b, college_b["id"], store.staff)
    me = world.api(store.staff).get("/api/v1/me").get_json()
    assert {(p["scheme"], p["name"]) for p in me["partners"]} == {
        (world.a.slug, "Corner Food Store"),
        (world.b.slug, "Beta College"),
    }
    # Staff may list the scheme's partners but not another's partner statement.
    assert world.api(store.staff).get(url(world.a, "partners")).status_code == 200
    assert (
        world.api(store.staff).get(url(world.b, f"partners/{store.id}/statement")).status_code
        == 404
    )


def test_offers_wait_for_approval_when_the_policy_asks(app: Flask, world: World) -> None:
    coordinator = world.a.coordinator
    policy = world.api(coordinator).get(url(world.a, "policy")).get_json()
    policy["rewards"]["partner_offers_need_approval"] = True
    changed = world.api(coordinator).put(url(world.a, "policy"), policy)
    assert changed.status_code == 200, changed.get_json()
    store = make_partner(world, world.a)
    offer = add_offer(world, store, name="Food parcel", price=120, monthly_allowance=5)
    assert offer["status"] == "pending" and offer["partner_id"] == store.id
    ann = world.a.members[0]
    fund(app, world.a, ann, 600)
    catalogue = world.api(ann).get(url(world.a, "rewards")).get_json()["items"]
    assert offer["id"] not in [r["id"] for r in catalogue]
    assert redeem(world, ann, world.a, offer["id"]).status_code == 422
    # Staff cannot approve their own offer; the coordinator can.
    approve = store.url(f"offers/{offer['id']}/approve")
    assert world.api(store.staff).post(approve).status_code == 403
    assert world.api(coordinator).post(approve).get_json()["status"] == "approved"
    assert world.api(coordinator).post(approve).status_code == 422
    catalogue = world.api(ann).get(url(world.a, f"rewards?partner_id={store.id}")).get_json()
    assert [r["id"] for r in catalogue["items"]] == [offer["id"]]


def test_redeeming_a_partner_offer_pays_the_partner_at_once(app: Flask, world: World) -> None:
    store = make_partner(world, world.a, area="Northside")
    offer = add_offer(world, store, price=90, stock=2)
    ann = world.a.members[0]
    fund(app, world.a, ann, 300)
    response = redeem(world, ann, world.a, offer["id"])
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "issued" and body["partner_id"] == store.id
    assert body["expires_at"] is not None
    assert balance(world, ann, world.a) == 210
    assert partner_balance(app, world.a, store.id) == 90
    spend = world.api(ann).get(url(world.a, f"transactions/{body['transaction_id']}")).get_json()
    assert spend["kind"] == "spend"
    assert sorted((p["account"], p["amount"]) for p in spend["postings"]) == [
        ("member", -90),
        ("partner", 90),
    ]
    qr = world.api(ann).get(url(world.a, f"redemptions/{body['id']}/qr.svg"))
    assert qr.status_code == 200 and qr.mimetype == "image/svg+xml" and b"<svg" in qr.data
    arthur = world.a.members[1]
    assert (
        world.api(arthur).get(url(world.a, f"redemptions/{body['id']}/qr.svg")).status_code == 404
    )
    # Filter by area: the store's offer is there, none for another area.
    by_area = world.api(ann).get(url(world.a, "rewards?area=Northside")).get_json()["items"]
    assert [r["id"] for r in by_area] == [offer["id"]]
    assert world.api(ann).get(url(world.a, "rewards?area=Southside")).get_json()["items"] == []
    assert verify(app) == []


def test_monthly_allowance_and_a_paused_partner(app: Flask, world: World) -> None:
    store = make_partner(world, world.a)
    offer = add_offer(world, store, price=30, monthly_allowance=2)
    people = [world.a.members[0], world.a.members[1]]
    extra = make_user(app)
    add_member(app, world.a, extra)
    people.append(extra)
    for person in people:
        fund(app, world.a, person, 120)
    assert redeem(world, people[0], world.a, offer["id"]).status_code == 201
    assert redeem(world, people[1], world.a, offer["id"]).status_code == 201
    third = redeem(world, people[2], world.a, offer["id"])
    assert third.status_code == 422 and problem(third)["code"] == "monthly_allowance_reached"
    assert balance(world, people[2], world.a) == 120

    paused = world.api(world.a.coordinator).patch(
        url(world.a, f"partners/{store.id}"), {"status": "paused"}
    )
    assert paused.status_code == 200 and paused.get_json()["status"] == "paused"
    # Members no longer see its offers nor it; staff can honour nothing.
    ann = people[0]
    assert world.api(ann).get(url(world.a, "partners")).get_json()["items"] == []
    assert offer["id"] not in [
        r["id"] for r in world.api(ann).get(url(world.a, "rewards")).get_json()["items"]
    ]
    honour = world.api(store.staff).post(store.url("honour"), {"code": "ABCDEFGH"})
    assert honour.status_code == 403 and problem(honour)["code"] == "partner_inactive"


def test_settlement_takes_credits_back_to_the_scheme(app: Flask, world: World) -> None:
    store = make_partner(world, world.a)
    offer = add_offer(world, store, price=120)
    ann = world.a.members[0]
    fund(app, world.a, ann, 300)
    assert redeem(world, ann, world.a, offer["id"]).status_code == 201
    coordinator = world.a.coordinator
    too_much = world.api(coordinator).post(store.url("settlements"), {"minutes": 500})
    assert too_much.status_code == 422 and problem(too_much)["code"] == "insufficient_balance"
    settled = world.api(coordinator).post(
        store.url("settlements"),
        {"minutes": 120, "money_value": "12.50", "note": "March"},
        headers={"Idempotency-Key": "settle-1"},
    )
    assert settled.status_code == 201, settled.get_json()
    again = world.api(coordinator).post(
        store.url("settlements"),
        {"minutes": 120, "money_value": "12.50", "note": "March"},
        headers={"Idempotency-Key": "settle-1"},
    )
    assert again.get_json() == settled.get_json()
    assert partner_balance(app, world.a, store.id) == 0
    body = settled.get_json()
    assert body["money_value"] == "12.50"
    # Staff cannot settle; they may read settlements.
    assert world.api(store.staff).post(store.url("settlements"), {"minutes": 1}).status_code == 403
    listed = world.api(store.staff).get(store.url("settlements")).get_json()["items"]
    assert [s["minutes"] for s in listed] == [120]
    report = world.api(coordinator).get(url(world.a, "partner-report")).get_json()
    line = next(p for p in report["partners"] if p["partner_id"] == store.id)
    assert line["settled_minutes"] == 120 and line["balance"] == 0
    assert world.api(store.staff).get(url(world.a, "partner-report")).status_code == 404
    assert verify(app) == []


def test_bad_input_is_refused_and_writes_nothing(app: Flask, world: World) -> None:
    store = make_partner(world, world.a)
    coordinator = world.a.coordinator
    before = snapshot(app, world.a)
    for body, field in (
        ({"name": ""}, "name"),
        ({"name": "X", "latitude": 10}, "latitude"),
        ({"name": "X", "logo_url": "javascript:alert(1)"}, "logo_url"),
        ({"name": "X", "categories": "food"}, "categories"),
    ):
        response = world.api(coordinator).post(url(world.a, "partners"), body)
        assert response.status_code == 422, (body, response.get_json())
        assert field in problem(response)["errors"], response.get_json()
    offer = world.api(store.staff).post(store.url("offers"), {"name": "X", "price": 0})
    assert offer.status_code == 422 and "price" in problem(offer)["errors"]
    big = world.api(store.staff).get(store.url("codes/" + "A" * 30))
    assert big.status_code == 404
    assert (
        world.api(coordinator).get(url(world.a, "partners/99999999999999999999999")).status_code
        == 404
    )
    assert snapshot(app, world.a)["transactions"] == before["transactions"]


def test_ledger_verify_knows_partner_accounts(app: Flask, world: World) -> None:
    from sqlalchemy import update

    from timebank.platform import tenancy
    from timebank.platform.db import db
    from timebank.tenants.ledger.models import Account
    from timebank.tenants.ledger.verify import verify_ledger

    store = make_partner(world, world.a)
    with app.app_context():
        report = verify_ledger(world.a.slug)
        assert f"{world.a.slug}: 1 partner accounts within their limits" in report.checked
        assert report.breaks == []
        with tenancy.scheme_context(world.a.id):
            db.session.execute(
                update(Account)
                .where(Account.partner_id == store.id)
                .values(min_balance=None, balance=-5)
            )
            db.session.commit()
        breaks = verify_ledger(world.a.slug).breaks
    assert f"{world.a.slug}: partner {store.id}'s account is below zero" in breaks
    assert verify_ledger_other_scheme_clean(app, world.b.slug)


def verify_ledger_other_scheme_clean(app: Flask, slug: str) -> bool:
    from timebank.tenants.ledger.verify import verify_ledger

    with app.app_context():
        return verify_ledger(slug).breaks == []


def test_a_partner_account_keeps_to_the_policy_ceiling(app: Flask, world: World) -> None:
    coordinator = world.a.coordinator
    policy = world.api(coordinator).get(url(world.a, "policy")).get_json()
    policy["rewards"]["partner_max_balance"] = 90
    assert world.api(coordinator).put(url(world.a, "policy"), policy).status_code == 200
    store = make_partner(world, world.a)
    offer = add_offer(world, store, price=60)
    ann = world.a.members[0]
    fund(app, world.a, ann, 300)
    assert redeem(world, ann, world.a, offer["id"]).status_code == 201
    over = redeem(world, ann, world.a, offer["id"])
    assert over.status_code == 422 and problem(over)["code"] == "balance_above_maximum"
    assert partner_balance(app, world.a, store.id) == 60 and balance(world, ann, world.a) == 240
    # A settlement makes room again.
    settled = world.api(coordinator).post(store.url("settlements"), {"minutes": 60})
    assert settled.status_code == 201
    assert redeem(world, ann, world.a, offer["id"]).status_code == 201
    assert verify(app) == []
