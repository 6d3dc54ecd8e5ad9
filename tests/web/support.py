"""Data for the page tests, set up through the API (the services behind it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from tests.factories import Person, SchemeInfo, World
from timebank.platform import tenancy
from timebank.platform.db import db


def activity_id(world: World, scheme: SchemeInfo, name: str | None = None) -> int:
    items = (
        world.api(scheme.coordinator)
        .get(f"/api/v1/schemes/{scheme.slug}/activities")
        .get_json()["items"]
    )
    return int(next(item["id"] for item in items if name is None or item["name"] == name))


def reward_id(world: World, scheme: SchemeInfo, name: str | None = None) -> int:
    items = (
        world.api(scheme.coordinator)
        .get(f"/api/v1/schemes/{scheme.slug}/rewards")
        .get_json()["items"]
    )
    return int(next(item["id"] for item in items if name is None or item["name"] == name))


def claim(
    world: World, scheme: SchemeInfo, person: Person, minutes: int, activity: int
) -> dict[str, Any]:
    response = world.api(person).post(
        f"/api/v1/schemes/{scheme.slug}/claims",
        {"activity_id": activity, "minutes": minutes, "performed_on": date.today().isoformat()},
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def balance(world: World, person: Person, scheme: SchemeInfo) -> int:
    response = world.api(person).get(f"/api/v1/schemes/{scheme.slug}/balance")
    assert response.status_code == 200, response.get_json()
    return int(response.get_json()["balance"])


def ledger_rows(app: Flask, scheme: SchemeInfo) -> int:
    """How many transactions one scheme's ledger holds (read in its own context)."""
    from timebank.tenants.ledger.models import Transaction

    with app.app_context(), tenancy.scheme_context(scheme.id):
        return int(db.session.execute(select(func.count()).select_from(Transaction)).scalar_one())


@dataclass
class BetaObjects:
    """One of each kind of object in scheme B, to point A's pages at."""

    member: int
    activity: int
    reward: int
    claim: int
    redemption: int
    transaction: int
    agreement: int
    import_id: int
    listing: int = 0
    response: int = 0
    category: int = 0
    referral: int = 0
    link: int = 0
    group: int = 0
    partner: int = 0
    charge: int = 0


def beta_objects(world: World) -> BetaObjects:
    from tests.factories import fund
    from tests.platform.exchange.support import agree

    b, member = world.b, world.b.members[0]
    activity = activity_id(world, b)
    made = claim(world, b, member, 60, activity)
    fund(world.app, b, member, 600)
    reward = reward_id(world, b)
    redeemed = world.api(member).post(
        f"/api/v1/schemes/{b.slug}/redemptions", {"reward_id": reward}
    )
    assert redeemed.status_code == 201, redeemed.get_json()
    # An agreement of B with a third scheme that A has nothing to do with.
    from tests.factories import make_scheme, make_user

    third = make_scheme(world.app, make_user(world.app), slug="gamma-college", template="community")
    agreement = agree(world, b, third)
    imported = world.app.test_client().post(
        f"/api/v1/schemes/{b.slug}/imports",
        data="name,email,role\nNew Person,new@example.test,member\n",
        headers={**b.coordinator.headers, "Content-Type": "text/csv"},
    )
    assert imported.status_code == 202, imported.get_json()
    categories = (
        world.api(b.coordinator).get(f"/api/v1/schemes/{b.slug}/categories").get_json()["items"]
    )
    posted = world.api(member).post(
        f"/api/v1/schemes/{b.slug}/listings",
        {"kind": "request", "title": "Lift to the surgery", "category_id": categories[0]["id"]},
    )
    assert posted.status_code == 201, posted.get_json()
    responded = world.api(b.members[1]).post(
        f"/api/v1/schemes/{b.slug}/listings/{posted.get_json()['id']}/responses",
        {"message": "I can drive you"},
    )
    assert responded.status_code == 201, responded.get_json()
    partner = world.api(b.coordinator).post(
        f"/api/v1/schemes/{b.slug}/partners", {"name": "Beta Opticians"}
    )
    assert partner.status_code == 201, partner.get_json()
    # B is a surgery: a referral and a referral link; groups switched on, with one group.
    coordinator = world.api(b.coordinator)
    referral = coordinator.post(
        f"/api/v1/schemes/{b.slug}/referrals",
        {"name": "Pat Patient", "contact": "07700 900123", "reason": "loneliness", "consent": True},
    )
    assert referral.status_code == 201, referral.get_json()
    link = coordinator.post(f"/api/v1/schemes/{b.slug}/referral-links", {"label": "Reception"})
    assert link.status_code == 201, link.get_json()
    policy = coordinator.get(f"/api/v1/schemes/{b.slug}/policy").get_json()
    policy["groups"] = {"enabled": True, "league_table": True}
    assert coordinator.put(f"/api/v1/schemes/{b.slug}/policy", policy).status_code == 200
    group = coordinator.post(f"/api/v1/schemes/{b.slug}/groups", {"name": "Tuesday group"})
    assert group.status_code == 201, group.get_json()
    return BetaObjects(
        partner=partner.get_json()["id"],
        # No charge of B's is needed: every route naming one refuses a stranger first.
        charge=1,
        referral=referral.get_json()["id"],
        link=link.get_json()["id"],
        group=group.get_json()["id"],
        listing=posted.get_json()["id"],
        response=responded.get_json()["id"],
        category=categories[0]["id"],
        member=member.member_ids[b.slug],
        activity=activity,
        reward=reward,
        claim=made["id"],
        redemption=redeemed.get_json()["id"],
        transaction=redeemed.get_json()["transaction_id"],
        agreement=agreement,
        import_id=imported.get_json()["id"],
    )
