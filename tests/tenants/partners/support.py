"""Helpers for the partner tests: a partner with staff, offers and members through the API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask
from sqlalchemy import select
from werkzeug.test import TestResponse

from tests.factories import Person, SchemeInfo, World, make_user
from timebank.platform import tenancy
from timebank.platform.db import db


def url(scheme: SchemeInfo, path: str) -> str:
    return f"/api/v1/schemes/{scheme.slug}/{path.lstrip('/')}"


@dataclass
class PartnerInfo:
    scheme: SchemeInfo
    id: int
    staff: Person

    def url(self, path: str = "") -> str:
        return url(self.scheme, f"partners/{self.id}/{path.lstrip('/')}").rstrip("/")


def create_partner(world: World, scheme: SchemeInfo, **fields: Any) -> dict[str, Any]:
    body = {"name": "Corner Food Store"} | fields
    response = world.api(scheme.coordinator).post(url(scheme, "partners"), body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def invite_and_accept(world: World, scheme: SchemeInfo, partner_id: int, person: Person) -> None:
    invited = world.api(scheme.coordinator).post(
        url(scheme, f"partners/{partner_id}/staff-invitations"), {"email": person.email}
    )
    assert invited.status_code == 201, invited.get_json()
    accepted = world.api(person).post(f"/api/v1/invitations/{invited.get_json()['token']}/accept")
    assert accepted.status_code == 201, accepted.get_json()
    assert accepted.get_json()["partner_id"] == partner_id


def make_partner(
    world: World, scheme: SchemeInfo, name: str = "Corner Food Store", **fields: Any
) -> PartnerInfo:
    partner = create_partner(world, scheme, name=name, **fields)
    staff = make_user(world.app, name=f"Sam {name.split()[0]}")
    invite_and_accept(world, scheme, partner["id"], staff)
    return PartnerInfo(scheme=scheme, id=partner["id"], staff=staff)


def add_offer(world: World, partner: PartnerInfo, **fields: Any) -> dict[str, Any]:
    body = {"name": "Food parcel", "price": 60} | fields
    response = world.api(partner.staff).post(partner.url("offers"), body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def redeem(
    world: World, person: Person, scheme: SchemeInfo, reward_id: int, quantity: int = 1
) -> TestResponse:
    return world.api(person).post(
        url(scheme, "redemptions"), {"reward_id": reward_id, "quantity": quantity}
    )


def partner_balance(app: Flask, scheme: SchemeInfo, partner_id: int) -> int:
    from timebank.tenants.ledger.models import Account

    with app.app_context(), tenancy.scheme_context(scheme.id):
        value = int(
            db.session.execute(
                select(Account.balance).where(Account.partner_id == partner_id)
            ).scalar_one()
        )
        db.session.rollback()
    return value
