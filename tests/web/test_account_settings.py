"""The account page (change password, sign out everywhere) and logging out, with CSRF on."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from tests.factories import PASSWORD, World
from tests.platform.test_account_takeover import session_cookie, user_row, with_cookie
from tests.web.conftest import Pages, text


def test_the_account_page_is_for_signed_in_people(world: World, pages: Pages) -> None:
    anonymous = pages.get("/account")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    pages.login(world.a.members[0])
    page = text(pages.get("/"))
    assert (
        "Your account" in pages.get("/").get_data(as_text=True) or world.a.members[0].name in page
    )
    settings = text(pages.get("/account"))
    assert "Change your password" in settings and "Sign out everywhere" in settings
    assert world.a.members[0].email in settings


def test_changing_the_password_keeps_this_browser_and_ends_the_others(
    app: Flask, world: World, pages: Pages
) -> None:
    ann = world.a.members[0]
    other_browser = Pages(app).login(ann)
    pages.login(ann)
    before = user_row(app, ann.user_id)

    wrong = pages.post(
        "/account/password",
        {"current_password": "nope", "password": "new password 1", "confirm": "new password 1"},
    )
    assert wrong.status_code == 422 and "This is not your current password." in text(wrong)
    mismatch = pages.post(
        "/account/password",
        {"current_password": PASSWORD, "password": "new password 1", "confirm": "other"},
    )
    assert mismatch.status_code == 422 and "The two passwords are not the same." in text(mismatch)
    short = pages.post(
        "/account/password", {"current_password": PASSWORD, "password": "short", "confirm": "short"}
    )
    assert (
        short.status_code == 422
        and "Your password is too short: use at least 8 characters." in text(short)
    )
    assert "new password 1" not in wrong.get_data(as_text=True)
    assert user_row(app, ann.user_id) == before
    assert other_browser.get("/api/v1/me").status_code == 200

    done = pages.post(
        "/account/password",
        {"current_password": PASSWORD, "password": "new password 1", "confirm": "new password 1"},
    )
    assert done.status_code == 302
    assert "Your password has been changed." in text(pages.get("/account"))
    assert pages.get("/api/v1/me").status_code == 200  # this browser stays in
    assert other_browser.get("/api/v1/me").status_code == 401
    assert world.api(ann).get("/api/v1/me").status_code == 401  # the token ended too
    assert user_row(app, ann.user_id)["live"] == 0
    assert world.api(world.a.members[1]).get("/api/v1/me").status_code == 200


def test_sign_out_everywhere(app: Flask, world: World, pages: Pages) -> None:
    ann = world.a.members[0]
    other_browser = Pages(app).login(ann)
    pages.login(ann)
    copied = session_cookie(pages.client)
    assert with_cookie(app, copied).get("/api/v1/me").status_code == 200
    done = pages.post("/account/sign-out-everywhere")
    assert done.status_code == 302 and done.headers["Location"].endswith("/login")
    assert "You have been signed out everywhere" in text(pages.get("/login"))
    for client in (pages.client, other_browser.client, with_cookie(app, copied)):
        assert client.get("/api/v1/me").status_code == 401
    assert world.api(ann).get("/api/v1/me").status_code == 401
    assert user_row(app, ann.user_id)["live"] == 0
    # Somebody else is still signed in; Ann can log in again.
    assert world.api(world.b.members[0]).get("/api/v1/me").status_code == 200
    pages.login(ann)
    assert pages.get("/api/v1/me").status_code == 200


def test_sign_out_everywhere_needs_the_csrf_token(app: Flask, world: World, pages: Pages) -> None:
    ann = world.a.members[0]
    pages.login(ann)
    forged = pages.client.post("/account/sign-out-everywhere", data={})
    assert forged.status_code == 400
    assert pages.get("/api/v1/me").status_code == 200
    assert world.api(ann).get("/api/v1/me").status_code == 200


def test_a_copied_cookie_stops_working_when_its_owner_logs_out(
    app: Flask, world: World, pages: Pages
) -> None:
    ann = world.a.members[0]
    pages.login(ann)
    copied = session_cookie(pages.client)
    assert with_cookie(app, copied).get(f"/s/{world.a.slug}/statement").status_code == 200
    assert pages.post("/logout").status_code == 302
    page = with_cookie(app, copied).get(f"/s/{world.a.slug}/statement")
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    assert with_cookie(app, copied).get("/api/v1/me").status_code == 401
    # The owner's own browser is logged out too, and may log in again.
    assert pages.get("/api/v1/me").status_code == 401
    pages.login(ann)
    assert pages.get("/api/v1/me").status_code == 200
    assert with_cookie(app, copied).get("/api/v1/me").status_code == 401


def test_a_reset_through_the_pages_ends_other_sessions_and_tokens(
    app: Flask, world: World, pages: Pages, outbox: Path
) -> None:
    from tests.platform.test_account_takeover import reset_token_from_mail

    ann = world.a.members[0]
    signed_in = Pages(app).login(ann)
    pages.post("/password/forgot", {"email": ann.email})
    token = reset_token_from_mail(outbox, ann.email)
    done = pages.post(
        f"/password/reset/{token}", {"password": "new password 2", "confirm": "new password 2"}
    )
    assert done.status_code == 302
    assert signed_in.get("/api/v1/me").status_code == 401
    assert world.api(ann).get("/api/v1/me").status_code == 401
    assert pages.get("/api/v1/me").status_code == 200  # the browser that reset is signed in
