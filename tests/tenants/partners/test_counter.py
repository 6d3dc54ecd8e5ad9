"""At the counter: honouring codes once, only one's own partner's, charging cards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Flask
from sqlalchemy import update

from tests.factories import World, fund, problem
from tests.tenants.partners.support import (
    add_offer,
    make_partner,
    partner_balance,
    redeem,
    url,
)
from tests.tenants.spending.support import balance, snapshot, verify
from timebank.platform import tenancy
from timebank.platform.db import db


def test_staff_honour_a_code_once_seeing_only_a_first_name(app: Flask, world: World) -> None:
    store = make_partner(world, world.a)
    offer = add_offer(world, store, name="Food parcel", price=60)
    ann = world.a.members[0]  # "Ann Alpha"
    fund(app, world.a, ann, 120)
    code = redeem(world, ann, world.a, offer["id"]).get_json()["code"]
    staff = world.api(store.staff)

    seen = staff.get(store.url(f"codes/{code.lower()}"))
    assert seen.status_code == 200, seen.get_json()
    body = seen.get_json()
    assert body["member_first_name"] == "Ann" and "Alpha" not in str(body)
    assert body["reward"] == "Food parcel" and body["status"] == "issued"
    before = snapshot(app, world.a)

    spaced = f"{code[:4]} - {code[4:]}"
    first = staff.post(store.url("honour"), {"code": spaced}, headers={"Idempotency-Key": "scan-1"})
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["status"] == "fulfilled"
    replay = staff.post(
        store.url("honour"), {"code": spaced}, headers={"Idempotency-Key": "scan-1"}
    )
    assert replay.status_code == 200 and replay.get_json() == first.get_json()
    second = staff.post(store.url("honour"), {"code": code})
    assert second.status_code == 422 and problem(second)["code"] == "code_used"
    after = snapshot(app, world.a)
    assert (
        after["transactions"] == before["transactions"] and after["balances"] == before["balances"]
    )
    assert partner_balance(app, world.a, store.id) == 60
    # The member sees the redemption fulfilled.
    mine = world.api(ann).get(url(world.a, "redemptions")).get_json()["items"]
    assert mine[0]["status"] == "fulfilled"
    assert verify(app) == []


def test_another_partners_code_is_unknown_and_other_schemes_see_nothing(
    app: Flask, world: World
) -> None:
    store = make_partner(world, world.a)
    college = make_partner(world, world.a, name="Northside College")
    offer = add_offer(world, store, price=60)
    ann = world.a.members[0]
    fund(app, world.a, ann, 120)
    redemption = redeem(world, ann, world.a, offer["id"]).get_json()
    code = redemption["code"]
    for path in (f"codes/{code}",):
        assert world.api(college.staff).get(college.url(path)).status_code == 404
        # The college's staff cannot reach the store's routes at all.
        assert world.api(college.staff).get(store.url(path)).status_code == 404
    refused = world.api(college.staff).post(college.url("honour"), {"code": code})
    assert refused.status_code == 404
    assert world.api(college.staff).post(store.url("honour"), {"code": code}).status_code == 404
    assert world.api(college.staff).get(store.url("statement")).status_code == 404
    # A member, a stranger, another scheme's coordinator: 404 on the counter's routes.
    beta = make_partner(world, world.b, name="Beta Pharmacy")
    for person in (world.a.members[1], world.b.coordinator, beta.staff):
        assert world.api(person).post(store.url("honour"), {"code": code}).status_code == 404
        assert world.api(person).get(store.url(f"codes/{code}")).status_code == 404
    assert world.api(beta.staff).post(beta.url("honour"), {"code": code}).status_code == 404
    # Member routes stay closed to staff who are not members.
    assert world.api(store.staff).get(url(world.a, "redemptions")).status_code == 404
    assert (
        world.api(store.staff)
        .get(url(world.a, f"transactions/{redemption['transaction_id']}"))
        .status_code
        == 404
    )
    # Still honourable by its own partner.
    assert world.api(store.staff).post(store.url("honour"), {"code": code}).status_code == 200


def test_expired_and_cancelled_codes_are_refused_and_move_nothing(app: Flask, world: World) -> None:
    store = make_partner(world, world.a)
    offer = add_offer(world, store, price=60)
    ann = world.a.members[0]
    fund(app, world.a, ann, 300)
    old = redeem(world, ann, world.a, offer["id"]).get_json()
    cancelled = redeem(world, ann, world.a, offer["id"]).get_json()
    from timebank.tenants.spending.models import Redemption

    with app.app_context(), tenancy.scheme_context(world.a.id):
        db.session.execute(
            update(Redemption)
            .where(Redemption.id == old["id"])
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
        db.session.commit()
    cancel = world.api(world.a.coordinator).post(
        url(world.a, f"redemptions/{cancelled['id']}/cancel")
    )
    assert cancel.status_code == 200, cancel.get_json()
    assert partner_balance(app, world.a, store.id) == 60  # the refund came from the partner
    before = snapshot(app, world.a)
    for redemption in (old, cancelled):
        response = world.api(store.staff).post(store.url("honour"), {"code": redemption["code"]})
        assert response.status_code == 422 and problem(response)["code"] == "code_expired"
        assert "cannot be used" in problem(response)["detail"]
    assert snapshot(app, world.a) == before
    assert balance(world, ann, world.a) == 240
    assert verify(app) == []


def test_charging_a_card_waits_for_the_member_or_takes_their_pin(app: Flask, world: World) -> None:
    college = make_partner(world, world.a, name="Northside College")
    course = add_offer(world, college, name="Evening course", price=600)
    ann = world.a.members[0]
    fund(app, world.a, ann, 1500)
    card = world.api(ann).get(url(world.a, "card")).get_json()
    assert card["has_pin"] is False and card["code"].startswith("M")
    qr = world.api(ann).get(url(world.a, "card.svg"))
    assert qr.status_code == 200 and b"<svg" in qr.data

    staff = world.api(college.staff)
    charge = staff.post(
        college.url("charges"),
        {"card": card["code"], "reward_id": course["id"]},
        headers={"Idempotency-Key": "charge-1"},
    )
    assert charge.status_code == 201, charge.get_json()
    item = charge.get_json()
    assert item["status"] == "awaiting_confirmation" and item["member_first_name"] == "Ann"
    assert balance(world, ann, world.a) == 1500
    # Another member cannot confirm it; Ann can, once.
    other = world.api(world.a.members[1]).post(url(world.a, f"charges/{item['id']}/confirm"))
    assert other.status_code == 404
    waiting = world.api(ann).get(url(world.a, "charges")).get_json()["items"]
    assert [c["id"] for c in waiting] == [item["id"]]
    confirmed = world.api(ann).post(url(world.a, f"charges/{item['id']}/confirm"))
    assert confirmed.status_code == 200, confirmed.get_json()
    assert confirmed.get_json()["status"] == "confirmed"
    again = world.api(ann).post(url(world.a, f"charges/{item['id']}/confirm"))
    assert again.status_code == 422 and problem(again)["code"] == "already_decided"
    assert balance(world, ann, world.a) == 900
    assert partner_balance(app, world.a, college.id) == 600
    polled = staff.get(college.url(f"charges/{item['id']}")).get_json()
    assert polled["status"] == "confirmed" and polled["redemption_id"] is not None

    # With a PIN the charge goes through at once; a wrong one moves nothing.
    assert world.api(ann).put(url(world.a, "card/pin"), {"pin": "4821"}).status_code == 204
    wrong = staff.post(
        college.url("charges"), {"card": card["code"], "reward_id": course["id"], "pin": "1111"}
    )
    assert wrong.status_code == 422 and problem(wrong)["code"] == "wrong_pin"
    assert balance(world, ann, world.a) == 900
    right = staff.post(
        college.url("charges"), {"card": card["code"], "reward_id": course["id"], "pin": "4821"}
    )
    assert right.status_code == 201 and right.get_json()["status"] == "confirmed"
    assert balance(world, ann, world.a) == 300
    floor = world.api(world.a.coordinator).patch(
        url(world.a, f"members/{ann.member_ids[world.a.slug]}"), {"min_balance": 0}
    )
    assert floor.status_code == 200, floor.get_json()
    broke = staff.post(
        college.url("charges"), {"card": card["code"], "reward_id": course["id"], "pin": "4821"}
    )
    assert broke.status_code == 422 and problem(broke)["code"] == "insufficient_balance"
    unknown = staff.post(
        college.url("charges"), {"card": "MXXXXXXXXXXX", "reward_id": course["id"]}
    )
    assert unknown.status_code == 422 and "card" in problem(unknown)["errors"]
    # Five wrong PINs lock PIN entry.
    for _ in range(5):
        staff.post(
            college.url("charges"), {"card": card["code"], "reward_id": course["id"], "pin": "0000"}
        )
    locked = staff.post(
        college.url("charges"), {"card": card["code"], "reward_id": course["id"], "pin": "4821"}
    )
    assert locked.status_code == 422 and problem(locked)["code"] == "pin_locked"

    statement = world.api(college.staff).get(college.url("statement")).get_json()
    assert statement["total_minutes"] == 1200 and len(statement["items"]) == 2
    assert statement["by_offer"] == [{"reward": "Evening course", "quantity": 2, "minutes": 1200}]
    csv = world.api(world.a.coordinator).get(college.url("statement.csv"))
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    lines = csv.data.decode().splitlines()
    assert lines[0] == "date,offer,quantity,hours,minutes"
    assert lines[-1] == "total,,2,20:00,1200"
    assert verify(app) == []


def test_a_charge_for_another_partners_offer_is_refused(app: Flask, world: World) -> None:
    store = make_partner(world, world.a)
    college = make_partner(world, world.a, name="Northside College")
    parcel = add_offer(world, store, price=60)
    ann = world.a.members[0]
    fund(app, world.a, ann, 120)
    card = world.api(ann).get(url(world.a, "card")).get_json()
    refused = world.api(college.staff).post(
        college.url("charges"), {"card": card["code"], "reward_id": parcel["id"]}
    )
    assert refused.status_code == 422 and "reward_id" in problem(refused)["errors"]
    # A card of another scheme is unknown here.
    ben = world.b.members[0]
    beta_card = world.api(ben).get(url(world.b, "card")).get_json()
    refused = world.api(store.staff).post(
        store.url("charges"), {"card": beta_card["code"], "reward_id": parcel["id"]}
    )
    assert refused.status_code == 422 and "card" in problem(refused)["errors"]


def test_monthly_job_writes_partner_statements(app: Flask, world: World, tmp_path: object) -> None:
    from pathlib import Path

    from timebank.tenants.partners.models import PartnerStatement
    from timebank.tenants.reports.jobs import monthly_statements, partner_statement_path

    store = make_partner(world, world.a)
    offer = add_offer(world, store, price=60)
    ann = world.a.members[0]
    fund(app, world.a, ann, 120)
    code = redeem(world, ann, world.a, offer["id"]).get_json()["code"]
    assert world.api(store.staff).post(store.url("honour"), {"code": code}).status_code == 200
    month = datetime.now(UTC).strftime("%Y-%m")
    with app.app_context():
        app.config["STATEMENTS_DIR"] = str(tmp_path)
        monthly_statements(world.a.id, month)
        monthly_statements(world.a.id, month)  # a re-run keeps one row
        path = partner_statement_path(world.a.id, store.id, month)
        with tenancy.scheme_context(world.a.id):
            rows = db.session.execute(db.select(PartnerStatement)).scalars().all()
            assert [(r.partner_id, r.honoured, r.total_minutes) for r in rows] == [
                (store.id, 1, 60)
            ]
            db.session.rollback()
        with tenancy.scheme_context(world.b.id):
            assert db.session.execute(db.select(PartnerStatement)).scalars().all() == []
            db.session.rollback()
    assert Path(path).read_text().splitlines()[-1] == "total,,1,1:00,60"
