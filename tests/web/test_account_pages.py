"""Everyone's pages: sign-up, log-in, password reset by mail, invitations, the home page."""

from __future__ import annotations

import email
import re
from pathlib import Path

from tests.factories import PASSWORD, World, make_user
from tests.web.conftest import Pages, text


def mails(outbox: Path) -> list[email.message.Message]:
    return [email.message_from_bytes(p.read_bytes()) for p in sorted(outbox.glob("*.eml"))]


def body_of(message: email.message.Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode()
    raise AssertionError("no text part")


def test_sign_up_logs_in_and_shows_an_empty_home(pages: Pages) -> None:
    response = pages.post(
        "/signup", {"name": "Maud Ellis", "email": "maud@example.test", "password": "tea and cake"}
    )
    assert response.status_code == 302
    home = text(pages.get("/"))
    assert "Welcome, Maud Ellis" in home
    assert "You do not belong to a scheme yet" in home


def test_sign_up_refusals_keep_what_was_typed(world: World, pages: Pages) -> None:
    response = pages.post(
        "/signup", {"name": "Maud", "email": "not-an-address", "password": "qzx7"}
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'value="Maud"' in page and 'value="not-an-address"' in page
    assert "Enter an e-mail address like name@example.org." in text(response)
    assert 'aria-invalid="true"' in page
    # The password is never sent back into the page.
    assert "qzx7" not in page
    taken = pages.post(
        "/signup",
        {"name": "Ann", "email": world.a.members[0].email.upper(), "password": "long enough"},
    )
    assert taken.status_code == 409
    assert "An account with this e-mail address already exists." in text(taken)


def test_forms_without_the_csrf_token_are_refused(world: World, pages: Pages) -> None:
    response = pages.client.post(
        "/login", data={"email": world.a.members[0].email, "password": PASSWORD}
    )
    assert response.status_code == 400
    assert "reload the page and try again" in text(response)
    pages.login(world.a.members[0])
    response = pages.client.post("/s/alpha-bank/pay?form=give", data={"to": "pot", "amount": "1"})
    assert response.status_code == 400
    assert pages.get("/s/alpha-bank/statement").get_data(as_text=True).count("Gift to") == 0


def test_wrong_password_says_so_plainly(world: World, pages: Pages) -> None:
    response = pages.post("/login", {"email": world.a.members[0].email, "password": "nope"})
    assert response.status_code == 401
    assert "The e-mail address or password is not right." in text(response)
    assert f'value="{world.a.members[0].email}"' in response.get_data(as_text=True)


def test_password_reset_by_mail(world: World, pages: Pages, outbox: Path) -> None:
    person = world.a.members[0]
    sent = pages.post("/password/forgot", {"email": person.email})
    assert "we have sent it a link" in text(sent)
    # An unknown address gets the same answer and no mail.
    assert "we have sent it a link" in text(
        pages.post("/password/forgot", {"email": "nobody@example.test"})
    )
    messages = [m for m in mails(outbox) if m["To"] == person.email]
    assert len(messages) == 1 and messages[0]["Subject"] == "Reset your Timebank password"
    link = re.search(r"(http\S+/password/reset/\S+)", body_of(messages[0])).group(1)
    path = link.split("127.0.0.1:5000", 1)[-1]
    assert pages.get(path).status_code == 200
    mismatch = pages.post(path, {"password": "new password one", "confirm": "different"})
    assert mismatch.status_code == 422 and "The two passwords are not the same." in text(mismatch)
    too_short = pages.post(path, {"password": "short", "confirm": "short"})
    assert (
        too_short.status_code == 422
        and "Your password is too short: use at least 8 characters." in text(too_short)
    )
    done = pages.post(path, {"password": "new password one", "confirm": "new password one"})
    assert done.status_code == 302
    # The link works once; the old password no longer does, the new one does.
    again = pages.get(path)
    assert again.status_code == 410 and "already been used" in text(again)
    fresh = Pages(world.app)
    assert fresh.post("/login", {"email": person.email, "password": PASSWORD}).status_code == 401
    assert (
        fresh.post("/login", {"email": person.email, "password": "new password one"}).status_code
        == 302
    )


def test_a_reset_link_expires(world: World, pages: Pages) -> None:
    from timebank.platform.identity.models import User
    from timebank.platform.identity.password_reset import reset_token

    with world.app.app_context():
        from timebank.platform.db import db

        user = db.session.get(User, world.a.members[0].user_id)
        token = reset_token(user)
    world.app.config["PASSWORD_RESET_MINUTES"] = -1
    response = pages.get(f"/password/reset/{token}")
    assert response.status_code == 410
    assert "expired" in text(response)
    assert pages.get("/password/reset/not-a-token").status_code == 410


def invite(world: World, email: str) -> str:
    response = world.api(world.a.coordinator).post(
        "/api/v1/schemes/alpha-bank/invitations", {"email": email, "role": "member"}
    )
    assert response.status_code == 201, response.get_json()
    return str(response.get_json()["token"])


def test_accepting_an_invitation_as_a_new_person(world: World, pages: Pages) -> None:
    token = invite(world, "newcomer@example.test")
    preview = pages.get(f"/invitations/{token}")
    assert "You are invited to join Alpha Time Bank" in text(preview)
    assert "newcomer@example.test" in text(preview)
    # Any "Create an account" link (even the plain one in the header) carries on
    # with the invitation: the address is filled in and the scheme named.
    signup = pages.get("/signup")
    assert 'value="newcomer@example.test"' in signup.get_data(as_text=True)
    assert "Create your account to join Alpha Time Bank" in text(signup)
    created = pages.post(
        "/signup",
        {"name": "New Comer", "email": "newcomer@example.test", "password": "a good password"},
    )
    assert created.headers["Location"] == "/s/alpha-bank/"
    overview = text(pages.get("/s/alpha-bank/"))
    assert "you have joined Alpha Time Bank" in overview
    assert "Ask a coordinator to send you an invitation" not in text(pages.get("/"))
    assert "already a member" in text(pages.get(f"/invitations/{token}"))
    # Beta knows nothing of the newcomer.
    members = world.api(world.b.coordinator).get("/api/v1/schemes/beta-surgery/members").get_json()
    assert "New Comer" not in [m["name"] for m in members["items"]]


def test_signing_up_from_an_invitation_link_with_its_token(world: World, pages: Pages) -> None:
    token = invite(world, "direct@example.test")
    signup = pages.get(f"/signup?invitation={token}")
    assert 'value="direct@example.test"' in signup.get_data(as_text=True)
    created = pages.post(
        f"/signup?invitation={token}",
        {"name": "Dee Rect", "email": "direct@example.test", "password": "a good password"},
    )
    assert created.headers["Location"] == "/s/alpha-bank/"
    assert "Dee Rect" in text(pages.get("/s/alpha-bank/"))
    # A used invitation is not followed again: a second account is a plain one.
    pages.post("/logout")
    again = pages.get(f"/signup?invitation={token}")
    assert 'value="direct@example.test"' not in again.get_data(as_text=True)


def test_signing_up_from_an_invitation_with_another_address(world: World, pages: Pages) -> None:
    token = invite(world, "invited@example.test")
    pages.get(f"/invitations/{token}")
    created = pages.post(
        "/signup",
        {"name": "Other Person", "email": "other@example.test", "password": "a good password"},
    )
    # The account is made, but it does not join: the invitation page says why.
    assert created.headers["Location"] == f"/invitations/{token}"
    page = text(pages.get(f"/invitations/{token}"))
    assert "This invitation was sent to another e-mail address." in page
    assert pages.get("/s/alpha-bank/").status_code == 404
    members = world.api(world.a.coordinator).get("/api/v1/schemes/alpha-bank/members").get_json()
    assert "Other Person" not in [m["name"] for m in members["items"]]
    members = world.api(world.b.coordinator).get("/api/v1/schemes/beta-surgery/members").get_json()
    assert "Other Person" not in [m["name"] for m in members["items"]]


def test_an_invitation_for_another_address(world: World, pages: Pages) -> None:
    token = invite(world, "someone.else@example.test")
    pages.login(world.b.members[0])
    page = text(pages.get(f"/invitations/{token}"))
    assert "but the invitation is for someone.else@example.test" in page
    refused = pages.post(f"/invitations/{token}")
    assert refused.status_code == 403
    assert "This invitation was sent to another e-mail address." in text(refused)
    assert pages.get("/s/alpha-bank/").status_code == 404


def test_unknown_invitation_links(pages: Pages) -> None:
    response = pages.get("/invitations/not-a-real-token")
    assert response.status_code == 410
    assert "This invitation link is not valid." in text(response)


def test_home_lists_every_scheme_with_its_balance_and_a_switcher(
    world: World, pages: Pages
) -> None:
    from tests.factories import add_member, fund

    person = make_user(world.app, name="Sam Both")
    add_member(world.app, world.a, person)
    add_member(world.app, world.b, person)
    fund(world.app, world.a, person, 90)
    pages.login(person)
    home = text(pages.get("/"))
    assert "Alpha Time Bank 1:30 hours" in home
    assert "Beta Surgery 0:00 hours" in home
    inside = pages.get("/s/beta-surgery/").get_data(as_text=True)
    assert "Switch scheme" in inside
    assert 'href="/s/alpha-bank/"' in inside
