"""Children, guardians' consent and safeguarding checks, as the live rules enforce them.

A minor without consent earns nothing (claims and awards refused, an award with
them credits nobody); consent given → allowed; withdrawn → refused again. A
guardian reads their child's balance and transactions and nothing else; other
guardians and other schemes see nothing. An adult without a valid check is
refused an activity marked "with children" (``check_expired``).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask

from tests.factories import Person, SchemeInfo, World, add_member, make_scheme, make_user, problem

TODAY = date.today().isoformat()


def url(scheme: SchemeInfo, path: str) -> str:
    return f"/api/v1/schemes/{scheme.slug}/{path}"


@pytest.fixture
def school(app: Flask, world: World) -> SchemeInfo:
    teacher = make_user(app, name="Tess Teacher")
    scheme = make_scheme(
        app,
        teacher,
        slug="oak-school",
        template="school",
        name="Oak School",
        policy={"claims": {"approval": "auto", "cap": None}},
    )
    add_member(app, scheme, make_user(app, name="Adam Adult"))
    return scheme


def add_child(world: World, school: SchemeInfo, name: str, **age: Any) -> int:
    response = world.api(school.coordinator).post(url(school, "members"), {"name": name, **age})
    assert response.status_code == 201, response.get_json()
    return int(response.get_json()["member_id"])


def activity(world: World, school: SchemeInfo, **extra: Any) -> int:
    response = world.api(school.coordinator).post(
        url(school, "activities"), {"name": "Reading with a pupil", "approval": "auto", **extra}
    )
    assert response.status_code == 201, response.get_json()
    return int(response.get_json()["id"])


def award(world: World, school: SchemeInfo, activity_id: int, member_ids: list[int]) -> Any:
    return world.api(school.coordinator).post(
        url(school, "awards"),
        {"activity_id": activity_id, "minutes": 60, "member_ids": member_ids},
    )


def claim_for(world: World, school: SchemeInfo, activity_id: int, member_id: int) -> Any:
    return world.api(school.coordinator).post(
        url(school, "claims"),
        {"activity_id": activity_id, "minutes": 30, "performed_on": TODAY, "member_id": member_id},
    )


def balance_of(world: World, school: SchemeInfo, member_id: int) -> int:
    body = world.api(school.coordinator).get(url(school, f"balance?member_id={member_id}"))
    return int(body.get_json()["balance"])


def make_guardian(world: World, school: SchemeInfo, child_id: int, name: str) -> Person:
    guardian = make_user(world.app, name=name)
    invited = world.api(school.coordinator).post(
        url(school, f"members/{child_id}/guardians"), {"email": guardian.email}
    )
    assert invited.status_code == 201, invited.get_json()
    accepted = world.api(guardian).post(f"/api/v1/invitations/{invited.get_json()['token']}/accept")
    assert accepted.status_code == 201, accepted.get_json()
    assert accepted.get_json() == {
        **accepted.get_json(),
        "scheme": school.slug,
        "role": "guardian",
        "member_id": child_id,
    }
    return guardian


def consent(world: World, school: SchemeInfo, guardian: Person, child_id: int, given: bool) -> Any:
    return world.api(guardian).post(url(school, f"members/{child_id}/consent"), {"given": given})


def test_a_minor_earns_nothing_without_consent(world: World, school: SchemeInfo) -> None:
    kid = add_child(world, school, "Kit Young", age_band="11_15")
    born = (date.today() - timedelta(days=365 * 9)).isoformat()
    small = add_child(world, school, "Sol Small", date_of_birth=born)
    adam = school.members[0].member_ids[school.slug]
    reading = activity(world, school)
    listed = world.api(school.coordinator).get(url(school, "members")).get_json()["items"]
    states = {item["member_id"]: (item["age_band"], item["consent"]) for item in listed}
    assert states[kid] == ("11_15", "required")
    assert states[small] == ("under_11", "required")
    assert states[adam] == (None, "not_needed")

    refused = award(world, school, reading, [adam, kid])
    body = problem(refused)
    assert body["code"] == "guardian_consent_required" and "Kit Young" in body["detail"]
    assert balance_of(world, school, adam) == 0  # the award credited nobody
    assert problem(claim_for(world, school, reading, kid))["code"] == "guardian_consent_required"

    parent = make_guardian(world, school, kid, "Pam Parent")
    assert consent(world, school, parent, kid, True).get_json()["consent"] == "given"
    assert award(world, school, reading, [adam, kid]).status_code == 201
    assert claim_for(world, school, reading, kid).status_code == 201
    assert balance_of(world, school, kid) == 90 and balance_of(world, school, adam) == 60

    withdrawn = consent(world, school, parent, kid, False).get_json()
    assert withdrawn["consent"] == "withdrawn" and withdrawn["at"]
    assert problem(award(world, school, reading, [kid]))["code"] == "guardian_consent_required"
    assert problem(claim_for(world, school, reading, kid))["code"] == "guardian_consent_required"
    assert balance_of(world, school, kid) == 90
    # The parent's consent does not reach another child.
    assert problem(consent(world, school, parent, small, True))["status"] == 404


def test_a_guardian_reads_their_childs_records_and_nothing_else(
    world: World, school: SchemeInfo
) -> None:
    kid = add_child(world, school, "Kit Young", age_band="11_15")
    other_kid = add_child(world, school, "Ola Other", age_band="under_11")
    adam = school.members[0].member_ids[school.slug]
    parent = make_guardian(world, school, kid, "Pam Parent")
    other_parent = make_guardian(world, school, other_kid, "Otto Parent")
    consent(world, school, parent, kid, True)
    award(world, school, activity(world, school), [kid])
    api = world.api(parent)

    own = api.get(url(school, f"balance?member_id={kid}"))
    assert own.status_code == 200 and own.get_json()["balance"] == 60
    history = api.get(url(school, f"transactions?member_id={kid}")).get_json()["items"]
    assert [t["kind"] for t in history] == ["earn"]
    # Nobody else's, and nothing else of the scheme: 404 as for a stranger.
    for path in (
        f"balance?member_id={other_kid}",
        f"balance?member_id={adam}",
        f"transactions?member_id={other_kid}",
        "balance",
        "transactions",
        "members",
        "activities",
        f"statement.csv?member_id={kid}",
    ):
        assert problem(api.get(url(school, path)))["status"] == 404, path
    assert problem(api.post(url(school, "members"), {"name": "X"}))["status"] == 404
    # The other guardian sees only their own child.
    assert world.api(other_parent).get(url(school, f"balance?member_id={kid}")).status_code == 404
    assert consent(world, school, other_parent, kid, False).status_code == 404
    # Another scheme: nothing (not the child, not the scheme).
    assert api.get(url(world.a, f"balance?member_id={kid}")).status_code == 404
    b_coordinator = world.api(world.b.coordinator)
    assert b_coordinator.get(url(school, f"balance?member_id={kid}")).status_code == 404
    b_members = b_coordinator.get(url(world.b, "members")).get_json()["items"]
    assert "Pam Parent" not in [item["name"] for item in b_members]
    # Guardians are not members: not listed, not counted.
    listed = world.api(school.coordinator).get(url(school, "members")).get_json()["items"]
    assert "Pam Parent" not in [item["name"] for item in listed]
    assert [m["scheme"] for m in api.get("/api/v1/me").get_json()["memberships"]] == []


def test_minors_cannot_pay_or_be_paid_when_the_policy_says_so(
    world: World, school: SchemeInfo
) -> None:
    coordinator = world.api(school.coordinator)
    policy = coordinator.get(url(school, "policy")).get_json()
    assert policy["minors"] == {
        "consent_below_age": 16,
        "peer_transfers": False,
        "max_minutes_per_day": None,
        "approved_activities_only": False,
    }
    policy["peer_transfers"]["enabled"] = True
    policy["minors"]["max_minutes_per_day"] = 45
    policy.pop("version", None)
    assert coordinator.put(url(school, "policy"), policy).status_code == 200
    teen = add_child(world, school, "Tia Teen", age_band="16_17")  # no consent needed at 16
    adam = school.members[0]
    reading = activity(world, school)
    assert claim_for(world, school, reading, teen).status_code == 201  # 30 of 45 minutes
    assert problem(claim_for(world, school, reading, teen))["code"] == "minor_daily_limit"
    paid = world.api(adam).post(url(school, "transfers"), {"to_member_id": teen, "amount": 10})
    assert problem(paid)["code"] == "minor_transfers_disabled"


def test_an_adult_without_a_valid_check_is_refused_work_with_children(
    world: World, school: SchemeInfo
) -> None:
    adam = school.members[0].member_ids[school.slug]
    mentoring = activity(world, school, with_children=True)
    refused = problem(award(world, school, mentoring, [adam]))
    assert refused["code"] == "check_expired"
    assert "Adam Adult" in refused["detail"] and "safeguarding check" in refused["detail"]
    assert problem(claim_for(world, school, mentoring, adam))["code"] == "check_expired"

    coordinator = world.api(school.coordinator)
    expired = {"kind": "DBS", "number": "001234", "expires_on": "2020-01-01"}
    recorded = coordinator.put(url(school, f"members/{adam}/check"), expired)
    assert recorded.status_code == 200 and recorded.get_json()["valid"] is False
    assert problem(award(world, school, mentoring, [adam]))["code"] == "check_expired"

    renewed = {**expired, "expires_on": (date.today() + timedelta(days=20)).isoformat()}
    assert coordinator.put(url(school, f"members/{adam}/check"), renewed).get_json()["valid"]
    assert award(world, school, mentoring, [adam]).status_code == 201
    # Children themselves need no check (with consent given).
    kid = add_child(world, school, "Kit Young", age_band="11_15")
    consent(world, school, make_guardian(world, school, kid, "Pam Parent"), kid, True)
    assert award(world, school, mentoring, [kid]).status_code == 201
    # Only coordinators record checks; another scheme's coordinator gets 404.
    member = world.api(school.members[0])
    assert member.put(url(school, f"members/{adam}/check"), renewed).status_code == 403
    other = world.api(world.b.coordinator).put(url(school, f"members/{adam}/check"), renewed)
    assert other.status_code == 404
    bad = coordinator.put(url(school, f"members/{adam}/check"), {**renewed, "expires_on": "x"})
    assert "expires_on" in problem(bad)["errors"]
