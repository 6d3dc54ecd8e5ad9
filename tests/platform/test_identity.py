from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.conftest import test_config as app_config
from tests.factories import PASSWORD, World, make_user, problem


def test_sign_up_sign_in_and_me(app: Flask, world: World) -> None:
    api = world.api()
    response = api.post(
        "/api/v1/users", {"email": "Zoe@Example.test", "password": "long enough", "name": "Zoe"}
    )
    assert response.status_code == 201, response.data
    assert response.get_json()["email"] == "Zoe@Example.test"

    duplicate = api.post(
        "/api/v1/users", {"email": "zoe@EXAMPLE.test", "password": "long enough", "name": "Z"}
    )
    assert duplicate.status_code == 409
    assert problem(duplicate)["code"] == "email_taken"

    token = api.post("/api/v1/tokens", {"email": "zoe@example.test", "password": "long enough"})
    assert token.status_code == 201
    body = token.get_json()
    assert body["token"] and body["expires_at"].endswith(("Z", "+00:00"))

    me = api.get("/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200
    assert me.get_json()["memberships"] == []


def test_me_lists_every_scheme_with_balance(app: Flask, world: World) -> None:
    from tests.factories import add_member

    ann = world.a.members[0]
    add_member(app, world.b, ann)
    me = world.api(ann).get("/api/v1/me").get_json()
    slugs = {m["scheme"]: m for m in me["memberships"]}
    assert set(slugs) == {world.a.slug, world.b.slug}
    assert slugs[world.a.slug]["member_id"] == ann.member_ids[world.a.slug]
    assert all(m["balance"] == 0 and m["role"] == "member" for m in slugs.values())


def test_wrong_password_and_unknown_email_are_the_same_401(app: Flask, world: World) -> None:
    person = make_user(app)
    api = world.api()
    wrong = api.post("/api/v1/tokens", {"email": person.email, "password": "nope-nope"})
    unknown = api.post("/api/v1/tokens", {"email": "ghost@example.test", "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    assert problem(wrong)["code"] == problem(unknown)["code"] == "invalid_credentials"


def test_no_credentials_and_bad_token_get_401(app: Flask, world: World) -> None:
    api = world.api()
    assert problem(api.get("/api/v1/me"))["code"] == "unauthorized"
    bad = api.get("/api/v1/me", headers={"Authorization": "Bearer tb_not-a-token"})
    assert bad.status_code == 401


def test_revoked_token_stops_working(app: Flask, world: World) -> None:
    person = make_user(app)
    api = world.api(person)
    assert api.get("/api/v1/me").status_code == 200
    assert api.client.delete("/api/v1/tokens/current", headers=person.headers).status_code == 204
    assert api.get("/api/v1/me").status_code == 401


def test_failed_sign_ins_are_rate_limited_per_email(app: Flask, world: World) -> None:
    person = make_user(app)
    api = world.api()
    for _ in range(10):
        assert (
            api.post("/api/v1/tokens", {"email": person.email, "password": "wrong-one"}).status_code
            == 401
        )
    limited = api.post("/api/v1/tokens", {"email": person.email, "password": PASSWORD})
    assert limited.status_code == 429
    assert problem(limited)["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) > 0
    # another address is not affected
    other = make_user(app)
    assert (
        api.post("/api/v1/tokens", {"email": other.email, "password": PASSWORD}).status_code == 201
    )


def test_passwords_are_stored_as_argon2_hashes(app: Flask) -> None:
    from sqlalchemy import select

    from timebank.platform.db import db
    from timebank.platform.identity.models import ApiToken, User

    person = make_user(app)
    with app.app_context():
        user = db.session.execute(select(User).where(User.id == person.user_id)).scalar_one()
        assert user.password_hash.startswith("$argon2")
        assert PASSWORD not in user.password_hash
        hashes = db.session.execute(select(ApiToken.token_hash)).scalars().all()
        assert person.token not in hashes and len(hashes) == 1


@pytest.mark.parametrize("proxies", [0, 1])
def test_the_client_address_is_read_through_trusted_proxies_only(
    database: Any, tmp_path: Path, proxies: int
) -> None:
    """Behind nginx (TRUSTED_PROXIES=1) the app sees the client's address and scheme;
    with no proxy trusted, a forged X-Forwarded-For changes nothing."""
    from flask import request

    from timebank.platform.app import create_app
    from timebank.platform.db import db

    app = create_app(app_config(database, tmp_path, TRUSTED_PROXIES=proxies))
    app.add_url_rule("/_probe", "probe", lambda: f"{request.remote_addr} {request.scheme}")
    try:
        seen = app.test_client().get(
            "/_probe", headers={"X-Forwarded-For": "203.0.113.5", "X-Forwarded-Proto": "https"}
        )
        assert seen.get_data(as_text=True) == ("203.0.113.5 https" if proxies else "127.0.0.1 http")
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        database.reset()


def test_sign_in_limits_count_each_client_behind_the_proxy(database: Any, tmp_path: Path) -> None:
    import secrets

    from timebank.platform.app import create_app
    from timebank.platform.db import db
    from timebank.platform.ratelimit import FAILED_PER_ADDRESS

    app = create_app(app_config(database, tmp_path, TRUSTED_PROXIES=1))
    try:
        client = app.test_client()
        budget = int(FAILED_PER_ADDRESS.split()[0])
        # Addresses of this run only: budgets outlive an app in the limiter's storage.
        first, second = (f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}" for _ in "ab")

        def sign_in(n: int, address: str) -> int:
            return client.post(
                "/api/v1/tokens",
                json={"email": f"nobody-{n}@example.test", "password": "wrong-one"},
                headers={"X-Forwarded-For": address},
            ).status_code

        assert {sign_in(n, first) for n in range(budget)} == {401}
        assert sign_in(budget, first) == 429
        assert sign_in(budget + 1, second) == 401
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        database.reset()
