"""Account takeover and sessions (issue 14): password reset and change end every way in,
logout ends the session, one sign-in budget for the API and the web login, no open
redirect after login."""

from __future__ import annotations

import email
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import func, select

from tests.factories import PASSWORD, World, problem


def mails_to(outbox: Path, address: str) -> list[email.message.Message]:
    messages = [email.message_from_bytes(p.read_bytes()) for p in sorted(outbox.glob("*.eml"))]
    return [m for m in messages if m["To"].lower() == address.lower()]


def reset_path(message: email.message.Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            body = part.get_payload(decode=True).decode()
            match = re.search(r"http\S+(/password/reset/\S+)", body)
            assert match, body
            return match.group(1)
    raise AssertionError("no text part")


def reset_token_from_mail(outbox: Path, address: str) -> str:
    messages = mails_to(outbox, address)
    assert messages, "no reset mail"
    return reset_path(messages[-1]).rsplit("/", 1)[-1]


def web_login(app: Flask, address: str, password: str = PASSWORD) -> FlaskClient:
    browser = app.test_client()
    response = browser.post("/login", data={"email": address, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)
    return browser


def session_cookie(browser: FlaskClient) -> str:
    cookie = browser.get_cookie("session")
    assert cookie is not None
    return cookie.value


def with_cookie(app: Flask, value: str) -> FlaskClient:
    """Another machine, holding a copy of someone's session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", value)
    return thief


def client_at(app: Flask, address: str) -> FlaskClient:
    """A client from its own address: the per-address budget of the sign-in limits is
    kept in Redis for 15 minutes, shared by every test of the process."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def user_row(app: Flask, user_id: int) -> dict[str, Any]:
    from timebank.platform.db import db
    from timebank.platform.identity.models import ApiToken, User

    with app.app_context():
        user = db.session.get(User, user_id)
        assert user is not None
        live = db.session.execute(
            select(func.count())
            .select_from(ApiToken)
            .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        ).scalar_one()
        return {"password_hash": user.password_hash, "version": user.session_version, "live": live}


def new_token(app: Flask, address: str, password: str = PASSWORD) -> str:
    response = app.test_client().post(
        "/api/v1/tokens", json={"email": address, "password": password}
    )
    assert response.status_code == 201, response.get_json()
    return str(response.get_json()["token"])


# --- forgot -------------------------------------------------------------------------


def test_forgot_is_202_for_any_address_and_mails_only_accounts(
    app: Flask, world: World, outbox: Path
) -> None:
    person = world.a.members[0]
    api = world.api()
    known = api.post("/api/v1/password/forgot", {"email": person.email})
    unknown = api.post("/api/v1/password/forgot", {"email": "nobody@example.test"})
    assert known.status_code == unknown.status_code == 202
    assert known.get_data() == unknown.get_data()
    assert len(mails_to(outbox, person.email)) == 1
    assert mails_to(outbox, "nobody@example.test") == []
    message = mails_to(outbox, person.email)[0]
    assert message["Subject"] == "Reset your Timebank password"
    assert reset_path(message).startswith("/password/reset/")


def test_forgot_sends_at_most_three_mails_an_hour_to_one_address(
    app: Flask, world: World, outbox: Path
) -> None:
    person = world.a.members[0]
    other = world.a.members[1]
    api = world.api()
    for variant in [person.email, person.email.upper(), f"  {person.email}"] * 2:
        assert api.post("/api/v1/password/forgot", {"email": variant.strip()}).status_code == 202
    # The page draws on the same budget.
    assert (
        app.test_client().post("/password/forgot", data={"email": person.email}).status_code == 200
    )
    assert len(mails_to(outbox, person.email)) == 3
    # Another address has its own budget; the rest of the world got nothing.
    assert api.post("/api/v1/password/forgot", {"email": other.email}).status_code == 202
    assert len(mails_to(outbox, other.email)) == 1
    assert len(list(outbox.glob("*.eml"))) == 4


def test_forgot_refuses_a_non_address_and_unknown_fields(app: Flask, world: World) -> None:
    api = world.api()
    bad = api.post("/api/v1/password/forgot", {"email": "not-an-address"})
    assert bad.status_code == 422 and "email" in problem(bad)["errors"]
    extra = api.post("/api/v1/password/forgot", {"email": "a@example.test", "admin": True})
    assert extra.status_code == 422 and "admin" in problem(extra)["errors"]
    missing = api.post("/api/v1/password/forgot", {})
    assert missing.status_code == 422 and "email" in problem(missing)["errors"]


# --- reset --------------------------------------------------------------------------


def test_a_reset_ends_every_token_and_web_session_of_the_squatter(
    app: Flask, world: World, outbox: Path
) -> None:
    """Someone registers the owner's address first and keeps a token and a browser
    session; the owner recovers the account by reset: both stop working at once."""
    victim_address = "rightful.owner@example.test"
    squatter = world.api().post(
        "/api/v1/users", {"email": victim_address, "password": "squatter-pass", "name": "Squat"}
    )
    assert squatter.status_code == 201
    user_id = squatter.get_json()["id"]
    squatter_token = new_token(app, victim_address, "squatter-pass")
    squatter_browser = web_login(app, victim_address, "squatter-pass")
    assert app.test_client().get("/api/v1/me", headers=bearer(squatter_token)).status_code == 200
    assert squatter_browser.get("/api/v1/me").status_code == 200

    api = world.api()
    assert api.post("/api/v1/password/forgot", {"email": victim_address}).status_code == 202
    token = reset_token_from_mail(outbox, victim_address)
    done = api.post("/api/v1/password/reset", {"token": token, "password": "owner's own pass"})
    assert done.status_code == 204, done.get_data(as_text=True)

    assert app.test_client().get("/api/v1/me", headers=bearer(squatter_token)).status_code == 401
    assert squatter_browser.get("/api/v1/me").status_code == 401
    page = squatter_browser.get("/")
    assert "Log in" in page.get_data(as_text=True)
    assert user_row(app, user_id)["live"] == 0
    failed = api.post("/api/v1/tokens", {"email": victim_address, "password": "squatter-pass"})
    assert failed.status_code == 401
    assert new_token(app, victim_address, "owner's own pass")


def test_a_token_minted_before_a_reset_is_refused_after_it(
    app: Flask, world: World, outbox: Path
) -> None:
    ann, arthur = world.a.members
    api = world.api()
    api.post("/api/v1/password/forgot", {"email": ann.email})
    link = reset_token_from_mail(outbox, ann.email)
    minted_after_mail = new_token(app, ann.email)  # minted after the link, before its use
    assert (
        api.post(
            "/api/v1/password/reset", {"token": link, "password": "brand new pass"}
        ).status_code
        == 204
    )
    for token in (ann.token, minted_after_mail):
        refused = app.test_client().get("/api/v1/me", headers=bearer(token))
        assert refused.status_code == 401 and problem(refused)["code"] == "unauthorized"
        transfer = app.test_client().post(
            f"/api/v1/schemes/{world.a.slug}/transfers",
            json={"to_member_id": arthur.member_ids[world.a.slug], "amount": 1},
            headers=bearer(token),
        )
        assert transfer.status_code == 401
    # Other people's tokens are untouched, in this scheme and the other.
    for other in (arthur, world.a.coordinator, world.b.members[0]):
        assert world.api(other).get("/api/v1/me").status_code == 200


def test_a_used_expired_or_forged_reset_link_is_410_and_changes_nothing(
    app: Flask, world: World, outbox: Path
) -> None:
    from timebank.platform.db import db
    from timebank.platform.identity.models import User
    from timebank.platform.identity.password_reset import reset_token

    ann = world.a.members[0]
    api = world.api()
    api.post("/api/v1/password/forgot", {"email": ann.email})
    link = reset_token_from_mail(outbox, ann.email)
    before = user_row(app, ann.user_id)

    forged = [
        "not-a-token",
        link[:-2] + ("AA" if not link.endswith("AA") else "BB"),
        "x" * 500,
    ]
    for token in forged:
        response = api.post("/api/v1/password/reset", {"token": token, "password": "new password"})
        assert response.status_code == 410 and problem(response)["code"] == "reset_link_invalid"
    # Signed with another key, or naming the user with a guessed fingerprint: forged too.
    foreign = URLSafeTimedSerializer("someone-else", salt="timebank.password-reset").dumps(
        {"user": ann.user_id, "fingerprint": "0" * 24}
    )
    with app.app_context():
        guessed = URLSafeTimedSerializer(
            app.config["SECRET_KEY"], salt="timebank.password-reset"
        ).dumps({"user": ann.user_id, "fingerprint": "0" * 24})
    for token in (foreign, guessed):
        response = api.post("/api/v1/password/reset", {"token": token, "password": "new password"})
        assert problem(response)["code"] == "reset_link_invalid"
    assert user_row(app, ann.user_id) == before
    assert world.api(ann).get("/api/v1/me").status_code == 200

    weak = api.post("/api/v1/password/reset", {"token": link, "password": "short"})
    assert weak.status_code == 422 and "password" in problem(weak)["errors"]
    assert user_row(app, ann.user_id) == before

    assert (
        api.post("/api/v1/password/reset", {"token": link, "password": "new password"}).status_code
        == 204
    )
    used = api.post("/api/v1/password/reset", {"token": link, "password": "another password"})
    assert used.status_code == 410 and problem(used)["code"] == "reset_link_invalid"
    assert new_token(app, ann.email, "new password")

    with app.app_context():
        user = db.session.get(User, ann.user_id)
        expired = reset_token(user)
    after_use = user_row(app, ann.user_id)
    app.config["PASSWORD_RESET_MINUTES"] = -1
    gone = api.post("/api/v1/password/reset", {"token": expired, "password": "third password"})
    assert gone.status_code == 410 and problem(gone)["code"] == "reset_link_invalid"
    assert user_row(app, ann.user_id) == after_use


# --- tokens and password change -----------------------------------------------------


def test_delete_tokens_revokes_every_token_of_the_caller_only(app: Flask, world: World) -> None:
    ann, arthur = world.a.members
    second = new_token(app, ann.email)
    assert app.test_client().delete("/api/v1/tokens").status_code == 401
    response = app.test_client().delete("/api/v1/tokens", headers=bearer(second))
    assert response.status_code == 204
    for token in (ann.token, second):
        assert app.test_client().get("/api/v1/me", headers=bearer(token)).status_code == 401
    assert user_row(app, ann.user_id)["live"] == 0
    assert user_row(app, arthur.user_id)["live"] == 1
    assert world.api(arthur).get("/api/v1/me").status_code == 200
    assert world.api(world.b.members[0]).get("/api/v1/me").status_code == 200
    # Signing in again works.
    assert (
        app.test_client().get("/api/v1/me", headers=bearer(new_token(app, ann.email))).status_code
        == 200
    )


def test_password_change_ends_every_token_and_session(app: Flask, world: World) -> None:
    ann = world.a.members[0]
    browser = web_login(app, ann.email)
    before = user_row(app, ann.user_id)
    api = world.api(ann)

    wrong = api.post(
        "/api/v1/password/change", {"current_password": "not it", "password": "a new password"}
    )
    assert wrong.status_code == 422 and "current_password" in problem(wrong)["errors"]
    weak = api.post("/api/v1/password/change", {"current_password": PASSWORD, "password": "short"})
    assert weak.status_code == 422 and "password" in problem(weak)["errors"]
    assert user_row(app, ann.user_id) == before
    assert browser.get("/api/v1/me").status_code == 200

    assert (
        world.api()
        .post(
            "/api/v1/password/change", {"current_password": PASSWORD, "password": "a new password"}
        )
        .status_code
        == 401
    )
    done = api.post(
        "/api/v1/password/change", {"current_password": PASSWORD, "password": "a new password"}
    )
    assert done.status_code == 204
    assert api.get("/api/v1/me").status_code == 401
    assert browser.get("/api/v1/me").status_code == 401
    assert user_row(app, ann.user_id)["live"] == 0
    assert (
        world.api().post("/api/v1/tokens", {"email": ann.email, "password": PASSWORD}).status_code
        == 401
    )
    assert new_token(app, ann.email, "a new password")
    assert world.api(world.a.members[1]).get("/api/v1/me").status_code == 200


def test_guessing_the_current_password_draws_on_the_sign_in_budget(
    app: Flask, world: World
) -> None:
    ann = world.a.members[0]
    api = world.api(ann)
    api.client = client_at(app, "198.51.100.13")
    for _ in range(10):
        wrong = api.post(
            "/api/v1/password/change", {"current_password": "guess", "password": "a new password"}
        )
        assert wrong.status_code == 422
    before = user_row(app, ann.user_id)
    limited = api.post(
        "/api/v1/password/change", {"current_password": PASSWORD, "password": "a new password"}
    )
    assert limited.status_code == 429 and problem(limited)["code"] == "rate_limited"
    signin = world.api().post("/api/v1/tokens", {"email": ann.email, "password": PASSWORD})
    assert signin.status_code == 429
    assert user_row(app, ann.user_id) == before


# --- logout -------------------------------------------------------------------------


def test_a_copied_session_cookie_is_refused_after_logout(app: Flask, world: World) -> None:
    ann = world.a.members[0]
    browser = web_login(app, ann.email)
    copied = session_cookie(browser)
    thief = with_cookie(app, copied)
    # The copy works while the owner is signed in (so the test can fail) ...
    assert thief.get("/api/v1/me").status_code == 200
    assert thief.get(f"/s/{world.a.slug}/").status_code == 200
    assert browser.post("/logout").status_code == 302
    # ... and not after, on the API and the pages alike.
    refused = with_cookie(app, copied).get("/api/v1/me")
    assert refused.status_code == 401 and problem(refused)["code"] == "unauthorized"
    page = with_cookie(app, copied).get(f"/s/{world.a.slug}/")
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    pay = with_cookie(app, copied).post(
        f"/api/v1/schemes/{world.a.slug}/transfers",
        json={"to_member_id": world.a.members[1].member_ids[world.a.slug], "amount": 1},
    )
    assert pay.status_code == 401
    # The API token is not a web session: it still works; so does logging in again.
    assert world.api(ann).get("/api/v1/me").status_code == 200
    assert web_login(app, ann.email).get("/api/v1/me").status_code == 200


# --- one sign-in budget -------------------------------------------------------------


def test_failed_sign_ins_count_together_across_api_and_web(app: Flask, world: World) -> None:
    ann = world.a.members[0]
    client = client_at(app, "198.51.100.10")
    for attempt in range(10):
        if attempt % 2:
            response = client.post("/api/v1/tokens", json={"email": ann.email, "password": "no"})
        else:
            response = client.post("/login", data={"email": ann.email.upper(), "password": "no"})
        assert response.status_code == 401, attempt
    api_limited = client.post("/api/v1/tokens", json={"email": ann.email, "password": PASSWORD})
    assert api_limited.status_code == 429 and problem(api_limited)["code"] == "rate_limited"
    web_limited = client.post("/login", data={"email": ann.email, "password": PASSWORD})
    assert web_limited.status_code == 429
    assert client.get_cookie("session") is None or client.get("/api/v1/me").status_code == 401
    assert user_row(app, ann.user_id)["live"] == 1  # no token was minted
    # Another address is not affected.
    assert new_token(app, world.a.members[1].email)


def test_failed_sign_ins_per_client_address_count_together(app: Flask, world: World) -> None:
    client = client_at(app, "198.51.100.11")
    for attempt in range(100):
        address = f"nobody{attempt}@example.test"
        if attempt % 2:
            response = client.post("/api/v1/tokens", json={"email": address, "password": "no"})
        else:
            response = client.post("/login", data={"email": address, "password": "no"})
        assert response.status_code == 401, attempt
    ann = world.a.members[0]
    assert client.post("/login", data={"email": ann.email, "password": PASSWORD}).status_code == 429
    api = client.post("/api/v1/tokens", json={"email": ann.email, "password": PASSWORD})
    assert api.status_code == 429
    # Another client address has its own budget.
    ok = client_at(app, "198.51.100.12").post(
        "/api/v1/tokens", json={"email": ann.email, "password": PASSWORD}
    )
    assert ok.status_code == 201


# --- open redirect ------------------------------------------------------------------

HOSTILE_NEXT = [
    "//evil.example",
    "///evil.example",
    "/%09/evil.example",
    "/%0d/evil.example",
    "/%0a/evil.example",
    "/%0d%0aSet-Cookie:%20x=1",
    "/%00/evil.example",
    "/%5Cevil.example",
    "/%5C/evil.example",
    "%5C%5Cevil.example",
    "/%2F/evil.example",
    "%2F%2Fevil.example",
    "/%252F/evil.example",
    "/%255C/evil.example",
    "/%2509/evil.example",
    "https://evil.example",
    "https:evil.example",
    "http:/evil.example",
    "HTTPS://evil.example/",
    "javascript:alert(1)",
    "JaVaScRiPt%3Aalert(1)",
    "data:text/html,hi",
    "%20//evil.example",
    "/%20/evil.example",
    "/%E3%80%80/evil.example",
    "/%C2%A0/evil.example",
    "evil.example",
    "",
]


@pytest.mark.parametrize("hostile", HOSTILE_NEXT)
def test_login_never_redirects_off_the_site(app: Flask, world: World, hostile: str) -> None:
    ann = world.a.members[0]
    response = app.test_client().post(
        f"/login?next={hostile}", data={"email": ann.email, "password": PASSWORD}
    )
    # Either refused as hostile text (a control character: 422, before signing in)
    # or signed in and sent home; never anywhere else.
    assert response.status_code in (302, 422), response.status_code
    assert response.headers.get("Location", "/") == "/"


@pytest.mark.parametrize("hostile", HOSTILE_NEXT[:16])
def test_signup_never_redirects_off_the_site(app: Flask, world: World, hostile: str) -> None:
    response = app.test_client().post(
        f"/signup?next={hostile}",
        data={"email": f"new{abs(hash(hostile))}@example.test", "password": PASSWORD, "name": "N"},
    )
    # Refused as hostile text (422, nobody signed up), or signed up and sent home.
    assert response.status_code in (302, 422), response.status_code
    assert response.headers.get("Location", "/") == "/"


def test_a_form_next_field_is_checked_too(app: Flask, world: World, outbox: Path) -> None:
    client = web_login(app, world.a.coordinator.email)
    for hostile, address in (
        ("/\t/evil.example", "x1@example.test"),
        ("//evil", "x2@example.test"),
    ):
        response = client.post(
            f"/s/{world.a.slug}/manage/invitations",
            data={"email": address, "role": "member", "next": hostile},
        )
        # Refused as hostile text (422) or sent to the members page; never elsewhere.
        assert response.status_code in (302, 422), response.status_code
        where = response.headers.get("Location", f"/s/{world.a.slug}/manage/members")
        assert where == f"/s/{world.a.slug}/manage/members"


@pytest.mark.parametrize(
    "local", ["/s/alpha-bank/", "/s/alpha-bank/statement?page=2", "/invitations/abc-DEF_1"]
)
def test_login_follows_a_path_on_this_site(app: Flask, world: World, local: str) -> None:
    ann = world.a.members[0]
    response = app.test_client().post(
        "/login", query_string={"next": local}, data={"email": ann.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == local
