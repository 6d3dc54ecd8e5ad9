"""A guardian named at enrolment (API and CSV import), invited in the same unit of work.

The invitation's token goes to the coordinator only (as ``POST …/guardians``);
accepted, it makes its holder the child's guardian and nobody else's; another
scheme sees neither the child nor the invitation.
"""

from __future__ import annotations

import io
from datetime import date
from typing import Any

from sqlalchemy import select

from tests.factories import Person, World, make_user, problem
from timebank.platform import tenancy
from timebank.platform.db import db
from timebank.tenants.memberships.models import Invitation


def url(slug: str, path: str) -> str:
    return f"/api/v1/schemes/{slug}/{path}"


def guardian_invitations(world: World, scheme_id: int) -> list[tuple[str, int | None]]:
    with world.app.app_context(), tenancy.scheme_context(scheme_id):
        rows = db.session.execute(
            select(Invitation.email, Invitation.member_id)
            .where(Invitation.role == "guardian")
            .order_by(Invitation.id)
        ).all()
    return [(email, member_id) for email, member_id in rows]


def test_a_guardian_named_at_enrolment_is_invited_and_can_consent(world: World) -> None:
    coordinator = world.api(world.a.coordinator)
    parent = make_user(world.app, name="Pam Parent")
    added = coordinator.post(
        url(world.a.slug, "members"),
        {"name": "Kit Young", "age_band": "11_15", "guardian_email": parent.email},
    )
    assert added.status_code == 201, added.get_json()
    body = added.get_json()
    kid = body["member_id"]
    assert body["guardian_invitation"]["expires_at"] and body["guardian_invitation"]["token"]
    assert guardian_invitations(world, world.a.id) == [(parent.email, kid)]

    accepted = world.api(parent).post(
        f"/api/v1/invitations/{body['guardian_invitation']['token']}/accept"
    )
    assert accepted.status_code == 201, accepted.get_json()
    assert accepted.get_json()["member_id"] == kid and accepted.get_json()["role"] == "guardian"
    given = world.api(parent).post(url(world.a.slug, f"members/{kid}/consent"), {"given": True})
    assert given.get_json()["consent"] == "given"
    assert world.api(parent).get(url(world.a.slug, f"balance?member_id={kid}")).status_code == 200

    # Without a guardian: no invitation, and the field is null.
    alone = coordinator.post(url(world.a.slug, "members"), {"name": "Sol Small"}).get_json()
    assert alone["guardian_invitation"] is None
    # The guardian of one child is nobody else's guardian.
    other = alone["member_id"]
    assert world.api(parent).get(url(world.a.slug, f"balance?member_id={other}")).status_code == 404
    # Another scheme: its coordinator cannot enrol into this scheme, nor see the child.
    b = world.api(world.b.coordinator)
    sent = b.post(url(world.a.slug, "members"), {"name": "X", "guardian_email": "x@example.test"})
    assert sent.status_code == 404
    assert b.get(url(world.a.slug, f"balance?member_id={kid}")).status_code == 404
    assert guardian_invitations(world, world.b.id) == []
    assert world.api(parent).get(url(world.b.slug, "balance")).status_code in (403, 404)


def test_a_bad_guardian_email_adds_nobody(world: World) -> None:
    coordinator = world.api(world.a.coordinator)
    before = len(coordinator.get(url(world.a.slug, "members")).get_json()["items"])
    refused = coordinator.post(
        url(world.a.slug, "members"), {"name": "Kit Young", "guardian_email": "not-an-address"}
    )
    assert "guardian_email" in problem(refused)["errors"]
    assert len(coordinator.get(url(world.a.slug, "members")).get_json()["items"]) == before
    assert guardian_invitations(world, world.a.id) == []


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


def test_the_csv_import_invites_the_guardians_it_names(world: World) -> None:
    content = "\n".join(
        [
            "name,email,role,age_band,guardian_email",
            "Pat Pupil,,,11_15,pat.parent@example.test",
            "Sam Pupil,,,under_11,",
            "Ann Adult,ann@example.test,member,,ann.parent@example.test",  # row 4: has an e-mail
            "Bo Pupil,,,11_15,nonsense",  # row 5
        ]
    )
    progress = _upload(world, content)
    assert progress["status"] == "done" and progress["invited"] == 2
    assert {(e["row"], e["field"]) for e in progress["errors"]} == {
        (4, "guardian_email"),
        (5, "guardian_email"),
    }
    listed = world.api(world.a.coordinator).get(url(world.a.slug, "members")).get_json()["items"]
    pat = next(item["member_id"] for item in listed if item["name"] == "Pat Pupil")
    assert guardian_invitations(world, world.a.id) == [("pat.parent@example.test", pat)]
    assert guardian_invitations(world, world.b.id) == []
    # Run twice: Pat is skipped, so nobody is invited twice.
    again = _upload(world, content)
    assert again["invited"] == 0
    assert len(guardian_invitations(world, world.a.id)) == 1


def _set_minors_policy(world: World, **minors: Any) -> None:
    coordinator = world.api(world.a.coordinator)
    policy = coordinator.get(url(world.a.slug, "policy")).get_json()
    policy["minors"].update(minors)
    policy["claims"]["approval"] = "auto"
    policy["claims"]["cap"] = None
    policy.pop("version", None)
    saved = coordinator.put(url(world.a.slug, "policy"), policy)
    assert saved.status_code == 200, saved.get_json()


def _activity(world: World, **extra: Any) -> int:
    made = world.api(world.a.coordinator).post(
        url(world.a.slug, "activities"), {"name": "Reading", "approval": "auto", **extra}
    )
    assert made.status_code == 201, made.get_json()
    return int(made.get_json()["id"])


def test_the_daily_limit_of_minors_counts_awards_as_well_as_claims(world: World) -> None:
    _set_minors_policy(world, max_minutes_per_day=90)
    coordinator = world.api(world.a.coordinator)
    teen = coordinator.post(url(world.a.slug, "members"), {"name": "Tia", "age_band": "16_17"})
    teen_id = teen.get_json()["member_id"]
    adult = world.a.members[0].member_ids[world.a.slug]
    reading = _activity(world)

    def award(minutes: int, member_ids: list[int]) -> Any:
        return coordinator.post(
            url(world.a.slug, "awards"),
            {"activity_id": reading, "minutes": minutes, "member_ids": member_ids},
        )

    def claim(minutes: int) -> Any:
        return coordinator.post(
            url(world.a.slug, "claims"),
            {
                "activity_id": reading,
                "minutes": minutes,
                "performed_on": date.today().isoformat(),
                "member_id": teen_id,
            },
        )

    assert award(60, [teen_id]).status_code == 201
    refused = problem(award(60, [adult, teen_id]))
    assert refused["code"] == "minor_daily_limit" and "Tia" in refused["detail"]
    assert claim(30).status_code == 201  # 60 awarded + 30 claimed = the 90 allowed
    assert problem(claim(15))["code"] == "minor_daily_limit"
    assert problem(award(15, [teen_id]))["code"] == "minor_daily_limit"
    # Adults are not limited, and the refused award credited nobody.
    assert award(120, [adult]).status_code == 201
    balance = coordinator.get(url(world.a.slug, f"balance?member_id={adult}")).get_json()
    assert balance["balance"] == 120
    # Another scheme's minors are counted apart: B's coordinator cannot even award here.
    assert (
        world.api(world.b.coordinator)
        .post(
            url(world.a.slug, "awards"),
            {"activity_id": reading, "minutes": 5, "member_ids": [teen_id]},
        )
        .status_code
        == 404
    )


def test_a_sitting_with_children_takes_no_adult_without_a_valid_check(world: World) -> None:
    coordinator = world.api(world.a.coordinator)
    policy = coordinator.get(url(world.a.slug, "policy")).get_json()
    policy["sittings"] = {
        "enabled": True,
        "self_signup": True,
        "roles": [{"name": "Juror", "minutes": 60, "places": 3}],
    }
    policy.pop("version", None)
    assert coordinator.put(url(world.a.slug, "policy"), policy).status_code == 200
    adult = world.a.members[0]
    adult_id = adult.member_ids[world.a.slug]
    teen = coordinator.post(url(world.a.slug, "members"), {"name": "Tia", "age_band": "16_17"})
    teen_id = teen.get_json()["member_id"]
    starts = f"{date.today().isoformat()}T23:00:00"
    made = coordinator.post(
        url(world.a.slug, "sittings"), {"starts_at": starts, "with_children": True}
    )
    assert made.status_code == 201, made.get_json()
    sitting = made.get_json()
    assert sitting["with_children"] is True
    juror = sitting["roles"][0]["id"]
    assignments = url(world.a.slug, f"sittings/{sitting['id']}/assignments")

    refused = problem(coordinator.post(assignments, {"member_id": adult_id, "role_id": juror}))
    assert refused["code"] == "check_expired" and "safeguarding check" in refused["detail"]
    signup = url(world.a.slug, f"sittings/{sitting['id']}/signup")
    assert problem(world.api(adult).post(signup, {"role_id": juror}))["code"] == "check_expired"
    # A child needs no check; an adult with a valid one is taken.
    assert (
        coordinator.post(assignments, {"member_id": teen_id, "role_id": juror}).status_code == 201
    )
    check = {"kind": "DBS", "number": "0042", "expires_on": date.today().isoformat()}
    assert coordinator.put(url(world.a.slug, f"members/{adult_id}/check"), check).status_code == 200
    assert (
        coordinator.post(assignments, {"member_id": adult_id, "role_id": juror}).status_code == 201
    )
    # A check that lapses before the credit: nobody is credited.
    lapsed = {**check, "expires_on": "2020-01-01"}
    assert (
        coordinator.put(url(world.a.slug, f"members/{adult_id}/check"), lapsed).status_code == 200
    )
    sitting_url = url(world.a.slug, f"sittings/{sitting['id']}")
    marked = coordinator.post(f"{sitting_url}/attendance", {"present": [adult_id, teen_id]})
    assert marked.status_code == 200, marked.get_json()
    credit = coordinator.post(f"{sitting_url}/credit", headers={"Idempotency-Key": "credit-1"})
    assert problem(credit)["code"] == "check_expired"
    teen_balance = coordinator.get(url(world.a.slug, f"balance?member_id={teen_id}"))
    assert teen_balance.get_json()["balance"] == 0
    assert coordinator.put(url(world.a.slug, f"members/{adult_id}/check"), check).status_code == 200
    again = coordinator.post(f"{sitting_url}/credit", headers={"Idempotency-Key": "credit-2"})
    assert again.status_code == 201, again.get_json()
    # An ordinary sitting asks for no check.
    plain = coordinator.post(url(world.a.slug, "sittings"), {"starts_at": starts}).get_json()
    assert plain["with_children"] is False
    # Another scheme sees nothing of it.
    other = world.api(world.b.coordinator).get(url(world.a.slug, f"sittings/{sitting['id']}"))
    assert other.status_code == 404


def test_minors_earn_only_by_approved_activities_when_the_policy_says_so(world: World) -> None:
    coordinator = world.api(world.a.coordinator)
    teen = coordinator.post(url(world.a.slug, "members"), {"name": "Tia", "age_band": "16_17"})
    teen_id = teen.get_json()["member_id"]
    adult = world.a.members[0].member_ids[world.a.slug]
    painting = _activity(world)
    tutoring = _activity(world, minors_allowed=True)
    assert coordinator.get(url(world.a.slug, f"activities/{tutoring}")).get_json()["minors_allowed"]

    def award(activity_id: int, member_ids: list[int]) -> Any:
        return coordinator.post(
            url(world.a.slug, "awards"),
            {"activity_id": activity_id, "minutes": 30, "member_ids": member_ids},
        )

    def claim(activity_id: int) -> Any:
        body = {
            "activity_id": activity_id,
            "minutes": 30,
            "performed_on": date.today().isoformat(),
            "member_id": teen_id,
        }
        return coordinator.post(url(world.a.slug, "claims"), body)

    # Off by default: any activity.
    assert award(painting, [teen_id]).status_code == 201
    _set_minors_policy(world, approved_activities_only=True)
    policy = coordinator.get(url(world.a.slug, "policy")).get_json()
    assert policy["minors"]["approved_activities_only"] is True
    refused = problem(award(painting, [adult, teen_id]))
    assert refused["code"] == "activity_not_for_minors" and "Tia" in refused["detail"]
    assert problem(claim(painting))["code"] == "activity_not_for_minors"
    assert award(painting, [adult]).status_code == 201  # adults: any activity
    assert award(tutoring, [teen_id]).status_code == 201
    assert claim(tutoring).status_code == 201
    # Marked afterwards: allowed from then on.
    patched = coordinator.patch(
        url(world.a.slug, f"activities/{painting}"), {"minors_allowed": True}
    )
    assert patched.get_json()["minors_allowed"] is True
    assert claim(painting).status_code == 201
    # Another scheme cannot mark this scheme's activities.
    other = world.api(world.b.coordinator).patch(
        url(world.a.slug, f"activities/{tutoring}"), {"minors_allowed": False}
    )
    assert other.status_code == 404


def test_a_minors_listing_is_never_visible_outside_the_scheme(world: World) -> None:
    """Listings are scheme-only already (no route shows one across schemes): proven for a child's."""
    coordinator = world.api(world.a.coordinator)
    parent = make_user(world.app, name="Pam Parent")
    enrolled = coordinator.post(
        url(world.a.slug, "members"),
        {"name": "Kit Young", "age_band": "16_17", "guardian_email": parent.email},
    ).get_json()
    kid = enrolled["member_id"]
    card = coordinator.post(url(world.a.slug, f"members/{kid}/card"), {"pin": "4821"})
    signed_in = world.api().post(
        "/api/v1/card-tokens", {"card_code": card.get_json()["card_code"], "pin": "4821"}
    )
    child = Person(user_id=0, email="", name="Kit Young", token=signed_in.get_json()["token"])
    world.api(parent).post(f"/api/v1/invitations/{enrolled['guardian_invitation']['token']}/accept")
    categories = coordinator.get(url(world.a.slug, "categories?limit=200")).get_json()["items"]
    posted = world.api(child).post(
        url(world.a.slug, "listings"),
        {"kind": "offer", "title": "Kit's maths help", "category_id": categories[0]["id"]},
    )
    assert posted.status_code == 201, posted.get_json()
    listing_id = posted.get_json()["id"]
    members_see = world.api(world.a.members[0]).get(url(world.a.slug, "listings")).get_json()
    assert listing_id in [item["id"] for item in members_see["items"]]

    for outsider in (world.b.coordinator, world.b.members[0], parent):
        api = world.api(outsider)
        for path in ("listings", f"listings/{listing_id}", f"listings/{listing_id}/responses"):
            assert api.get(url(world.a.slug, path)).status_code == 404, (outsider.name, path)
    for person in (world.b.coordinator, world.b.members[0]):
        b_listings = world.api(person).get(url(world.b.slug, "listings")).get_json()["items"]
        assert "Kit's maths help" not in [item["title"] for item in b_listings]
        assert world.api(person).get(url(world.b.slug, f"listings/{listing_id}")).status_code == 404
    assert world.api().get(url(world.a.slug, "listings")).status_code == 401
