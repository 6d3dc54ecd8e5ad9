"""Invitations, the member directory and coordinators' changes to members."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path

import pytest
from flask import Flask

from tests.factories import World, make_user, problem


def invite(world: World, email: str, role: str = "member") -> str:
    api = world.api(world.a.coordinator)
    response = api.post(
        f"/api/v1/schemes/{world.a.slug}/invitations", {"email": email, "role": role}
    )
    assert response.status_code == 201, response.data
    return response.get_json()["token"]  # type: ignore[no-any-return]


def test_invitation_is_mailed_and_accepted_once(app: Flask, world: World, outbox: Path) -> None:
    newcomer = make_user(app, email="newcomer@example.test")
    token = invite(world, "Newcomer@Example.test")
    mails = sorted(outbox.glob("*.eml"))
    assert len(mails) == 1
    message = message_from_bytes(mails[0].read_bytes())
    assert message["To"] == "Newcomer@Example.test"
    assert "Alpha Time Bank" in message["Subject"]
    assert token in mails[0].read_text()

    api = world.api(newcomer)
    accepted = api.post(f"/api/v1/invitations/{token}/accept")
    assert accepted.status_code == 201, accepted.data
    body = accepted.get_json()
    assert body == body | {"scheme": world.a.slug, "role": "member", "status": "active"}
    balance = api.get(f"/api/v1/schemes/{world.a.slug}/balance").get_json()
    assert balance == {
        "member_id": body["member_id"],
        "balance": 0,
        "min_balance": -600,
        "max_balance": None,
    }

    again = api.post(f"/api/v1/invitations/{token}/accept")
    assert again.status_code == 410 and problem(again)["code"] == "invitation_invalid"
    # Scheme B saw nothing.
    b_members = world.api(world.b.coordinator).get(f"/api/v1/schemes/{world.b.slug}/members")
    assert "newcomer@example.test" not in b_members.get_data(as_text=True).lower()


def test_invitation_for_another_email_is_refused(app: Flask, world: World) -> None:
    token = invite(world, "someone@example.test")
    intruder = make_user(app)
    response = world.api(intruder).post(f"/api/v1/invitations/{token}/accept")
    assert response.status_code == 403 and problem(response)["code"] == "invitation_email_mismatch"
    assert world.api(intruder).get("/api/v1/me").get_json()["memberships"] == []


def test_expired_and_unknown_invitations_are_gone(app: Flask, world: World) -> None:
    from sqlalchemy import update

    from timebank.platform import tenancy
    from timebank.platform.db import db
    from timebank.tenants.memberships.models import Invitation

    person = make_user(app, email="late@example.test")
    token = invite(world, "late@example.test")
    with app.app_context(), tenancy.scheme_context(world.a.id):
        db.session.execute(
            update(Invitation).values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
        db.session.commit()
    api = world.api(person)
    expired = api.post(f"/api/v1/invitations/{token}/accept")
    assert expired.status_code == 410 and problem(expired)["code"] == "invitation_invalid"
    unknown = api.post("/api/v1/invitations/not-a-real-token/accept")
    assert unknown.status_code == 410


def test_only_coordinators_invite_and_bad_invitations_are_422(app: Flask, world: World) -> None:
    member = world.api(world.a.members[0])
    refused = member.post(
        f"/api/v1/schemes/{world.a.slug}/invitations", {"email": "x@example.test"}
    )
    assert refused.status_code == 403
    api = world.api(world.a.coordinator)
    bad_email = api.post(f"/api/v1/schemes/{world.a.slug}/invitations", {"email": "not-an-email"})
    assert bad_email.status_code == 422 and "email" in problem(bad_email)["errors"]
    bad_role = api.post(
        f"/api/v1/schemes/{world.a.slug}/invitations", {"email": "x@example.test", "role": "owner"}
    )
    assert bad_role.status_code == 422 and "role" in problem(bad_role)["errors"]


def test_directory_is_paginated(app: Flask, world: World) -> None:
    api = world.api(world.a.members[0])
    first = api.get(f"/api/v1/schemes/{world.a.slug}/members?limit=2").get_json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = api.get(
        f"/api/v1/schemes/{world.a.slug}/members?limit=2&cursor={first['next_cursor']}"
    ).get_json()
    assert len(second["items"]) == 1 and second["next_cursor"] is None
    ids = [m["member_id"] for m in first["items"] + second["items"]]
    assert len(set(ids)) == 3
    for bad in ("limit=0", "limit=201", "limit=abc", "cursor=%%%"):
        response = api.get(f"/api/v1/schemes/{world.a.slug}/members?{bad}")
        assert response.status_code == 422, bad
        assert bad.split("=")[0] in problem(response)["errors"]


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("full", {"Ann Alpha", "Arthur Alpha"}), ("first_names", {"Ann", "Arthur"})],
)
def test_directory_privacy(app: Flask, world: World, mode: str, expected: set[str]) -> None:
    coordinator = world.api(world.a.coordinator)
    policy = coordinator.get(f"/api/v1/schemes/{world.a.slug}/policy").get_json()
    policy["privacy"]["member_directory"] = mode
    assert coordinator.put(f"/api/v1/schemes/{world.a.slug}/policy", policy).status_code == 200
    names = {
        m["name"]
        for m in world.api(world.a.members[0])
        .get(f"/api/v1/schemes/{world.a.slug}/members")
        .get_json()["items"]
    }
    assert expected <= names
    # Coordinators always see full names.
    full = {
        m["name"]
        for m in coordinator.get(f"/api/v1/schemes/{world.a.slug}/members").get_json()["items"]
    }
    assert {"Ann Alpha", "Arthur Alpha"} <= full


def test_hidden_directory_is_403_for_members(app: Flask, world: World) -> None:
    coordinator = world.api(world.a.coordinator)
    policy = coordinator.get(f"/api/v1/schemes/{world.a.slug}/policy").get_json()
    policy["privacy"]["member_directory"] = "hidden"
    coordinator.put(f"/api/v1/schemes/{world.a.slug}/policy", policy)
    hidden = world.api(world.a.members[0]).get(f"/api/v1/schemes/{world.a.slug}/members")
    assert hidden.status_code == 403 and problem(hidden)["code"] == "directory_hidden"
    assert coordinator.get(f"/api/v1/schemes/{world.a.slug}/members").status_code == 200


def test_patch_role_status_and_limits(app: Flask, world: World) -> None:
    api = world.api(world.a.coordinator)
    ann = world.a.members[0]
    member_id = ann.member_ids[world.a.slug]
    url = f"/api/v1/schemes/{world.a.slug}/members/{member_id}"
    response = api.patch(url, {"min_balance": -120, "max_balance": 3000})
    assert response.status_code == 200, response.data
    balance = world.api(ann).get(f"/api/v1/schemes/{world.a.slug}/balance").get_json()
    assert (balance["min_balance"], balance["max_balance"]) == (-120, 3000)
    assert api.patch(url, {"role": "coordinator"}).get_json()["role"] == "coordinator"
    suspended = api.patch(url, {"status": "suspended"})
    assert suspended.get_json()["status"] == "suspended"
    pay = world.api(ann).post(
        f"/api/v1/schemes/{world.a.slug}/transfers",
        {"to_member_id": world.a.members[1].member_ids[world.a.slug], "amount": 10},
    )
    assert pay.status_code == 403 and problem(pay)["code"] == "member_suspended"
    for body, field in (
        ({"min_balance": 10}, "min_balance"),
        ({"max_balance": -1}, "max_balance"),
        ({"role": "owner"}, "role"),
        ({"status": "left"}, "status"),
        ({}, "_schema"),
        ({"scheme_id": world.b.id}, "scheme_id"),
    ):
        bad = api.patch(url, body)
        assert bad.status_code == 422, body
        assert field in problem(bad)["errors"], (body, problem(bad)["errors"])


def test_the_last_coordinator_cannot_be_removed(app: Flask, world: World) -> None:
    api = world.api(world.a.coordinator)
    own = world.a.coordinator.member_ids[world.a.slug]
    url = f"/api/v1/schemes/{world.a.slug}/members/{own}"
    for body in ({"role": "member"}, {"status": "suspended"}):
        response = api.patch(url, body)
        assert response.status_code == 422 and problem(response)["code"] == "last_coordinator"
    other = world.a.members[0].member_ids[world.a.slug]
    api.patch(f"/api/v1/schemes/{world.a.slug}/members/{other}", {"role": "coordinator"})
    assert api.patch(url, {"role": "member"}).status_code == 200


def test_members_cannot_patch_and_other_schemes_members_are_404(app: Flask, world: World) -> None:
    target = world.a.members[1].member_ids[world.a.slug]
    member = world.api(world.a.members[0])
    assert (
        member.patch(
            f"/api/v1/schemes/{world.a.slug}/members/{target}", {"role": "coordinator"}
        ).status_code
        == 403
    )
    b_coordinator = world.api(world.b.coordinator)
    response = b_coordinator.patch(
        f"/api/v1/schemes/{world.b.slug}/members/{target}", {"role": "coordinator"}
    )
    assert response.status_code == 404


def test_limit_below_current_balance_is_refused(app: Flask, world: World) -> None:
    from tests.factories import fund

    ann = world.a.members[0]
    fund(app, world.a, ann, 300)
    api = world.api(world.a.coordinator)
    response = api.patch(
        f"/api/v1/schemes/{world.a.slug}/members/{ann.member_ids[world.a.slug]}",
        {"max_balance": 200},
    )
    assert response.status_code == 422 and "max_balance" in problem(response)["errors"]
