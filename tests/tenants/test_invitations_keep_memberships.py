"""Invitations never change an existing membership (issue 14): inviting a member, or
accepting while a member, is 409 ``already_member`` and nothing is written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from tests.factories import World, add_member, make_user, problem


def members_of(app: Flask, scheme_id: int) -> list[tuple[int, int, str, str]]:
    from timebank.platform import tenancy
    from timebank.platform.db import db
    from timebank.tenants.memberships.models import Member

    with app.app_context(), tenancy.scheme_context(scheme_id):
        rows = db.session.execute(
            select(Member.id, Member.user_id, Member.role, Member.status).order_by(Member.id)
        ).all()
        return [tuple(row) for row in rows]  # type: ignore[misc]


def invitations_of(app: Flask, scheme_id: int) -> list[tuple[str, Any]]:
    from timebank.platform import tenancy
    from timebank.platform.db import db
    from timebank.tenants.memberships.models import Invitation

    with app.app_context(), tenancy.scheme_context(scheme_id):
        rows = db.session.execute(
            select(func.lower(Invitation.email), Invitation.accepted_at).order_by(Invitation.id)
        ).all()
        return [tuple(row) for row in rows]  # type: ignore[misc]


def snapshot(app: Flask, world: World, outbox: Path) -> Any:
    return (
        members_of(app, world.a.id),
        members_of(app, world.b.id),
        invitations_of(app, world.a.id),
        invitations_of(app, world.b.id),
        sorted(p.name for p in outbox.glob("*.eml")),
    )


def suspend(world: World, member_id: int) -> None:
    response = world.api(world.a.coordinator).patch(
        f"/api/v1/schemes/{world.a.slug}/members/{member_id}", {"status": "suspended"}
    )
    assert response.status_code == 200, response.data


def invite(world: World, email: str, role: str = "member") -> Any:
    return world.api(world.a.coordinator).post(
        f"/api/v1/schemes/{world.a.slug}/invitations", {"email": email, "role": role}
    )


def test_inviting_a_suspended_member_is_409_and_writes_nothing(
    app: Flask, world: World, outbox: Path
) -> None:
    ann = world.a.members[0]
    suspend(world, ann.member_ids[world.a.slug])
    before = snapshot(app, world, outbox)
    for address, role in ((ann.email, "member"), (ann.email.upper(), "coordinator")):
        response = invite(world, address, role)
        assert response.status_code == 409, response.data
        body = problem(response)
        assert body["code"] == "already_member" and "suspended" in body["detail"]
    assert snapshot(app, world, outbox) == before
    still = world.api(ann).post(
        f"/api/v1/schemes/{world.a.slug}/transfers",
        {"to_member_id": world.a.members[1].member_ids[world.a.slug], "amount": 1},
    )
    assert still.status_code == 403 and problem(still)["code"] == "member_suspended"


def test_the_only_coordinator_cannot_demote_themselves_by_invitation(
    app: Flask, world: World, outbox: Path
) -> None:
    coordinator = world.a.coordinator
    before = snapshot(app, world, outbox)
    response = invite(world, coordinator.email, "member")
    assert response.status_code == 409 and problem(response)["code"] == "already_member"
    assert snapshot(app, world, outbox) == before
    own = coordinator.member_ids[world.a.slug]
    assert (own, coordinator.user_id, "coordinator", "active") in members_of(app, world.a.id)


def test_accepting_while_suspended_is_409_and_the_invitation_stays_unused(
    app: Flask, world: World, outbox: Path
) -> None:
    newcomer = make_user(app, email="newcomer@example.test")
    made = invite(world, newcomer.email, "coordinator")
    assert made.status_code == 201
    token = made.get_json()["token"]
    # Meanwhile they joined some other way and were suspended.
    member_id = add_member(app, world.a, newcomer)
    suspend(world, member_id)
    before = snapshot(app, world, outbox)
    response = world.api(newcomer).post(f"/api/v1/invitations/{token}/accept")
    assert response.status_code == 409 and problem(response)["code"] == "already_member"
    assert snapshot(app, world, outbox) == before
    assert (member_id, newcomer.user_id, "member", "suspended") in members_of(app, world.a.id)
    assert invitations_of(app, world.a.id)[-1] == ("newcomer@example.test", None)


def test_accepting_while_an_active_member_is_409(app: Flask, world: World, outbox: Path) -> None:
    newcomer = make_user(app, email="twice@example.test")
    token = invite(world, newcomer.email, "coordinator").get_json()["token"]
    add_member(app, world.a, newcomer)
    before = snapshot(app, world, outbox)
    response = world.api(newcomer).post(f"/api/v1/invitations/{token}/accept")
    assert response.status_code == 409 and problem(response)["code"] == "already_member"
    assert snapshot(app, world, outbox) == before


def test_a_member_of_another_scheme_may_be_invited(app: Flask, world: World) -> None:
    ben = world.b.members[0]
    made = invite(world, ben.email)
    assert made.status_code == 201
    accepted = world.api(ben).post(f"/api/v1/invitations/{made.get_json()['token']}/accept")
    assert accepted.status_code == 201
    # Scheme B's membership is untouched.
    assert (ben.member_ids[world.b.slug], ben.user_id, "member", "active") in members_of(
        app, world.b.id
    )


def test_someone_who_left_may_be_invited_back(app: Flask, world: World) -> None:
    ann = world.a.members[0]
    left = world.api(ann).post(f"/api/v1/schemes/{world.a.slug}/leave", {"balance_to": "pot"})
    assert left.status_code in (200, 201), left.data
    made = invite(world, ann.email)
    assert made.status_code == 201, made.data
    accepted = world.api(ann).post(f"/api/v1/invitations/{made.get_json()['token']}/accept")
    assert accepted.status_code == 201, accepted.data
    assert accepted.get_json()["status"] == "active"


def test_the_invitation_page_says_so_plainly(app: Flask, world: World, outbox: Path) -> None:
    from tests.platform.test_account_takeover import web_login

    newcomer = make_user(app, email="pages@example.test")
    token = invite(world, newcomer.email).get_json()["token"]
    member_id = add_member(app, world.a, newcomer)
    suspend(world, member_id)
    browser = web_login(app, newcomer.email)
    preview = browser.get(f"/invitations/{token}").get_data(as_text=True)
    assert "You are already a member of Alpha Time Bank" in preview
    before = snapshot(app, world, outbox)
    response = browser.post(f"/invitations/{token}")
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "You are already a member of Alpha Time Bank (suspended)" in page
    assert "Your membership stays as it is." in page
    assert snapshot(app, world, outbox) == before

    coordinator = web_login(app, world.a.coordinator.email)
    refused = coordinator.post(
        f"/s/{world.a.slug}/manage/invitations",
        data={"email": newcomer.email, "role": "coordinator"},
    )
    assert refused.status_code == 409
    assert "is already a member of Alpha Time Bank" in refused.get_data(as_text=True)
    assert snapshot(app, world, outbox) == before
