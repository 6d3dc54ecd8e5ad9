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


def test_a_request_that_enters_a_scheme_twice_leaves_no_scheme_behind(
    app: Flask, world: World
) -> None:
    from timebank.platform import tenancy

    with app.test_request_context("/"):
        tenancy.set_request_scheme(world.a.id)
        tenancy.set_request_scheme(world.b.id)
        assert tenancy.current().scheme_id == world.b.id
        tenancy.reset_request_scheme()
        assert tenancy.current().scheme_id is None
    # And through the app: a stale slug → id pair falls back cleanly.
    from timebank.tenants import access as services

    warm(world)
    key = next(k for k in services._scheme_ids if k[1] == world.a.slug)
    services._scheme_ids[key] = world.b.id  # a pair that no longer holds
    try:
        api = world.api(world.a.members[0])
        response = api.get(balance_url(world))
        assert response.status_code == 200
        assert response.get_json()["member_id"] == world.a.members[0].member_ids[world.a.slug]
        with app.app_context():
            assert tenancy.current().scheme_id is None
    finally:
        services._scheme_ids[key] = world.a.id


def test_a_bearer_token_is_judged_alike_before_and_after_the_scheme_is_known(
    app: Flask, world: World
) -> None:
    """A token sent with a session that holds no user (say, a CSRF token only) gets
    flask-login's answer whether or not the one-query path applies."""
    from timebank.tenants import access as services

    person = world.a.members[0]

    def call() -> int:
        client = app.test_client()
        with client.session_transaction() as session:
            session["csrf_token"] = "abc"
        return client.get(balance_url(world), headers=person.headers).status_code

    services._scheme_ids.clear()
    cold = call()
    warm(world)
    assert call() == cold


def test_a_transfer_sees_changes_made_earlier_in_its_unit_of_work(app: Flask, world: World) -> None:
    import pytest

    from timebank.platform import tenancy
    from timebank.platform.api.errors import RuleViolation
    from timebank.platform.db import db, run_atomic
    from timebank.platform.schemes.models import Scheme
    from timebank.tenants.ledger.services import member_account, post_transfer
    from timebank.tenants.memberships.models import Member

    payer, payee = world.a.members
    with app.app_context(), tenancy.scheme_context(world.a.id):
        scheme = db.session.get(Scheme, world.a.id)
        member = db.session.get(Member, (world.a.id, payer.member_ids[world.a.slug]))
        assert scheme is not None and member is not None

        def close_then_pay() -> None:
            member_account(member.id).status = "closed"  # pending, not yet flushed
            post_transfer(
                scheme,
                member,
                to_member_id=payee.member_ids[world.a.slug],
                amount=1,
                memo=None,
                actor_user_id=payer.user_id,
            )

        with pytest.raises(RuleViolation) as refused:
            run_atomic(close_then_pay)
        assert refused.value.code == "account_closed"
        assert member_account(member.id).status == "open"  # rolled back
