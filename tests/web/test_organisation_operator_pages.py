"""Organisations start a scheme from a template; operators suspend and reactivate schemes."""

from __future__ import annotations

from tests.factories import World, make_operator
from tests.web.conftest import Pages, text


def test_a_new_organisation_starts_a_scheme_and_its_first_steps(world: World, pages: Pages) -> None:
    form = {
        "name": "Rushey Green Time Bank",
        "slug": "rushey-green",
        "template": "surgery",
        "timezone": "Europe/London",
        "person_name": "Ruth Okafor",
        "email": "ruth@example.test",
        "password": "surgery garden",
    }
    response = pages.post("/start", form)
    assert response.status_code == 302
    assert response.headers["Location"] == "/s/rushey-green/manage/welcome"
    welcome = text(pages.get("/s/rushey-green/manage/welcome"))
    assert "Rushey Green Time Bank is ready" in welcome
    assert "Befriending a patient referred by the practice" in welcome
    assert "Place at the Tuesday lunch club" in welcome
    invited = pages.post(
        "/s/rushey-green/manage/invitations",
        {"email": "maud@example.test", "role": "member", "next": "/s/rushey-green/manage/welcome"},
    )
    assert invited.headers["Location"] == "/s/rushey-green/manage/welcome"
    assert "Invited so far: maud@example.test." in text(pages.get("/s/rushey-green/manage/welcome"))
    refused = pages.post(
        "/s/rushey-green/manage/invitations",
        {"email": "no", "role": "member", "next": "/s/rushey-green/manage/welcome"},
    )
    assert refused.status_code == 422 and "Rushey Green Time Bank is ready" in text(refused)
    # The new scheme is its own: the existing ones did not change.
    assert [
        m["scheme"]
        for m in world.api(world.a.coordinator).get("/api/v1/me").get_json()["memberships"]
    ] == ["alpha-bank"]


def test_starting_a_scheme_refusals_keep_the_answers(world: World, pages: Pages) -> None:
    pages.login(world.a.coordinator)
    taken = pages.post(
        "/start",
        {
            "name": "Another",
            "slug": "alpha-bank",
            "template": "community",
            "timezone": "Europe/London",
        },
    )
    assert taken.status_code == 409
    assert "The address 'alpha-bank' is already taken." in text(taken)
    assert 'value="Another"' in taken.get_data(as_text=True)
    bad = pages.post(
        "/start",
        {"name": "X", "slug": "No Spaces!", "template": "community", "timezone": "Mars/Olympus"},
    )
    assert bad.status_code == 422
    assert "Use 3–40 lowercase letters, digits and hyphens" in text(bad)


def test_operators_only(world: World, pages: Pages) -> None:
    assert pages.get("/operator/").status_code == 302
    pages.login(world.a.coordinator)
    response = pages.get("/operator/")
    assert response.status_code == 403
    assert "Only platform operators may do this." in text(response)


def test_an_operator_suspends_a_scheme_and_its_members_see_why(world: World, pages: Pages) -> None:
    operator = make_operator(world.app)
    pages.login(operator)
    console = text(pages.get("/operator/"))
    assert "Alpha Time Bank" in console and "Beta Surgery" in console
    assert "2 schemes" in console
    no_reason = pages.post("/operator/schemes/alpha-bank/suspend", {"reason": ""})
    assert no_reason.status_code == 422
    assert "Say why, in words the scheme's members will read." in text(no_reason)
    done = pages.post(
        "/operator/schemes/alpha-bank/suspend", {"reason": "The subscription has lapsed."}
    )
    assert done.status_code == 302
    assert "Alpha Time Bank is now suspended." in text(pages.get("/operator/"))
    member = Pages(world.app).login(world.a.members[0])
    overview = text(member.get("/s/alpha-bank/"))
    assert (
        "Alpha Time Bank is suspended." in overview and "The subscription has lapsed." in overview
    )
    refused = member.post("/s/alpha-bank/pay?form=give", {"to": "pot", "amount": "1"})
    assert refused.status_code == 403
    assert "nothing can be changed until it is reactivated" in text(refused)
    assert 'value="1"' in refused.get_data(as_text=True)
    # Beta's members are unaffected.
    beta = Pages(world.app).login(world.b.members[0])
    assert "suspended" not in text(beta.get("/s/beta-surgery/"))
    pages.post("/operator/schemes/alpha-bank/reactivate")
    assert "suspended" not in text(member.get("/s/alpha-bank/"))
