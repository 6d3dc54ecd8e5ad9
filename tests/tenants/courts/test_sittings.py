"""Youth court sittings through the API: schedule, rota, attendance, one credit, no second."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask

from tests.factories import problem
from tests.tenants.courts.conftest import (
    Court,
    balance,
    ledger_rows,
    local_today,
    make_court,
    tomorrow_at,
)


def schedule(court: Court, **body: Any) -> dict[str, Any]:
    response = court.world.api(court.coordinator).post(
        court.url("sittings"), {"starts_at": tomorrow_at(), "place": "Town hall", **body}
    )
    assert response.status_code == 201, response.data
    return dict(response.get_json())


def role_ids(sitting: dict[str, Any]) -> dict[str, int]:
    return {role["name"]: role["id"] for role in sitting["roles"]}


def assign(court: Court, sitting_id: int, member_id: int, role_id: int) -> Any:
    return court.world.api(court.coordinator).post(
        court.url(f"sittings/{sitting_id}/assignments"),
        {"member_id": member_id, "role_id": role_id},
    )


def test_sitting_credits_the_present_at_their_rates_once(app: Flask, court: Court) -> None:
    sitting = schedule(court)
    assert sitting["status"] == "scheduled"
    roles = role_ids(sitting)
    assert list(roles) == ["Juror", "Clerk", "Bailiff", "Youth advocate"]  # the template's
    people = court.members[:5]
    rota = ["Juror", "Juror", "Clerk", "Bailiff", "Youth advocate"]
    for person, role in zip(people, rota, strict=True):
        response = assign(court, sitting["id"], court.member_id(person), roles[role])
        assert response.status_code == 201, response.data
    absent = people[1]
    present = [court.member_id(p) for p in people if p is not absent]
    api = court.world.api(court.coordinator)
    response = api.post(court.url(f"sittings/{sitting['id']}/attendance"), {"present": present})
    assert response.status_code == 200, response.data
    marks = {a["member_id"]: a["present"] for a in response.get_json()["assignments"]}
    assert marks[court.member_id(absent)] is False and sum(marks.values()) == 4

    before_other = ledger_rows(app, court.other.id)
    credit = court.url(f"sittings/{sitting['id']}/credit")
    first = api.post(credit, headers={"Idempotency-Key": "sitting-1"})
    assert first.status_code == 201, first.data
    transactions = first.get_json()["transactions"]
    assert len(transactions) == 4
    assert all(t["kind"] == "earn" for t in transactions)
    expected = {"Juror": 120, "Clerk": 150, "Bailiff": 120, "Youth advocate": 180}
    for person, role in zip(people, rota, strict=True):
        assert balance(court, person) == (0 if person is absent else expected[role]), role
    rows = ledger_rows(app, court.scheme.id)

    replay = api.post(credit, headers={"Idempotency-Key": "sitting-1"})
    assert replay.status_code == 201 and replay.get_json() == first.get_json()
    again = api.post(credit, headers={"Idempotency-Key": "sitting-2"})
    assert again.status_code == 422
    assert problem(again)["code"] == "already_credited"
    assert ledger_rows(app, court.scheme.id) == rows
    assert [balance(court, p) for p in people] == [120, 0, 150, 120, 180]
    assert ledger_rows(app, court.other.id) == before_other

    shown = api.get(court.url(f"sittings/{sitting['id']}")).get_json()
    assert shown["status"] == "credited"
    credited = {a["member_id"]: a["transaction_id"] for a in shown["assignments"]}
    assert credited[court.member_id(absent)] is None
    assert sorted(t for t in credited.values() if t) == sorted(t["id"] for t in transactions)
    # After credit the rota and attendance are closed.
    late = api.post(court.url(f"sittings/{sitting['id']}/attendance"), {"present": []})
    assert problem(late)["code"] == "already_credited"


def test_rota_rules(court: Court) -> None:
    sitting = schedule(court, roles=[{"name": "Clerk", "minutes": 90, "places": 1}])
    clerk = sitting["roles"][0]["id"]
    ann, ben, cat = court.members[:3]
    assert assign(court, sitting["id"], court.member_id(ann), clerk).status_code == 201
    full = assign(court, sitting["id"], court.member_id(ben), clerk)
    assert full.status_code == 422 and problem(full)["code"] == "role_full"
    twice = assign(court, sitting["id"], court.member_id(ann), clerk)
    assert problem(twice)["code"] in {"already_assigned", "role_full"}
    other_member = court.member_id(court.other.members[0], court.other)
    stranger = assign(court, sitting["id"], other_member, clerk)
    assert stranger.status_code == 422 and "member_id" in problem(stranger)["errors"]
    other_sitting = schedule(court)
    wrong_role = assign(court, other_sitting["id"], court.member_id(ben), clerk)
    assert wrong_role.status_code == 422 and "role_id" in problem(wrong_role)["errors"]
    api = court.world.api(court.coordinator)
    early = api.post(court.url(f"sittings/{sitting['id']}/credit"))
    assert problem(early)["code"] == "attendance_not_recorded"
    bad = api.post(
        court.url(f"sittings/{sitting['id']}/attendance"),
        {"present": [court.member_id(ann), court.member_id(cat)]},
    )
    assert bad.status_code == 422 and list(problem(bad)["errors"]) == ["present.1"]
    nobody = api.post(court.url(f"sittings/{sitting['id']}/attendance"), {"present": []})
    assert nobody.status_code == 200
    assert problem(api.post(court.url(f"sittings/{sitting['id']}/credit")))["code"] == (
        "nobody_present"
    )
    duplicate = api.post(
        court.url("sittings"),
        {
            "starts_at": tomorrow_at(),
            "roles": [
                {"name": "Juror", "minutes": 60, "places": 2},
                {"name": "juror", "minutes": 60, "places": 2},
            ],
        },
    )
    assert duplicate.status_code == 422 and "roles.1.name" in problem(duplicate)["errors"]
    removed = api.client.delete(
        court.url(f"sittings/{sitting['id']}/assignments/{court.member_id(ann)}"),
        headers=court.coordinator.headers,
    )
    assert removed.status_code == 204


def test_members_sign_up_and_see_their_role_but_not_the_rota(court: Court) -> None:
    sitting = schedule(court)
    roles = role_ids(sitting)
    ann, ben = court.members[:2]
    assert assign(court, sitting["id"], court.member_id(ben), roles["Clerk"]).status_code == 201
    member = court.world.api(ann)
    taken = member.post(court.url(f"sittings/{sitting['id']}/signup"), {"role_id": roles["Clerk"]})
    assert problem(taken)["code"] == "role_full"
    signed = member.post(court.url(f"sittings/{sitting['id']}/signup"), {"role_id": roles["Juror"]})
    assert signed.status_code == 201 and signed.get_json()["signed_up"] is True
    listed = member.get(court.url("sittings")).get_json()["items"]
    assert [(s["id"], s["my_role"], s["assignments"]) for s in listed] == [
        (sitting["id"], "Juror", [])
    ]
    # Members may not draw up the rota, record attendance or credit.
    for path, body in (
        (f"sittings/{sitting['id']}/assignments", {"member_id": 1, "role_id": 1}),
        (f"sittings/{sitting['id']}/attendance", {"present": []}),
        (f"sittings/{sitting['id']}/credit", {}),
        ("sittings", {"starts_at": tomorrow_at()}),
    ):
        assert problem(member.post(court.url(path), body))["code"] == "coordinator_only"
    gone = member.client.delete(court.url(f"sittings/{sitting['id']}/signup"), headers=ann.headers)
    assert gone.status_code == 204
    assert member.get(court.url("sittings")).get_json()["items"][0]["my_role"] is None


def test_self_signup_off_and_sittings_off(app: Flask, court: Court) -> None:
    strict = make_court(app, "strict-court", "Strict Court", sittings={"self_signup": False})
    coordinator = court.world.api(strict.coordinator)
    created = coordinator.post(
        f"/api/v1/schemes/{strict.slug}/sittings", {"starts_at": tomorrow_at()}
    ).get_json()
    refused = court.world.api(strict.members[0]).post(
        f"/api/v1/schemes/{strict.slug}/sittings/{created['id']}/signup",
        {"role_id": created["roles"][0]["id"]},
    )
    assert refused.status_code == 403 and problem(refused)["code"] == "self_signup_disabled"
    alpha = court.world.a  # a community scheme: no sittings unless its rules say so
    off = court.world.api(alpha.coordinator).post(
        f"/api/v1/schemes/{alpha.slug}/sittings", {"starts_at": tomorrow_at()}
    )
    assert off.status_code == 403 and problem(off)["code"] == "sittings_disabled"
    listing = court.world.api(alpha.members[0]).get(f"/api/v1/schemes/{alpha.slug}/sittings")
    assert problem(listing)["code"] == "sittings_disabled"


def test_other_schemes_see_nothing(court: Court) -> None:
    sitting = schedule(court)
    roles = role_ids(sitting)
    other = court.world.api(court.other.coordinator)
    own_slug = court.url(f"sittings/{sitting['id']}", court.other)
    assert other.get(own_slug).status_code == 404  # the id is not theirs
    assert other.get(court.url(f"sittings/{sitting['id']}")).status_code == 404  # not a member
    for path in ("assignments", "attendance", "credit"):
        response = other.post(court.url(f"sittings/{sitting['id']}/{path}", court.other), {})
        assert response.status_code in {404, 422}, path
        if response.status_code == 422:  # the body was refused before the id was looked up
            response = other.post(
                court.url(f"sittings/{sitting['id']}/{path}", court.other),
                {"member_id": 1, "role_id": roles["Juror"]}
                if path == "assignments"
                else {"present": []},
            )
        assert response.status_code == 404, (path, response.data)
    assert other.get(court.url("sittings", court.other)).get_json()["items"] == []


def test_reminder_mail_the_day_before_once(app: Flask, court: Court, outbox: Path) -> None:
    from timebank.tenants.courts.jobs import send_sitting_reminders

    sitting = schedule(court)
    ann = court.members[0]
    assert (
        assign(court, sitting["id"], court.member_id(ann), role_ids(sitting)["Juror"]).status_code
        == 201
    )
    later = schedule(court, starts_at=tomorrow_at(10))  # the same day, nobody on its rota yet
    today = local_today().isoformat()
    with app.app_context():
        first = send_sitting_reminders(court.scheme.id, today)
        second = send_sitting_reminders(court.scheme.id, today)
        yesterday = (local_today() - timedelta(days=1)).isoformat()
        nothing = send_sitting_reminders(court.other.id, yesterday)
    assert first == 2 and second == 0 and nothing == 0
    mails = [p.read_text() for p in outbox.glob("*.eml")]
    to_ann = [m for m in mails if ann.email in m]
    assert len(to_ann) == 1 and "Juror" in to_ann[0]
    assert later["id"] != sitting["id"]


def test_a_cancelled_sitting_is_neither_reminded_nor_credited(court: Court) -> None:
    sitting = schedule(court)
    ann = court.members[0]
    juror = role_ids(sitting)["Juror"]
    assert assign(court, sitting["id"], court.member_id(ann), juror).status_code == 201
    api = court.world.api(court.coordinator)
    cancelled = api.post(court.url(f"sittings/{sitting['id']}/cancel"))
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    for path, body in (
        ("attendance", {"present": [court.member_id(ann)]}),
        ("credit", {}),
        ("cancel", {}),
    ):
        refused = api.post(court.url(f"sittings/{sitting['id']}/{path}"), body)
        assert problem(refused)["code"] == "sitting_cancelled", path
    assert problem(assign(court, sitting["id"], court.member_id(court.members[1]), juror))[
        "code"
    ] == ("sitting_cancelled")
    assert court.world.api(ann).get(court.url("sittings")).get_json()["items"] == []
    assert balance(court, ann) == 0
