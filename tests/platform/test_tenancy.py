"""Tenant isolation, three times over: keys, the ORM hook, row-level security.

Plus the cross-scheme checks over every API route in the URL map: no
credentials → 401; a member of scheme B asking for scheme A (or A's objects)
gets the same 404 as for a missing one.
"""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import IntegrityError

from tests.factories import World, fund, make_scheme, make_user, problem

# (method, rule) pairs anyone may call: DELETE /api/v1/tokens still needs credentials.
PUBLIC = {
    ("POST", "/api/v1/users"),
    ("POST", "/api/v1/tokens"),
    ("GET", "/api/v1/openapi.json"),
    ("POST", "/api/v1/password/forgot"),
    ("POST", "/api/v1/password/reset"),
    ("POST", "/api/v1/card-tokens"),  # a card code and PIN are the credentials
    ("POST", "/api/v1/referral-links/<token>/referrals"),
    # A scheme's published ledger roots: anyone may check a statement against them.
    ("GET", "/api/v1/public/schemes/<slug>/roots"),
    ("GET", "/api/v1/public/schemes/<slug>/roots/latest"),
}
NEEDS_POSTGRES = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL"), reason="row-level security is a PostgreSQL feature"
)


def api_rules(app: Flask) -> list[tuple[str, str]]:
    rules = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            rules.append((method, rule.rule))
    return sorted(set(rules))


def fill(rule: str, slug: str, object_id: int = 1) -> str:
    path = rule.replace("<slug>", slug)
    path = re.sub(r"<int:\w+>", str(object_id), path)
    return re.sub(r"<(?:string:)?\w+>", "x" * 12, path)


def test_every_api_route_is_covered(app: Flask) -> None:
    rules = api_rules(app)
    assert ("POST", "/api/v1/schemes/<slug>/transfers") in rules
    assert len(rules) >= 20


def test_no_credentials_gives_401_on_every_private_route(app: Flask, world: World) -> None:
    client = app.test_client()
    for method, rule in api_rules(app):
        if (method, rule) in PUBLIC:
            continue
        response = client.open(fill(rule, world.a.slug), method=method, json={})
        assert response.status_code == 401, (method, rule, response.status_code)
        assert problem(response)["code"] == "unauthorized"


def test_another_schemes_routes_give_the_same_404_as_a_missing_scheme(
    app: Flask, world: World
) -> None:
    outsider = world.b.members[0]  # belongs to B only
    api = world.api(outsider)
    checked = 0
    for method, rule in api_rules(app):
        if not rule.startswith("/api/v1/schemes/<slug>"):
            continue
        foreign = api.client.open(
            fill(rule, world.a.slug), method=method, json={}, headers=outsider.headers
        )
        missing = api.client.open(
            fill(rule, "no-such-scheme"), method=method, json={}, headers=outsider.headers
        )
        assert foreign.status_code == 404, (method, rule, foreign.status_code, foreign.data)
        assert foreign.get_json() == missing.get_json(), (method, rule)
        checked += 1
    assert checked >= 10


def _populate_scheme_a(app: Flask, world: World) -> None:
    """Give scheme A the first object of every kind (ids 1), before B has any."""
    fund(app, world.a, world.a.members[0], 600)  # transaction 1 is A's
    api = world.api(world.a.members[0])
    api.post(
        f"/api/v1/schemes/{world.a.slug}/transfers",
        {"to_member_id": world.a.members[1].member_ids[world.a.slug], "amount": 30},
    )


OPTIONAL_FEATURES = {
    "sittings": {"enabled": True},
    "orders": {"enabled": True},
    "groups": {"enabled": True},
    "referrals": {"enabled": True},
}


def _switch_on_optional_features(world: World) -> None:
    """Both schemes use every optional workflow, so each route reaches its object look-up
    (with a feature off, its routes answer 403 ``…_disabled`` before any look-up)."""
    for scheme in (world.a, world.b):
        api = world.api(scheme.coordinator)
        document = api.get(f"/api/v1/schemes/{scheme.slug}/policy").get_json()
        document.pop("version", None)
        for section, changes in OPTIONAL_FEATURES.items():
            document[section] = {**document[section], **changes}
        saved = api.put(f"/api/v1/schemes/{scheme.slug}/policy", document)
        assert saved.status_code == 200, saved.data


def test_another_schemes_objects_give_404_to_a_coordinator(app: Flask, world: World) -> None:
    """B's coordinator, in B, asking for objects that exist in A only (id 1 of each table)."""
    _switch_on_optional_features(world)
    _populate_scheme_a(app, world)
    b_coordinator = world.b.coordinator
    a_coordinator = world.a.coordinator
    checked = 0
    found_in_a: set[str] = set()
    for method, rule in api_rules(app):
        if not rule.startswith("/api/v1/schemes/<slug>") or "<int:" not in rule:
            continue
        body: dict[str, Any] = {}
        in_b = app.test_client().open(
            fill(rule, world.b.slug), method=method, json=body, headers=b_coordinator.headers
        )
        if in_b.status_code == 422:
            continue  # the body is checked before the object; covered by each domain's tests
        assert in_b.status_code == 404, (method, rule, in_b.status_code, in_b.data)
        in_a = app.test_client().open(
            fill(rule, world.a.slug), method=method, json=body, headers=a_coordinator.headers
        )
        if in_a.status_code != 404:
            found_in_a.add(rule)
        checked += 1
    assert checked >= 2
    # Not vacuous: the same ids do resolve in scheme A.
    assert "/api/v1/schemes/<slug>/transactions/<int:transaction_id>" in found_in_a


def test_orm_hook_refuses_an_unscoped_tenant_query(app: Flask, world: World) -> None:
    from timebank.platform import tenancy
    from timebank.platform.db import UnscopedQueryError, db
    from timebank.tenants.ledger.models import Account

    with app.app_context():
        with pytest.raises(UnscopedQueryError):
            db.session.execute(select(Account)).all()
        with tenancy.scheme_context(world.a.id):
            scheme_ids = {a.scheme_id for a in db.session.execute(select(Account)).scalars()}
        assert scheme_ids == {world.a.id}
        with tenancy.all_schemes():
            every = {a.scheme_id for a in db.session.execute(select(Account)).scalars()}
        assert every == {world.a.id, world.b.id}
        # Entities named only in select_from, joins and subqueries are scoped too.
        count_all = select(func.count()).select_from(Account)
        with pytest.raises(UnscopedQueryError):
            db.session.execute(count_all)
        with tenancy.all_schemes():
            total = db.session.execute(count_all).scalar_one()
        with tenancy.scheme_context(world.a.id):
            in_a = db.session.execute(count_all).scalar_one()
            sub = select(Account.id).subquery()
            in_a_sub = db.session.execute(select(func.count()).select_from(sub)).scalar_one()
        assert in_a == in_a_sub == total // 2


def test_a_row_of_one_scheme_cannot_reference_a_row_of_another(app: Flask, world: World) -> None:
    """The composite foreign key (scheme_id, member_id) → members refuses a cross-scheme link."""
    from timebank.platform import tenancy
    from timebank.platform.db import db
    from timebank.tenants.ledger.models import Account

    b_member = world.b.members[0].member_ids[world.b.slug]
    with app.app_context(), tenancy.scheme_context(world.a.id):
        db.session.add(Account(scheme_id=world.a.id, kind="member", member_id=b_member))
        with pytest.raises(IntegrityError):
            db.session.flush()
        db.session.rollback()


def test_scheme_ids_lead_every_tenant_primary_and_foreign_key(app: Flask) -> None:
    from timebank.platform.db import Base, is_tenant_model

    for mapper in Base.registry.mappers:
        table = mapper.local_table
        if not is_tenant_model(mapper.class_):
            continue
        assert next(c.name for c in table.primary_key.columns) == "scheme_id", table.name
        for fk in table.foreign_key_constraints:  # type: ignore[attr-defined]
            target = fk.referred_table
            if target.name in {"users", "schemes"}:
                continue
            assert "scheme_id" in fk.column_keys, (table.name, fk.column_keys)


@NEEDS_POSTGRES
def test_row_level_security_hides_other_schemes_from_the_app_role(app: Flask, world: World) -> None:
    fund(app, world.a, world.a.members[0], 60)
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    try:
        with engine.begin() as conn:
            user = conn.execute(text("SELECT current_user")).scalar_one()
            assert user == "timebank_app"
            flags = conn.execute(
                text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
            ).one()
            assert tuple(flags) == (False, False)
            # No scheme set: nothing at all is visible.
            assert conn.execute(text("SELECT count(*) FROM accounts")).scalar_one() == 0
            conn.execute(
                text("SELECT set_config('app.scheme_ids', :ids, true)"), {"ids": str(world.b.id)}
            )
            schemes = set(conn.execute(text("SELECT DISTINCT scheme_id FROM accounts")).scalars())
            assert schemes == {world.b.id}
            assert conn.execute(text("SELECT count(*) FROM postings")).scalar_one() == 0
            # Writing a row into scheme A from B's context is refused.
            with pytest.raises(Exception, match="row-level security"):
                conn.execute(
                    text(
                        "INSERT INTO audit_events (scheme_id, action, details, created_at) "
                        "VALUES (:s, 'x', '{}', now())"
                    ),
                    {"s": world.a.id},
                )
    finally:
        engine.dispose()


def test_scheme_b_saw_nothing_of_scheme_a_activity(app: Flask, world: World) -> None:
    fund(app, world.a, world.a.members[0], 120)
    b_api = world.api(world.b.coordinator)
    listing = b_api.get(f"/api/v1/schemes/{world.b.slug}/transactions").get_json()
    assert listing["items"] == []
    members = b_api.get(f"/api/v1/schemes/{world.b.slug}/members").get_json()["items"]
    assert {m["name"] for m in members} == {"Bea Coordinator", "Ben Beta", "Bella Beta"}


def test_a_new_scheme_is_fully_isolated_from_the_start(app: Flask, world: World) -> None:
    owner = make_user(app)
    scheme = make_scheme(app, owner, template="school")
    api = world.api(owner)
    body = api.get(f"/api/v1/schemes/{scheme.slug}/members").get_json()
    assert [m["member_id"] for m in body["items"]] == [owner.member_ids[scheme.slug]]
