"""Pages for members without e-mail: adding one, printing cards, the tablet's card
sign-in, the guardian's page, checks and the one-page statement. The other scheme
sees none of it."""

from __future__ import annotations

import re
from datetime import date, timedelta

from tests.factories import World, make_user
from tests.web.conftest import Pages, text

CARD = re.compile(r"member-card-code\">([A-Z0-9]{4}-[A-Z0-9]{4})<")
PIN = re.compile(r"PIN for [^:]+: <strong>(\d{4})</strong>")


def _member_id_of(world: World, name: str) -> int:
    items = (
        world.api(world.a.coordinator)
        .get(f"/api/v1/schemes/{world.a.slug}/members?limit=200")
        .get_json()["items"]
    )
    return int(next(item["member_id"] for item in items if item["name"] == name))


def test_a_coordinator_adds_prints_and_the_member_signs_in_with_the_card(
    world: World, pages: Pages
) -> None:
    pages.login(world.a.coordinator)
    members = text(pages.get("/s/alpha-bank/manage/members"))
    assert "Add someone without e-mail" in members
    added = pages.post("/s/alpha-bank/manage/members/new", {"name": "Gran Green", "age_band": ""})
    assert added.status_code == 302, text(added)
    member_id = _member_id_of(world, "Gran Green")
    page = text(pages.get(f"/s/alpha-bank/manage/members/{member_id}"))
    assert "No e-mail address" in page and "Print a new card" in page
    refused = pages.post(f"/s/alpha-bank/manage/members/{member_id}/card", {"pin": "12"})
    assert refused.status_code == 302
    assert "4 to 8 digits" in text(pages.get(f"/s/alpha-bank/manage/members/{member_id}"))

    sheet = pages.get("/s/alpha-bank/manage/cards")
    assert "Gran Green" in text(sheet)
    printed = pages.post("/s/alpha-bank/manage/cards", {"member_ids": [str(member_id)]})
    body = printed.get_data(as_text=True)
    assert printed.status_code == 200 and "<svg" in body and "Alpha Time Bank" in body
    code = CARD.search(body)
    pin = PIN.search(body)
    assert code and pin

    tablet = Pages(world.app)
    wrong = tablet.post(
        "/card", {"card_code": code.group(1), "pin": "0000" if pin.group(1) != "0000" else "1111"}
    )
    assert wrong.status_code == 401 and "not right" in text(wrong)
    signed_in = tablet.post("/card", {"card_code": code.group(1), "pin": pin.group(1)})
    assert signed_in.status_code == 302
    overview = text(tablet.get("/s/alpha-bank/"))
    assert "Signed in with a card as Gran Green" in overview
    assert tablet.get("/s/beta-surgery/").status_code == 404
    assert tablet.post("/card/sign-out").status_code == 302
    assert tablet.get("/s/alpha-bank/").status_code == 302  # signed out: to the login

    statement = text(pages.get(f"/s/alpha-bank/manage/members/{member_id}/statement/print"))
    assert "Statement of Gran Green" in statement and "Balance on" in statement
    # The other scheme's coordinator: 404 for all of it.
    other = Pages(world.app).login(world.b.coordinator)
    assert other.get(f"/s/alpha-bank/manage/members/{member_id}").status_code == 404
    assert other.get(f"/s/beta-surgery/manage/members/{member_id}").status_code == 404
    assert "Gran Green" not in text(other.get("/s/beta-surgery/manage/cards"))


def test_checks_and_the_guardian_page(world: World, pages: Pages) -> None:
    coordinator = world.api(world.a.coordinator)
    child = coordinator.post(
        f"/api/v1/schemes/{world.a.slug}/members", {"name": "Kit Young", "age_band": "11_15"}
    ).get_json()["member_id"]
    parent = make_user(world.app, name="Pam Parent")
    token = coordinator.post(
        f"/api/v1/schemes/{world.a.slug}/members/{child}/guardians", {"email": parent.email}
    ).get_json()["token"]
    accepted = Pages(world.app).login(parent).post(f"/invitations/{token}")
    assert accepted.status_code == 302 and accepted.location.endswith("/guardian")

    pages.login(world.a.coordinator)
    ann_id = world.a.members[0].member_ids[world.a.slug]
    soon = (date.today() + timedelta(days=10)).isoformat()
    saved = pages.post(
        f"/s/alpha-bank/manage/members/{ann_id}/check",
        {"kind": "DBS", "number": "0099", "expires_on": soon},
    )
    assert saved.status_code == 302
    checks = text(pages.get("/s/alpha-bank/manage/checks"))
    assert "Ann Alpha" in checks and "0099" in checks
    assert "consent" in text(pages.get(f"/s/alpha-bank/manage/members/{child}")).lower()

    guardian = Pages(world.app).login(parent)
    page = text(guardian.get("/guardian"))
    assert "Kit Young" in page and "I give consent" in page
    given = guardian.post(f"/guardian/{world.a.slug}/{child}/consent", {"given": "yes"})
    assert given.status_code == 302
    assert "Withdraw consent" in text(guardian.get("/guardian"))
    # Someone else's child, another scheme: 404; the scheme's pages: 404.
    assert (
        guardian.post(f"/guardian/{world.a.slug}/{ann_id}/consent", {"given": "yes"}).status_code
        == 404
    )
    assert (
        guardian.post(f"/guardian/{world.b.slug}/{child}/consent", {"given": "yes"}).status_code
        == 404
    )
    assert guardian.get("/s/alpha-bank/").status_code == 404
    stranger = Pages(world.app).login(world.b.members[0])
    assert "Kit Young" not in text(stranger.get("/guardian"))


def test_a_guardian_can_be_named_on_the_add_member_form(world: World, pages: Pages) -> None:
    pages.login(world.a.coordinator)
    assert "guardian" in text(pages.get("/s/alpha-bank/manage/members")).lower()
    bad = pages.post(
        "/s/alpha-bank/manage/members/new",
        {"name": "Kit Young", "age_band": "11_15", "guardian_email": "nonsense"},
    )
    assert bad.status_code == 302
    assert "Enter an e-mail address" in text(pages.get("/s/alpha-bank/manage/members"))
    added = pages.post(
        "/s/alpha-bank/manage/members/new",
        {"name": "Kit Young", "age_band": "11_15", "guardian_email": "pam@example.test"},
    )
    assert added.status_code == 302, text(added)
    member_id = _member_id_of(world, "Kit Young")
    page = text(pages.get(f"/s/alpha-bank/manage/members/{member_id}"))
    assert "An invitation was sent to pam@example.test" in page


def test_the_activity_form_marks_an_activity_for_children(world: World, pages: Pages) -> None:
    pages.login(world.a.coordinator)
    form = pages.get("/s/alpha-bank/manage/activities").get_data(as_text=True)
    assert 'name="minors_allowed"' in form
    made = pages.post(
        "/s/alpha-bank/manage/activities",
        {"name": "Tutoring", "rate": "1", "approval": "auto", "minors_allowed": "yes"},
    )
    assert made.status_code == 302
    items = (
        world.api(world.a.coordinator)
        .get(f"/api/v1/schemes/{world.a.slug}/activities?limit=200")
        .get_json()["items"]
    )
    tutoring = next(item for item in items if item["name"] == "Tutoring")
    assert tutoring["minors_allowed"] is True
    edit = pages.get(f"/s/alpha-bank/manage/activities/{tutoring['id']}").get_data(as_text=True)
    assert 'name="minors_allowed" value="yes" checked' in edit
    # Another scheme's activity list does not show it.
    other = world.api(world.b.coordinator).get(f"/api/v1/schemes/{world.b.slug}/activities")
    assert "Tutoring" not in [item["name"] for item in other.get_json()["items"]]
