"""Claims: exact crediting, approval by coordinators, acting on behalf, bad input, the queue."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from flask import Flask

from tests.factories import World, add_member, make_scheme, make_user, problem
from tests.tenants.earning.conftest import (
    activity_ids,
    assert_ledger_ok,
    audit_actions,
    balance,
    claim,
    counts,
    new_activity,
    url,
)


def read_mails(outbox: Path) -> list[EmailMessage]:
    return [
        message_from_bytes(path.read_bytes(), policy=policy.default)  # type: ignore[misc]
        for path in sorted(outbox.glob("*.eml"))
    ]


def plain_text(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())  # type: ignore[attr-defined]


def test_credited_minutes_round_half_up_exactly() -> None:
    from timebank.tenants.earning.services import credited_minutes

    assert credited_minutes(1, "0.5") == 1  # round() of the float would give 0
    assert credited_minutes(3, "1.5") == 5  # 4.5 → 5, not banker's 4
    assert credited_minutes(7, "0.1") == 1  # 0.7000000000000001 as a float
    assert credited_minutes(2, "0.25") == 1
    assert credited_minutes(5, "0.25") == 1  # 1.25 → 1
    assert credited_minutes(10, "0.25") == 3  # 2.5 → 3
    assert credited_minutes(2**31 - 1, "1") == 2**31 - 1


@pytest.mark.parametrize(
    ("rate", "minutes", "credited"),
    [
        ("1", 1, 1),
        ("1", 45, 45),
        ("1", 480, 480),
        ("1.5", 1, 2),  # 1.5 → 2
        ("1.5", 2, 3),
        ("1.5", 3, 5),  # 4.5 → 5
        ("1.5", 60, 90),
        ("0.25", 2, 1),  # 0.5 → 1
        ("0.25", 5, 1),  # 1.25 → 1
        ("0.25", 6, 2),  # 1.5 → 2
        ("0.25", 10, 3),  # 2.5 → 3
        ("0.25", 60, 15),
    ],
)
def test_auto_claims_credit_exactly(
    app: Flask, world: World, rate: str, minutes: int, credited: int
) -> None:
    member = world.a.members[0]
    activity_id = new_activity(world, world.a, rate=rate, approval="auto")
    response = claim(world, member, world.a, activity_id, minutes)
    assert response.status_code == 201, response.data
    body = response.get_json()
    assert body["status"] == "approved"
    assert body["minutes"] == minutes and body["credited_minutes"] == credited
    assert body["transaction_id"] is not None
    assert balance(world, world.a, member) == credited
    transaction = world.api(member).get(url(world.a, f"transactions/{body['transaction_id']}"))
    detail = transaction.get_json()
    assert detail["kind"] == "earn" and detail["amount"] == credited
    assert {(p["account"], p["amount"]) for p in detail["postings"]} == {
        ("issuance", -credited),
        ("member", credited),
    }
    assert counts(app, world.b.id)["claims"] == 0
    assert_ledger_ok(app)


def test_a_claim_too_short_to_earn_anything_is_refused(app: Flask, world: World) -> None:
    activity_id = new_activity(world, world.a, rate="0.25", approval="auto")
    response = claim(world, world.a.members[0], world.a, activity_id, 1)  # 0.25 → 0
    assert response.status_code == 422 and set(problem(response)["errors"]) == {"minutes"}
    assert counts(app, world.a.id)["claims"] == 0


def test_policy_approval_follows_the_policy(app: Flask, world: World) -> None:
    ids = activity_ids(world, world.a)  # community: the policy says auto
    auto = claim(world, world.a.members[0], world.a, ids["Helping a neighbour"], 60)
    assert auto.get_json()["status"] == "approved"
    waiting = claim(world, world.a.members[0], world.a, ids["Community clean-up day"], 60)
    assert waiting.get_json()["status"] == "pending"
    surgery = activity_ids(world, world.b)  # surgery: the policy says coordinator
    pending = claim(world, world.b.members[0], world.b, surgery["Home visit"], 60)
    assert pending.status_code == 201, pending.data
    assert pending.get_json() | {"id": 0, "created_at": ""} == {
        "id": 0,
        "created_at": "",
        "member_id": world.b.members[0].member_ids[world.b.slug],
        "activity_id": surgery["Home visit"],
        "minutes": 60,
        "credited_minutes": 60,
        "performed_on": (date.today() - timedelta(days=1)).isoformat(),
        "note": None,
        "status": "pending",
        "reason": None,
        "transaction_id": None,
        "entered_by": world.b.members[0].user_id,
        "decided_by": None,
        "decided_at": None,
        "warning": None,
    }
    assert balance(world, world.b, world.b.members[0]) == 0


def test_coordinator_approves_once_and_the_member_is_told(
    app: Flask, world: World, outbox: Path
) -> None:
    member = world.b.members[0]
    activity_id = activity_ids(world, world.b)["Lift to an appointment"]
    claim_id = claim(world, member, world.b, activity_id, 90).get_json()["id"]
    api = world.api(world.b.coordinator)
    approved = api.post(url(world.b, f"claims/{claim_id}/approve"))
    assert approved.status_code == 200, approved.data
    body = approved.get_json()
    assert body["status"] == "approved" and body["transaction_id"]
    assert body["decided_by"] == world.b.coordinator.user_id
    assert balance(world, world.b, member) == 90

    for again in (
        api.post(url(world.b, f"claims/{claim_id}/approve")),
        api.post(url(world.b, f"claims/{claim_id}/reject"), {"reason": "late"}),
    ):
        assert again.status_code == 422 and problem(again)["code"] == "already_decided"
    assert balance(world, world.b, member) == 90

    assert "claim.approved" in audit_actions(app, world.b.id)
    mails = read_mails(outbox)
    assert [(m["To"], m["Subject"]) for m in mails] == [
        (member.email, "Your hours for Lift to an appointment were approved")
    ]
    assert "1:30 hours" in plain_text(mails[0])
    assert counts(app, world.a.id)["claims"] == 0
    assert_ledger_ok(app)


def test_rejection_keeps_the_reason_for_the_member(app: Flask, world: World, outbox: Path) -> None:
    member = world.b.members[0]
    activity_id = activity_ids(world, world.b)["Home visit"]
    claim_id = claim(world, member, world.b, activity_id, 60).get_json()["id"]
    rejected = world.api(world.b.coordinator).post(
        url(world.b, f"claims/{claim_id}/reject"), {"reason": "That visit was cancelled."}
    )
    assert rejected.status_code == 200, rejected.data
    assert rejected.get_json()["status"] == "rejected"
    mine = world.api(member).get(url(world.b, "claims")).get_json()["items"]
    assert [(c["id"], c["status"], c["reason"], c["transaction_id"]) for c in mine] == [
        (claim_id, "rejected", "That visit was cancelled.", None)
    ]
    assert balance(world, world.b, member) == 0
    assert "claim.rejected" in audit_actions(app, world.b.id)
    (mail,) = read_mails(outbox)
    assert mail["Subject"] == "Your hours for Home visit were rejected"
    assert "That visit was cancelled." in plain_text(mail)
    again = world.api(world.b.coordinator).post(url(world.b, f"claims/{claim_id}/approve"))
    assert again.status_code == 422 and problem(again)["code"] == "already_decided"
    long_reason = world.api(world.b.coordinator).post(
        url(world.b, f"claims/{claim_id}/reject"), {"reason": "x" * 501}
    )
    assert long_reason.status_code == 422 and "reason" in problem(long_reason)["errors"]


def test_nobody_approves_their_own_claim(app: Flask, world: World) -> None:
    activity_id = activity_ids(world, world.b)["Home visit"]
    coordinator = world.b.coordinator
    own = claim(world, coordinator, world.b, activity_id, 60).get_json()
    assert own["status"] == "pending"
    refused = world.api(coordinator).post(url(world.b, f"claims/{own['id']}/approve"))
    assert refused.status_code == 403 and problem(refused)["code"] == "own_claim"

    member = world.b.members[0]
    member_claim = claim(world, member, world.b, activity_id, 30).get_json()["id"]
    self_approval = world.api(member).post(url(world.b, f"claims/{member_claim}/approve"))
    assert self_approval.status_code == 403 and problem(self_approval)["code"] == "own_claim"
    other = world.api(world.b.members[1]).post(url(world.b, f"claims/{member_claim}/approve"))
    assert other.status_code == 403 and problem(other)["code"] == "coordinator_only"
    assert balance(world, world.b, member) == 0

    # Another coordinator may approve the first coordinator's claim.
    second = make_user(app, name="Second Coordinator")
    add_member(app, world.b, second, role="coordinator")
    approved = world.api(second).post(url(world.b, f"claims/{own['id']}/approve"))
    assert approved.status_code == 200, approved.data
    assert balance(world, world.b, coordinator) == 60


def test_claims_of_another_scheme_are_404(app: Flask, world: World) -> None:
    activity_id = activity_ids(world, world.b)["Home visit"]
    claim_id = claim(world, world.b.members[0], world.b, activity_id, 60).get_json()["id"]
    api = world.api(world.a.coordinator)
    for path in (f"claims/{claim_id}/approve", f"claims/{claim_id}/reject"):
        in_own = api.post(url(world.a, path))
        assert in_own.status_code == 404 and problem(in_own)["code"] == "not_found"
        in_theirs = api.post(url(world.b, path))
        assert in_theirs.status_code == 404
    assert world.api(world.a.coordinator).get(url(world.a, "claims")).get_json()["items"] == []
    pending = world.api(world.b.coordinator).get(url(world.b, "claims?status=pending"))
    assert [c["id"] for c in pending.get_json()["items"]] == [claim_id]


def test_coordinator_logs_hours_on_behalf_of_a_member(app: Flask, world: World) -> None:
    coordinator, member = world.b.coordinator, world.b.members[0]
    member_id = member.member_ids[world.b.slug]
    activity_id = activity_ids(world, world.b)["Shopping for a neighbour"]
    response = claim(world, coordinator, world.b, activity_id, 45, member_id=member_id)
    assert response.status_code == 201, response.data
    body = response.get_json()
    assert body["member_id"] == member_id and body["entered_by"] == coordinator.user_id
    assert body["status"] == "pending"
    # Entered by the coordinator for someone else: not their own claim.
    approved = world.api(coordinator).post(url(world.b, f"claims/{body['id']}/approve"))
    assert approved.status_code == 200, approved.data
    assert balance(world, world.b, member) == 45
    assert balance(world, world.b, coordinator) == 0
    mine = world.api(member).get(url(world.b, "claims")).get_json()["items"]
    assert [c["entered_by"] for c in mine] == [coordinator.user_id]
    assert "claim.entered_on_behalf" in audit_actions(app, world.b.id)

    # A member may name only themselves.
    other = world.b.members[1]
    refused = claim(world, other, world.b, activity_id, 45, member_id=member_id)
    assert refused.status_code == 403 and problem(refused)["code"] == "coordinator_only"
    self_named = claim(
        world, other, world.b, activity_id, 45, member_id=other.member_ids[world.b.slug]
    )
    assert self_named.status_code == 201, self_named.data
    # A coordinator cannot name a member of another scheme.
    foreign = claim(
        world,
        coordinator,
        world.b,
        activity_id,
        45,
        member_id=world.a.members[0].member_ids[world.a.slug],
    )
    assert foreign.status_code == 422 and set(problem(foreign)["errors"]) == {"member_id"}
    assert counts(app, world.a.id)["claims"] == 0


def test_bad_claims_name_the_field_and_write_nothing(app: Flask, world: World) -> None:
    member = world.a.members[0]
    ids = activity_ids(world, world.a)
    helping = ids["Helping a neighbour"]
    retired = new_activity(world, world.a, active=False)
    noted = new_activity(world, world.a, requires_note=True, approval="auto")
    b_activity = next(iter(activity_ids(world, world.b).values()))
    tomorrow = datetime.now(ZoneInfo("Europe/London")).date() + timedelta(days=1)
    too_old = date.today() - timedelta(days=62)  # community: 60 days
    before_a, before_b = counts(app, world.a.id), counts(app, world.b.id)
    cases = [
        ({"minutes": 0}, "minutes"),
        ({"minutes": -30}, "minutes"),
        ({"minutes": "60"}, "minutes"),
        ({"minutes": 1.5}, "minutes"),
        ({"performed_on": tomorrow.isoformat()}, "performed_on"),
        ({"performed_on": too_old.isoformat()}, "performed_on"),
        ({"performed_on": "yesterday"}, "performed_on"),
        ({"activity_id": 999_999}, "activity_id"),
        ({"activity_id": retired}, "activity_id"),
        ({"activity_id": b_activity}, "activity_id"),
        ({"activity_id": "abc"}, "activity_id"),
        ({"activity_id": noted}, "note"),
        ({"activity_id": noted, "note": "   "}, "note"),
        ({"note": "n" * 501}, "note"),
        ({"status": "approved"}, "status"),
    ]
    for change, field in cases:
        body = {
            "activity_id": helping,
            "minutes": 60,
            "performed_on": (date.today() - timedelta(days=1)).isoformat(),
            **change,
        }
        response = world.api(member).post(url(world.a, "claims"), body)
        assert response.status_code == 422, (change, response.data)
        errors = problem(response)["errors"]
        assert set(errors) == {field}, (change, errors)
    missing = world.api(member).post(url(world.a, "claims"), {})
    assert set(problem(missing)["errors"]) == {"activity_id", "minutes", "performed_on"}
    assert counts(app, world.a.id) == before_a
    assert counts(app, world.b.id) == before_b
    assert balance(world, world.a, member) == 0
    with_note = claim(world, member, world.a, noted, 30, note="Read to Mrs Patel")
    assert with_note.status_code == 201 and with_note.get_json()["note"] == "Read to Mrs Patel"


def test_policy_rules_refuse_claims(app: Flask, world: World) -> None:
    member = world.a.members[0]
    helping = activity_ids(world, world.a)["Helping a neighbour"]
    too_long = claim(world, member, world.a, helping, 481)  # community: 480 per claim
    assert too_long.status_code == 422
    body = problem(too_long)
    assert body["code"] == "claim_too_long" and body["max_minutes_per_claim"] == 480
    assert claim(world, member, world.a, helping, 480).status_code == 201

    closed = make_scheme(app, make_user(app), policy={"claims": {"enabled": False}})
    add_member(app, closed, person := make_user(app))
    activity_id = next(iter(activity_ids(world, closed).values()))
    refused = claim(world, person, closed, activity_id, 60)
    assert refused.status_code == 422 and problem(refused)["code"] == "claims_disabled"
    assert counts(app, closed.id)["claims"] == 0


def test_future_means_the_schemes_own_today(app: Flask, world: World) -> None:
    """Kiritimati (UTC+14) is always ahead of Pago Pago (UTC−11) by a calendar day or more."""
    ahead_today = datetime.now(ZoneInfo("Pacific/Kiritimati")).date()
    results = {}
    for timezone in ("Pacific/Kiritimati", "Pacific/Pago_Pago"):
        coordinator = make_user(app)
        slug = f"tz-{timezone.split('/')[1].lower().replace('_', '-')}"
        created = world.api(coordinator).post(
            "/api/v1/schemes",
            {"name": slug, "slug": slug, "template": "community", "timezone": timezone},
        )
        assert created.status_code == 201, created.data
        api = world.api(coordinator)
        activity_id = api.post(
            f"/api/v1/schemes/{slug}/activities", {"name": "Help", "approval": "auto"}
        ).get_json()["id"]
        response = api.post(
            f"/api/v1/schemes/{slug}/claims",
            {"activity_id": activity_id, "minutes": 30, "performed_on": ahead_today.isoformat()},
        )
        results[timezone] = response.status_code
        if response.status_code == 422:
            assert set(problem(response)["errors"]) == {"performed_on"}
    assert results == {"Pacific/Kiritimati": 201, "Pacific/Pago_Pago": 422}


def test_claims_list_queue_and_pagination(app: Flask, world: World) -> None:
    ann, arthur = world.b.members
    activity_id = activity_ids(world, world.b)["Home visit"]
    made = []
    for person, minutes in ((ann, 10), (arthur, 20), (ann, 30), (arthur, 40), (ann, 50)):
        made.append(claim(world, person, world.b, activity_id, minutes).get_json()["id"])
    coordinator = world.api(world.b.coordinator)
    coordinator.post(url(world.b, f"claims/{made[1]}/approve"))

    seen, cursor = [], None
    while True:
        query = "claims?status=pending&limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = coordinator.get(url(world.b, query)).get_json()
        assert len(page["items"]) <= 2
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [made[0], made[2], made[3], made[4]]  # oldest first, no approved one

    everything = coordinator.get(url(world.b, "claims")).get_json()["items"]
    assert [c["id"] for c in everything] == made[::-1]  # newest first
    ann_id = ann.member_ids[world.b.slug]
    filtered = coordinator.get(url(world.b, f"claims?member_id={ann_id}")).get_json()["items"]
    assert {c["member_id"] for c in filtered} == {ann_id} and len(filtered) == 3

    own = world.api(ann).get(url(world.b, "claims")).get_json()["items"]
    assert [c["id"] for c in own] == [made[4], made[2], made[0]]
    arthur_id = arthur.member_ids[world.b.slug]
    peek = world.api(ann).get(url(world.b, f"claims?member_id={arthur_id}"))
    assert peek.status_code == 403 and problem(peek)["code"] == "coordinator_only"
    for bad in ("status=done", "limit=0", "limit=201", "cursor=%%%"):
        response = coordinator.get(url(world.b, f"claims?{bad}"))
        assert response.status_code == 422, (bad, response.data)
        assert set(problem(response)["errors"]) == {bad.split("=")[0]}
    assert world.api(world.a.coordinator).get(url(world.a, "claims")).get_json()["items"] == []


def test_claims_are_idempotent(app: Flask, world: World) -> None:
    member = world.a.members[0]
    helping = activity_ids(world, world.a)["Helping a neighbour"]
    headers = {"Idempotency-Key": "claim-1"}
    first = claim(world, member, world.a, helping, 60, headers=headers)
    again = claim(world, member, world.a, helping, 60, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.get_json() == again.get_json()
    assert balance(world, world.a, member) == 60
    assert counts(app, world.a.id)["claims"] == 1
