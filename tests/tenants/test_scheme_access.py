"""Who may call a scheme endpoint: once a scheme's id is known in the process, the
token, the user, the scheme and the membership are read in one query. Every
refusal of the step-by-step path must hold on that one too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import update

from tests.factories import World, make_user, problem
from tests.querycount import count_queries


def balance_url(world: World, scheme: str = "a") -> str:
    slug = world.a.slug if scheme == "a" else world.b.slug
    return f"/api/v1/schemes/{slug}/balance"


def change(app: Flask, statement: Any) -> None:
    from timebank.platform import tenancy
    from timebank.platform.db import db

    with app.app_context(), tenancy.all_schemes():
        db.session.execute(statement)
        db.session.commit()


def warm(world: World) -> None:
    """One call from someone else, so that the scheme's id is known."""
    assert world.api(world.a.coordinator).get(balance_url(world)).status_code == 200


def test_one_query_finds_token_user_scheme_and_membership(app: Flask, world: World) -> None:
    from timebank.platform.db import db

    warm(world)
    with app.app_context():
        engine = db.engine
    api = world.api(world.a.members[0])
    with count_queries(engine) as queries:
        response = api.get(balance_url(world))
    assert response.status_code == 200
    assert response.get_json()["member_id"] == world.a.members[0].member_ids[world.a.slug]
    callers = [sql for sql in queries if "users." in sql]
    assert len(callers) == 1 and "schemes." in callers[0], queries.explain()
    # The caller (token, user, scheme, membership) and the account; on PostgreSQL
    # also the row-level-security settings.
    assert len(queries) <= 3, queries.explain()


def test_a_revoked_token_is_refused_at_once(app: Flask, world: World) -> None:
    warm(world)
    person = world.a.members[0]
    api = world.api(person)
    assert api.get(balance_url(world)).status_code == 200
    assert api.client.delete("/api/v1/tokens/current", headers=person.headers).status_code == 204
    refused = api.get(balance_url(world))
    assert refused.status_code == 401 and problem(refused)["code"] == "unauthorized"


def test_an_expired_token_and_a_disabled_user_are_refused(app: Flask, world: World) -> None:
    from timebank.platform.identity.models import ApiToken, User

    warm(world)
    first, second = world.a.members
    change(
        app,
        update(ApiToken)
        .where(ApiToken.user_id == first.user_id)
        .values(expires_at=datetime.now(UTC) - timedelta(minutes=1)),
    )
    change(app, update(User).where(User.id == second.user_id).values(is_disabled=True))
    for person in (first, second):
        refused = world.api(person).get(balance_url(world))
        assert refused.status_code == 401, person
        assert problem(refused)["code"] == "unauthorized"


def test_outsiders_and_leavers_get_the_same_404_and_the_other_scheme_sees_nothing(
    app: Flask, world: World
) -> None:
    from timebank.tenants.memberships.models import Member

    warm(world)
    outsider = make_user(app)
    leaver = world.a.members[1]
    change(
        app,
        update(Member)
        .where(Member.id == leaver.member_ids[world.a.slug])
        .values(status="left", left_at=datetime.now(UTC)),
    )
    b_member = world.b.members[0]
    for person in (outsider, leaver, b_member):
        refused = world.api(person).get(balance_url(world))
        assert refused.status_code == 404, person
        body = problem(refused)
        assert body["detail"] == problem(world.api(outsider).get(balance_url(world)))["detail"]
    # A scheme-b member is answered in scheme b, and only there.
    own = world.api(b_member).get(balance_url(world, "b"))
    assert own.status_code == 200
    assert own.get_json()["member_id"] == b_member.member_ids[world.b.slug]


def test_an_unknown_slug_and_a_bad_token_answer_as_before(app: Flask, world: World) -> None:
    warm(world)
    api = world.api(world.a.members[0])
    missing = api.get("/api/v1/schemes/no-such-scheme/balance")
    assert missing.status_code == 404
    bad = api.get(balance_url(world), headers={"Authorization": "Bearer tb_not-a-token"})
    assert bad.status_code == 401
    none = api.client.get(balance_url(world))
    assert none.status_code == 401 and problem(none)["code"] == "unauthorized"
