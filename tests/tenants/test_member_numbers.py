"""Member numbers count 1, 2, 3 … within each scheme, not across the platform.

Given on insert (join order), backfilled by migration 0007 in join order, safe
under concurrent joins on PostgreSQL, shown to people where members are named
(the coordinators' member list and page, the overview with exchange on, paying
a partner's member by number) and added to the API (``member_number``) while
member ids stay as they are.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select, text

from tests.factories import Person, World, add_member, fund, make_scheme, make_user
from tests.web.conftest import Pages
from tests.web.conftest import text as page_text
from timebank.platform import tenancy
from timebank.platform.db import db
from timebank.tenants.memberships.models import Member


def numbers(app: Flask, scheme_id: int) -> dict[int, int]:
    with app.app_context(), tenancy.scheme_context(scheme_id):
        rows = db.session.execute(select(Member.id, Member.number)).all()
        db.session.rollback()
    return {member_id: number for member_id, number in rows}


def test_each_scheme_counts_its_own_members_from_one(app: Flask, world: World) -> None:
    for scheme in (world.a, world.b):
        people = [scheme.coordinator, *scheme.members]
        got = numbers(app, scheme.id)
        assert [got[p.member_ids[scheme.slug]] for p in people] == [1, 2, 3]
    # A third scheme started later still begins at 1, though ids run on platform-wide.
    third = make_scheme(app, make_user(app), slug="gamma-bank")
    newcomer = make_user(app)
    member_id = add_member(app, third, newcomer)
    assert member_id > 6
    assert numbers(app, third.id)[member_id] == 2


def test_the_api_adds_member_number_and_keeps_ids(app: Flask, world: World) -> None:
    ann = world.a.members[0]
    listed = world.api(world.a.coordinator).get("/api/v1/schemes/alpha-bank/members")
    items = {item["member_id"]: item["member_number"] for item in listed.get_json()["items"]}
    assert items == {
        world.a.coordinator.member_ids["alpha-bank"]: 1,
        ann.member_ids["alpha-bank"]: 2,
        world.a.members[1].member_ids["alpha-bank"]: 3,
    }
    me = world.api(ann).get("/api/v1/me").get_json()
    assert [(m["scheme"], m["member_id"], m["member_number"]) for m in me["memberships"]] == [
        ("alpha-bank", ann.member_ids["alpha-bank"], 2)
    ]
    patched = world.api(world.a.coordinator).patch(
        f"/api/v1/schemes/alpha-bank/members/{ann.member_ids['alpha-bank']}", {"max_balance": 600}
    )
    assert patched.get_json()["member_number"] == 2
    invited = world.api(world.b.coordinator).post(
        "/api/v1/schemes/beta-surgery/invitations", {"email": ann.email, "role": "member"}
    )
    accepted = world.api(ann).post(f"/api/v1/invitations/{invited.get_json()['token']}/accept")
    assert accepted.status_code == 201, accepted.data
    assert accepted.get_json()["member_number"] == 4  # the fourth member of beta-surgery
    # Another scheme's member list is not readable by a stranger.
    stranger = world.api(make_user(app)).get("/api/v1/schemes/alpha-bank/members")
    assert stranger.status_code == 404


def test_pages_show_numbers_not_ids(app: Flask, world: World) -> None:
    from tests.platform.exchange.support import agree

    ann, ben = world.a.members[0], world.b.members[0]
    pages = Pages(app).login(world.a.coordinator)
    listing = pages.get("/s/alpha-bank/manage/members").get_data(as_text=True)
    assert '<th scope="col" class="num">No.</th>' in listing
    member_page = page_text(
        pages.get(f"/s/alpha-bank/manage/members/{ann.member_ids['alpha-bank']}")
    )
    assert "Member number 2" in member_page
    # Paying a partner scheme's member by the number they were given (not their id).
    agree(world, world.a, world.b, rate="1", limit=600)
    fund(app, world.a, ann, 120)
    member = Pages(app).login(ann)
    assert "Your member number here: 2" in page_text(member.get("/s/alpha-bank/"))
    paid = member.post(
        "/s/alpha-bank/pay?form=partner",
        {"to_scheme": "beta-surgery", "to_member": "2", "amount": "0:30"},
    )
    assert paid.status_code == 302, page_text(paid)
    assert ben.member_ids["beta-surgery"] != 2
    assert "Ben Beta received 0:30 hours" in page_text(member.get("/s/alpha-bank/"))
    unknown = member.post(
        "/s/alpha-bank/pay?form=partner",
        {"to_scheme": "beta-surgery", "to_member": "99", "amount": "0:30"},
    )
    assert unknown.status_code == 422
    assert "Beta Surgery has no member with this number." in page_text(unknown)


def test_no_member_number_where_exchange_is_off(app: Flask, world: World) -> None:
    coordinator = make_user(app)
    make_scheme(app, coordinator, slug="lincoln-tutors", template="school")
    pages = Pages(app).login(coordinator)
    assert "Your member number" not in page_text(pages.get("/s/lincoln-tutors/"))


def test_migration_numbers_existing_members_in_join_order(tmp_path: Path) -> None:
    from flask_migrate import downgrade, upgrade

    from timebank.platform.app import create_app

    path = tmp_path / "backfill.sqlite3"
    app = create_app({"DATABASE_URL": f"sqlite:///{path}", "SECRET_KEY": "x"})
    with app.app_context():
        upgrade(revision="0006")
        with db.engine.begin() as conn:
            for user_id in range(1, 6):
                conn.execute(
                    text(
                        "INSERT INTO users (id, email, name, password_hash) "
                        "VALUES (:id, :email, 'U', 'x')"
                    ),
                    {"id": user_id, "email": f"u{user_id}@example.test"},
                )
            for scheme_id, slug in ((1, "one"), (2, "two")):
                conn.execute(
                    text(
                        "INSERT INTO schemes (id, slug, name, template, timezone) "
                        "VALUES (:id, :slug, :slug, 'community', 'UTC')"
                    ),
                    {"id": scheme_id, "slug": slug},
                )
            # (scheme, member id, user, joined): ids out of join order on purpose.
            for scheme_id, member_id, user_id, joined in (
                (1, 10, 1, "2025-03-01 10:00:00"),
                (1, 11, 2, "2025-01-01 10:00:00"),
                (2, 12, 3, "2025-02-01 10:00:00"),
                (1, 13, 4, "2025-02-01 10:00:00"),
                (2, 14, 5, "2025-01-15 10:00:00"),
            ):
                conn.execute(
                    text(
                        "INSERT INTO members (scheme_id, id, user_id, role, status, joined_at) "
                        "VALUES (:s, :m, :u, 'member', 'active', :j)"
                    ),
                    {"s": scheme_id, "m": member_id, "u": user_id, "j": joined},
                )
            # A row that references a member: the migration must alter members in place.
            conn.execute(
                text(
                    "INSERT INTO accounts (scheme_id, id, kind, member_id) "
                    "VALUES (1, 1, 'member', 10)"
                )
            )
        upgrade(revision="0007")
        with db.engine.connect() as conn:
            got = {m: n for m, n in conn.execute(text("SELECT id, number FROM members"))}
        assert got == {11: 1, 13: 2, 10: 3, 14: 1, 12: 2}
        downgrade(revision="0006")
        db.engine.dispose()


@pytest.mark.skipif(not os.environ.get("DATABASE_URL"), reason="needs PostgreSQL locks")
def test_concurrent_joins_get_distinct_numbers_on_postgresql(app: Flask, world: World) -> None:
    people: list[Person] = [make_user(app) for _ in range(12)]
    errors: list[BaseException] = []

    def join(person: Person) -> None:
        try:
            add_member(app, world.a, person)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=join, args=(person,)) for person in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    got = numbers(app, world.a.id)
    assert sorted(got.values()) == list(range(1, 16))
    # The other scheme's numbers did not move.
    assert sorted(numbers(app, world.b.id).values()) == [1, 2, 3]
