"""Members without e-mail: added by a coordinator, signing in with a card, linked later.

Managed members take every existing path (statements, leave-and-settle, expiry,
CSV import, billing's member count) as any member does; another scheme sees
nothing of them.
"""

from __future__ import annotations

import io
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from flask import Flask

from tests.factories import Person, World, fund, make_user, problem
from timebank.platform import tenancy
from timebank.platform.billing.plans import active_member_count
from timebank.platform.db import db
from timebank.platform.schemes.models import Scheme
from timebank.tenants.spending import services as spending

PIN = "4821"


def url(slug: str, path: str) -> str:
    return f"/api/v1/schemes/{slug}/{path}"


def add_managed(world: World, name: str = "Mo Managed", **extra: Any) -> int:
    response = world.api(world.a.coordinator).post(
        url(world.a.slug, "members"), {"name": name, **extra}
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["managed"] is True and body["role"] == "member" and body["status"] == "active"
    return int(body["member_id"])


def issue_card(world: World, member_id: int, pin: str = PIN) -> str:
    response = world.api(world.a.coordinator).post(
        url(world.a.slug, f"members/{member_id}/card"), {"pin": pin}
    )
    assert response.status_code == 201, response.get_json()
    return str(response.get_json()["card_code"])


def card_token(world: World, code: str, pin: str = PIN) -> Any:
    return world.api().post("/api/v1/card-tokens", {"card_code": code, "pin": pin})


def as_person(world: World, member_id: int, token: str = "") -> Person:
    person = Person(user_id=0, email="", name="Mo Managed", token=token)
    person.member_ids[world.a.slug] = member_id
    return person


def test_a_coordinator_adds_a_member_without_email(world: World, outbox: Path) -> None:
    member_id = add_managed(world, age_band="adult")
    listed = world.api(world.a.coordinator).get(url(world.a.slug, "members")).get_json()
    row = next(item for item in listed["items"] if item["member_id"] == member_id)
    assert row["managed"] is True and row["email"] is None and row["name"] == "Mo Managed"
    assert row["consent"] == "not_needed" and row["balance"] == 0
    others = [item for item in listed["items"] if item["member_id"] != member_id]
    assert all(item["managed"] is False for item in others)
    # Members may not add members; another scheme sees no such member.
    ann = world.a.members[0]
    assert problem(world.api(ann).post(url(world.a.slug, "members"), {"name": "X"}))["code"] == (
        "coordinator_only"
    )
    b_list = world.api(world.b.coordinator).get(url(world.b.slug, "members")).get_json()
    assert member_id not in [item["member_id"] for item in b_list["items"]]
    assert (
        world.api(world.b.coordinator)
        .post(url(world.b.slug, f"members/{member_id}/card"), {"pin": PIN})
        .status_code
        == 404
    )
    # Bad input: 422 on the field, nothing written.
    coordinator = world.api(world.a.coordinator)
    assert problem(coordinator.post(url(world.a.slug, "members"), {"name": "  "}))["status"] == 422
    both = {"name": "Z", "date_of_birth": "2015-01-01", "age_band": "11_15"}
    assert "age_band" in problem(coordinator.post(url(world.a.slug, "members"), both))["errors"]
    assert coordinator.patch(
        url(world.a.slug, f"members/{member_id}"), {"role": "coordinator"}
    ).get_json()["code"] == ("managed_member")
    assert list(outbox.glob("*.eml")) == []  # nobody to mail


def test_a_card_signs_in_as_the_member_in_that_scheme_only(world: World) -> None:
    member_id = add_managed(world)
    fund(world.app, world.a, as_person(world, member_id), 90)
    code = issue_card(world, member_id)
    response = card_token(world, code.lower())  # read off a card: any letter case
    assert response.status_code == 201, response.get_json()
    pupil = as_person(world, member_id, response.get_json()["token"])
    balance = world.api(pupil).get(url(world.a.slug, "balance")).get_json()
    assert balance["member_id"] == member_id and balance["balance"] == 90
    me = world.api(pupil).get("/api/v1/me").get_json()
    assert [m["scheme"] for m in me["memberships"]] == [world.a.slug] and me["email"] is None
    # That scheme only; and a card token makes no cards, invitations or password tokens.
    assert world.api(pupil).get(url(world.b.slug, "balance")).status_code == 404
    assert (
        problem(
            world.api(pupil).post(url(world.a.slug, f"members/{member_id}/card"), {"pin": "1234"})
        )["code"]
        == "coordinator_only"
    )
    invite = {"email": "x@example.test", "role": "member"}
    assert world.api(pupil).post(url(world.a.slug, "invitations"), invite).status_code == 403
    assert world.api(pupil).post(url(world.a.slug, "members"), {"name": "Y"}).status_code == 403
    change = {"current_password": "", "password": "a long new password"}
    assert world.api(pupil).post("/api/v1/password/change", change).status_code in (401, 422)


def test_ten_wrong_pins_lock_the_card_and_a_new_card_replaces_the_old(world: World) -> None:
    member_id = add_managed(world)
    code = issue_card(world, member_id)
    for attempt in range(9):
        assert problem(card_token(world, code, "0000"))["code"] == "invalid_credentials", attempt
    assert problem(card_token(world, code, "0000"))["code"] == "card_locked"
    assert card_token(world, code).status_code == 423  # even the right PIN now
    # The coordinator prints a new card: it works, the old code never again.
    new_code = issue_card(world, member_id, pin="9876")
    assert new_code != code
    assert card_token(world, new_code, "9876").status_code == 201
    assert problem(card_token(world, code))["code"] == "invalid_credentials"
    replaced = issue_card(world, member_id, pin="5555")
    assert problem(card_token(world, new_code, "9876"))["code"] == "invalid_credentials"
    assert card_token(world, replaced, "5555").status_code == 201
    # Unknown codes and bad PINs: 401/422, never 500.
    assert problem(card_token(world, "NOSUCHCD"))["code"] == "invalid_credentials"
    bad_pin = world.api(world.a.coordinator).post(
        url(world.a.slug, f"members/{member_id}/card"), {"pin": "12"}
    )
    assert "pin" in problem(bad_pin)["errors"]
    # Cards are only for members without e-mail.
    ann_id = world.a.members[0].member_ids[world.a.slug]
    refused = world.api(world.a.coordinator).post(
        url(world.a.slug, f"members/{ann_id}/card"), {"pin": PIN}
    )
    assert problem(refused)["code"] == "not_managed"


def test_linking_an_email_moves_the_membership_with_its_history(world: World) -> None:
    member_id = add_managed(world)
    fund(world.app, world.a, as_person(world, member_id), 120)
    code = issue_card(world, member_id)
    pupil_token = card_token(world, code).get_json()["token"]
    coordinator = world.api(world.a.coordinator)
    linked = coordinator.post(
        url(world.a.slug, f"members/{member_id}/link-email"), {"email": "mo@example.test"}
    )
    assert linked.status_code == 201, linked.get_json()
    mo = make_user(world.app, name="Mo Grown", email="mo@example.test")
    accepted = world.api(mo).post(f"/api/v1/invitations/{linked.get_json()['token']}/accept")
    assert accepted.status_code == 201, accepted.get_json()
    assert accepted.get_json()["member_id"] == member_id
    balance = world.api(mo).get(url(world.a.slug, "balance")).get_json()
    assert balance == {**balance, "member_id": member_id, "balance": 120}
    history = world.api(mo).get(url(world.a.slug, "transactions")).get_json()["items"]
    assert [t["kind"] for t in history] == ["adjustment"]
    # The card and its session end at once.
    assert problem(card_token(world, code))["code"] == "invalid_credentials"
    stale = as_person(world, member_id, pupil_token)
    assert world.api(stale).get(url(world.a.slug, "balance")).status_code == 401
    # No more a managed member: a card cannot be issued, the link cannot be sent again.
    assert coordinator.post(
        url(world.a.slug, f"members/{member_id}/card"), {"pin": PIN}
    ).get_json()["code"] == ("not_managed")


def test_linking_to_someone_already_a_member_is_refused(world: World) -> None:
    member_id = add_managed(world)
    ann = world.a.members[0]
    coordinator = world.api(world.a.coordinator)
    refused = coordinator.post(
        url(world.a.slug, f"members/{member_id}/link-email"), {"email": ann.email}
    )
    assert problem(refused)["code"] == "already_member"
    # Invited before Ann joined elsewhere: accepting is refused too, nothing moves.
    newcomer = make_user(world.app, name="Nat New")
    token = coordinator.post(
        url(world.a.slug, f"members/{member_id}/link-email"), {"email": newcomer.email}
    ).get_json()["token"]
    other = add_managed(world, name="Other Kid")
    token_other = coordinator.post(
        url(world.a.slug, f"members/{other}/link-email"), {"email": newcomer.email}
    ).get_json()["token"]
    assert world.api(newcomer).post(f"/api/v1/invitations/{token}/accept").status_code == 201
    second = world.api(newcomer).post(f"/api/v1/invitations/{token_other}/accept")
    assert problem(second)["code"] == "already_member"
    listed = coordinator.get(url(world.a.slug, "members")).get_json()["items"]
    assert next(i for i in listed if i["member_id"] == other)["managed"] is True
    # Another scheme's coordinator cannot link this member.
    assert (
        world.api(world.b.coordinator)
        .post(url(world.b.slug, f"members/{member_id}/link-email"), {"email": "q@example.test"})
        .status_code
        == 404
    )


def _upload(world: World, content: str) -> dict[str, Any]:
    api = world.api(world.a.coordinator)
    response = api.client.post(
        url(world.a.slug, "imports"),
        data={"file": (io.BytesIO(content.encode()), "class.csv")},
        headers=api._headers(None),
        content_type="multipart/form-data",
    )
    assert response.status_code == 202, response.get_json()
    progress: dict[str, Any] = api.get(
        url(world.a.slug, f"imports/{response.get_json()['id']}")
    ).get_json()
    return progress


def test_a_csv_without_emails_adds_managed_members_with_clear_row_errors(world: World) -> None:
    content = "\n".join(
        [
            "name,email,role,age_band",
            "Pat Pupil,,,11_15",
            ",,member,",  # row 3: no name, no e-mail
            "Cy Coord,,coordinator,",  # row 4: a coordinator needs an e-mail
            "Bad Band,,,toddler",  # row 5
            "Pat Pupil,,,",  # row 6: duplicate name
            "Real Person,real@example.test,member,",
        ]
    )
    progress = _upload(world, content)
    assert progress["status"] == "done" and progress["invited"] == 2
    assert {(e["row"], e["field"]) for e in progress["errors"]} == {
        (3, "name"),
        (4, "role"),
        (5, "age_band"),
        (6, "name"),
    }
    listed = world.api(world.a.coordinator).get(url(world.a.slug, "members")).get_json()["items"]
    pat = [i for i in listed if i["name"] == "Pat Pupil"]
    assert len(pat) == 1 and pat[0]["managed"] and pat[0]["age_band"] == "11_15"
    # The same file again adds nobody twice.
    again = _upload(world, content)
    assert again["invited"] == 0 and again["skipped"] == 2
    listed = world.api(world.a.coordinator).get(url(world.a.slug, "members")).get_json()["items"]
    assert len([i for i in listed if i["name"] == "Pat Pupil"]) == 1
    b_list = world.api(world.b.coordinator).get(url(world.b.slug, "members")).get_json()["items"]
    assert "Pat Pupil" not in [i["name"] for i in b_list]


def test_managed_members_take_every_existing_path(app: Flask, world: World) -> None:
    with app.app_context():
        before = active_member_count(world.a.id)
        b_before = active_member_count(world.b.id)
    member_id = add_managed(world, name="Eve Elder")
    eve = as_person(world, member_id)
    with app.app_context():
        assert active_member_count(world.a.id) == before + 1  # billing counts them
        assert active_member_count(world.b.id) == b_before
    coordinator = world.api(world.a.coordinator)
    # Claims and awards on their behalf.
    activity = coordinator.get(url(world.a.slug, "activities")).get_json()["items"][0]
    claim = coordinator.post(
        url(world.a.slug, "claims"),
        {
            "activity_id": activity["id"],
            "minutes": 60,
            "performed_on": date.today().isoformat(),
            "member_id": member_id,
        },
    )
    assert claim.status_code == 201, claim.get_json()
    award = coordinator.post(
        url(world.a.slug, "awards"),
        {"activity_id": activity["id"], "minutes": 30, "member_ids": [member_id]},
    )
    assert award.status_code == 201, award.get_json()
    # Statement CSV (coordinator on their behalf).
    csv = coordinator.get(url(world.a.slug, f"statement.csv?member_id={member_id}"))
    assert csv.status_code == 200 and csv.data.decode().count("\n") >= 2
    # Expiry: their credits lapse like anyone's, and no mail is attempted.
    with app.app_context(), tenancy.scheme_context(world.a.id):
        scheme = db.session.get(Scheme, world.a.id)
        assert scheme is not None
        far = date.today() + timedelta(days=5000)
        assert spending.send_expiry_notices(scheme, far - timedelta(days=3)) >= 0
        lapsed = spending.expire_credits(scheme, far)
        db.session.commit()
    assert lapsed >= 30
    assert (
        world.api(world.a.coordinator)
        .get(url(world.a.slug, f"balance?member_id={member_id}"))
        .get_json()["balance"]
        == 0
    )
    # Leave-and-settle by the coordinator.
    fund(app, world.a, eve, 45)
    settled = coordinator.post(
        url(world.a.slug, f"members/{member_id}/settle"),
        {"action": "write_off"},
        headers={"Idempotency-Key": "settle-eve"},
    )
    assert settled.status_code == 200, settled.get_json()
    assert settled.get_json()["status"] == "left"
    with app.app_context():
        assert active_member_count(world.a.id) == before
