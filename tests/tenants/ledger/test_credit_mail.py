"""Mails to members paid, awarded or gifted credits; their switches; the digest past a burst.

Each mail goes to the member who received credits, in that scheme's name, with
the amount and who (as the directory shows names to members) and never the
payer's message or a coordinator's note. Past ``CREDIT_MAIL_BURST`` single
mails an hour, the rest wait for one digest (the hourly scheduled job). Nobody
in another scheme gets anything; a member without an address is skipped.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select, update

from tests.factories import Person, SchemeInfo, World, fund, problem
from tests.platform.exchange.support import agree
from tests.tenants.earning.conftest import activity_ids
from timebank.platform import tenancy
from timebank.platform.db import db
from timebank.platform.identity.models import User
from timebank.tenants.ledger.credit_mail import send_due_credit_digests
from timebank.tenants.ledger.models import CreditNotice

MEMO = "secret memo text"


def mails(app: Flask, to: str | None = None) -> list[Any]:
    folder = Path(app.config["OUTBOX_DIR"])
    if not folder.exists():
        return []
    found = [
        message_from_bytes(path.read_bytes(), policy=policy.default)
        for path in sorted(folder.glob("*.eml"))
    ]
    return [m for m in found if to is None or m["To"] == to]


def body(message: Any) -> str:
    return str(message.get_body(preferencelist=("plain",)).get_content())


def everyone(world: World, scheme: SchemeInfo) -> list[Person]:
    return [scheme.coordinator, *scheme.members]


def nothing_for(world: World, scheme: SchemeInfo) -> None:
    for person in everyone(world, scheme):
        assert mails(world.app, person.email) == [], person.email


def pay(world: World, payer: Person, payee: Person, amount: int, **kw: Any) -> Any:
    response = world.api(payer).post(
        "/api/v1/schemes/alpha-bank/transfers",
        {"to_member_id": payee.member_ids["alpha-bank"], "amount": amount, "memo": MEMO},
        headers={"Idempotency-Key": uuid.uuid4().hex},
        **kw,
    )
    assert response.status_code == 201, response.data
    return response


def settings_url(slug: str = "alpha-bank") -> str:
    return f"/api/v1/schemes/{slug}/mail-settings"


def test_a_payment_mails_the_payee_once_with_amount_and_name_never_the_memo(
    app: Flask, world: World
) -> None:
    ann, arthur = world.a.members
    fund(app, world.a, ann, 600)
    pay(world, ann, arthur, 90)
    (message,) = mails(app, arthur.email)
    assert message["Subject"] == "You were paid 1:30 hours in Alpha Time Bank"
    text = body(message)
    assert "Ann Alpha paid you 1:30 hours." in text
    assert MEMO not in message.as_string()
    assert "/s/alpha-bank/statement" in text
    assert mails(app, ann.email) == []  # the payer is not mailed
    nothing_for(world, world.b)


def test_a_switched_off_mail_is_not_sent_and_the_switches_are_per_scheme(
    app: Flask, world: World
) -> None:
    ann, arthur = world.a.members
    api = world.api(arthur)
    assert api.get(settings_url()).get_json() == {"paid": True, "awarded": True, "gifted": True}
    changed = api.put(settings_url(), {"paid": False})
    assert changed.status_code == 200, changed.data
    assert changed.get_json() == {"paid": False, "awarded": True, "gifted": True}
    fund(app, world.a, ann, 600)
    pay(world, ann, arthur, 30)
    assert mails(app, arthur.email) == []
    with app.app_context(), tenancy.scheme_context(world.a.id):
        assert db.session.execute(select(CreditNotice)).scalars().all() == []
        db.session.rollback()
    # Bad input: 422 on the field, nothing changed.
    for bad in ({"paid": "no"}, {}, {"paid": True, "weekly": True}):
        refused = api.put(settings_url(), bad)
        assert refused.status_code == 422, (bad, refused.data)
    assert api.get(settings_url()).get_json()["paid"] is False
    assert problem(api.put(settings_url(), {"paid": "no"}))["errors"].keys() >= {"paid"}
    # Another scheme's switches are not these, and strangers get 404.
    ben = world.b.members[0]
    assert world.api(ben).get(settings_url("beta-surgery")).get_json()["paid"] is True
    assert world.api(ben).get(settings_url()).status_code == 404
    assert world.api(ben).put(settings_url(), {"paid": True}).status_code == 404


def test_a_burst_of_payments_ends_in_one_digest(app: Flask, world: World) -> None:
    ann, arthur = world.a.members
    fund(app, world.a, ann, 600)
    for _ in range(6):
        pay(world, ann, arthur, 10, base_url="http://localhost:8123")  # a trusted host
    singles = mails(app, arthur.email)
    assert len(singles) == app.config["CREDIT_MAIL_BURST"] == 3
    # Nothing for the other scheme's digest run, one digest for Arthur, then nothing more.
    with app.app_context():
        assert send_due_credit_digests("2026-12-02T01") == 1
        assert send_due_credit_digests("2026-12-02T02") == 0
    (digest,) = mails(app, arthur.email)[3:]
    assert digest["Subject"] == "Time credits you received in Alpha Time Bank: 3"
    text = body(digest)
    assert text.count("Ann Alpha paid you 0:10 hours.") == 3
    assert "0:30 hours in all" in text
    assert MEMO not in digest.as_string()
    # A job sends it: its link is the address the payments came in on (stored with them).
    assert "http://localhost:8123/s/alpha-bank/statement" in text
    nothing_for(world, world.b)
    assert mails(app, ann.email) == []
    # Notices mailed over a week ago are forgotten by the hourly run; recent ones stay.
    with app.app_context():
        with tenancy.scheme_context(world.a.id):
            oldest = db.session.execute(select(CreditNotice).order_by(CreditNotice.id)).scalars()
            first = next(iter(oldest))
            first.mailed_at = first.mailed_at - timedelta(days=8)
            db.session.commit()
        send_due_credit_digests("2026-12-02T03")
        with tenancy.scheme_context(world.a.id):
            assert len(db.session.execute(select(CreditNotice)).scalars().all()) == 5
            db.session.rollback()


def test_awards_and_gifts_mail_their_kind_and_other_schemes_get_nothing(
    app: Flask, world: World
) -> None:
    ann, arthur = world.a.members
    coordinator = world.api(world.a.coordinator)
    helping = activity_ids(world, world.a)["Helping a neighbour"]
    awarded = coordinator.post(
        "/api/v1/schemes/alpha-bank/awards",
        {
            "activity_id": helping,
            "minutes": 60,
            "member_ids": [ann.member_ids["alpha-bank"]],
            "note": MEMO,
        },
    )
    assert awarded.status_code == 201, awarded.data
    (award,) = mails(app, ann.email)
    assert award["Subject"] == "You were awarded 1:00 hours in Alpha Time Bank"
    assert "Alpha Time Bank awarded you 1:00 hours for Helping a neighbour." in body(award)
    assert MEMO not in award.as_string()

    given = world.api(ann).post(
        "/api/v1/schemes/alpha-bank/gifts",
        {"to": arthur.member_ids["alpha-bank"], "amount": 20, "memo": MEMO},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert given.status_code == 201, given.data
    (gift,) = mails(app, arthur.email)
    assert gift["Subject"] == "You were given 0:20 hours in Alpha Time Bank"
    assert "Ann Alpha gave you 0:20 hours." in body(gift)
    # A gift to the pot mails nobody.
    to_pot = world.api(ann).post(
        "/api/v1/schemes/alpha-bank/gifts",
        {"to": "pot", "amount": 10},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert to_pot.status_code == 201
    granted = coordinator.post(
        "/api/v1/schemes/alpha-bank/pot/grants",
        {"to_member_id": arthur.member_ids["alpha-bank"], "amount": 10},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert granted.status_code == 201, granted.data
    assert "The community pot gave you 0:10 hours." in body(mails(app, arthur.email)[-1])
    assert len(mails(app)) == 3
    nothing_for(world, world.b)


def test_names_follow_the_directory_rule(app: Flask, world: World) -> None:
    ann, arthur = world.a.members
    fund(app, world.a, ann, 600)
    coordinator = world.api(world.a.coordinator)
    document = coordinator.get("/api/v1/schemes/alpha-bank/policy").get_json()
    document.pop("version", None)
    for mode, shown in (("first_names", "Ann paid you"), ("hidden", "A member paid you")):
        document["privacy"]["member_directory"] = mode
        assert coordinator.put("/api/v1/schemes/alpha-bank/policy", document).status_code == 200
        pay(world, ann, arthur, 5)
        text = body(mails(app, arthur.email)[-1])
        assert shown.lower() in text.lower(), text
        assert "Ann Alpha" not in text


def test_a_payment_from_a_partner_scheme_is_mailed_in_the_payees_scheme(
    app: Flask, world: World
) -> None:
    ann = world.a.members[0]
    ben = world.b.members[0]
    agree(world, world.a, world.b, rate="2", limit=600)
    fund(app, world.a, ann, 600)
    paid = world.api(ann).post(
        "/api/v1/schemes/alpha-bank/transfers",
        {
            "to_scheme": "beta-surgery",
            "to_member_id": ben.member_ids["beta-surgery"],
            "amount": 30,
            "memo": MEMO,
        },
    )
    assert paid.status_code == 201, paid.data
    (message,) = mails(app, ben.email)
    assert message["Subject"] == "You were paid 1:00 hours in Beta Surgery"
    assert "A member of Alpha Time Bank paid you 1:00 hours." in body(message)
    assert MEMO not in message.as_string()
    assert "/s/beta-surgery/statement" in body(message)
    with app.app_context():
        with tenancy.scheme_context(world.b.id):
            notices = db.session.execute(select(CreditNotice)).scalars().all()
            assert [(n.member_id, n.amount, n.from_scheme_id) for n in notices] == [
                (ben.member_ids["beta-surgery"], 60, world.a.id)
            ]
        with tenancy.scheme_context(world.a.id):
            assert db.session.execute(select(CreditNotice)).scalars().all() == []
        db.session.rollback()
    for person in world.a.members:  # (its coordinators had the agreement's mails)
        assert mails(app, person.email) == []


def test_a_member_without_an_address_is_skipped(app: Flask, world: World) -> None:
    ann, arthur = world.a.members
    fund(app, world.a, ann, 600)
    with app.app_context():
        db.session.execute(update(User).where(User.id == arthur.user_id).values(email=""))
        db.session.commit()
    pay(world, ann, arthur, 15)
    assert mails(app) == []
