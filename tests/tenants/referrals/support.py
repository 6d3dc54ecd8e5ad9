"""Helpers of the referral tests: referrers join through the real invitation flow."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask

from tests.factories import Person, SchemeInfo, World, make_user


def url(scheme: SchemeInfo, path: str) -> str:
    return f"/api/v1/schemes/{scheme.slug}/{path}"


def make_referrer(world: World, scheme: SchemeInfo, name: str = "Lina Linkworker") -> Person:
    """A user invited with role ``referrer`` who accepted (no membership)."""
    person = make_user(world.app, name=name)
    invited = world.api(scheme.coordinator).post(
        url(scheme, "invitations"), {"email": person.email, "role": "referrer"}
    )
    assert invited.status_code == 201, invited.data
    accepted = world.api(person).post(f"/api/v1/invitations/{invited.get_json()['token']}/accept")
    assert accepted.status_code == 201, accepted.data
    body = accepted.get_json()
    assert body["role"] == "referrer" and body["scheme"] == scheme.slug
    assert body.get("member_id") is None
    return person


REFERRAL = {
    "name": "Pat Patient",
    "contact": "07700 900123",
    "reason": "loneliness",
    "consent": True,
}


def age_joining(app: Flask, scheme: SchemeInfo, referral_id: int, days: int) -> None:
    """Let time pass: the referral joined ``days`` earlier than recorded (a clock, not data)."""
    from sqlalchemy import select

    from timebank.platform import tenancy
    from timebank.platform.db import db
    from timebank.tenants.referrals.models import Referral

    with app.app_context(), tenancy.scheme_context(scheme.id):
        referral = db.session.execute(
            select(Referral).where(Referral.id == referral_id)
        ).scalar_one()
        assert referral.joined_at is not None
        referral.joined_at = referral.joined_at - timedelta(days=days)
        db.session.commit()
