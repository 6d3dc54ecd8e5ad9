"""Small factories that set data up through the real services (never by writing rows)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from timebank.platform import tenancy
from timebank.platform.db import run_atomic

PASSWORD = "correct horse battery"
_counter = itertools.count(1)


@dataclass
class Person:
    user_id: int
    email: str
    name: str
    token: str
    member_ids: dict[str, int] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class SchemeInfo:
    slug: str
    id: int
    coordinator: Person
    members: list[Person]


@dataclass
class World:
    app: Flask
    a: SchemeInfo
    b: SchemeInfo

    def api(self, person: Person | None = None) -> Api:
        return Api(self.app.test_client(), person)


class Api:
    """A test client that speaks JSON with one person's token."""

    def __init__(self, client: FlaskClient, person: Person | None) -> None:
        self.client = client
        self.person = person

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        headers = dict(self.person.headers) if self.person else {}
        headers.update(extra or {})
        return headers

    def get(self, path: str, **kw: Any) -> TestResponse:
        return self.client.get(path, headers=self._headers(kw.pop("headers", None)), **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> TestResponse:
        return self.client.post(
            path,
            json=json if json is not None else {},
            headers=self._headers(kw.pop("headers", None)),
            **kw,
        )

    def put(self, path: str, json: Any = None, **kw: Any) -> TestResponse:
        return self.client.put(
            path, json=json, headers=self._headers(kw.pop("headers", None)), **kw
        )

    def patch(self, path: str, json: Any = None, **kw: Any) -> TestResponse:
        return self.client.patch(
            path, json=json, headers=self._headers(kw.pop("headers", None)), **kw
        )


def make_user(app: Flask, name: str | None = None, email: str | None = None) -> Person:
    from timebank.platform.identity.services import issue_token, register_user

    n = next(_counter)
    name = name or f"Person {n}"
    email = email or f"person{n}@example.test"
    with app.app_context():
        user = register_user(email=email, password=PASSWORD, name=name)
        token, _ = issue_token(user)
        return Person(user_id=user.id, email=user.email, name=user.name, token=token)


def make_operator(app: Flask) -> Person:
    from sqlalchemy import update

    from timebank.platform.db import db
    from timebank.platform.identity.models import User

    person = make_user(app, name="Olu Operator")
    with app.app_context():
        db.session.execute(update(User).where(User.id == person.user_id).values(is_operator=True))
        db.session.commit()
    return person


def make_scheme(
    app: Flask,
    coordinator: Person,
    *,
    slug: str | None = None,
    template: str = "community",
    name: str | None = None,
    policy: dict[str, Any] | None = None,
) -> SchemeInfo:
    from timebank.platform.identity.models import User
    from timebank.platform.schemes.services import create_scheme
    from timebank.tenants.templates import load_template

    slug = slug or f"scheme-{next(_counter)}"
    data = load_template(template)
    if policy:
        _deep_update(data["policy"], policy)
    with app.app_context():
        from timebank.platform.db import db

        user = db.session.get(User, coordinator.user_id)
        assert user is not None
        scheme = create_scheme(
            name=name or slug.replace("-", " ").title(),
            slug=slug,
            template=template,
            creator=user,
            template_data=data,
        )
        coordinator.member_ids[slug] = _member_id(scheme.id, coordinator.user_id)
        return SchemeInfo(slug=slug, id=scheme.id, coordinator=coordinator, members=[])


def _deep_update(target: dict[str, Any], changes: dict[str, Any]) -> None:
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _deep_update(target[key], value)
        else:
            target[key] = value


def _member_id(scheme_id: int, user_id: int) -> int:
    from sqlalchemy import select

    from timebank.platform.db import db
    from timebank.tenants.memberships.models import Member

    with tenancy.scheme_context(scheme_id):
        return int(
            db.session.execute(select(Member.id).where(Member.user_id == user_id)).scalar_one()
        )


def add_member(app: Flask, scheme: SchemeInfo, person: Person, role: str = "member") -> int:
    from timebank.platform.db import db
    from timebank.platform.identity.models import User
    from timebank.platform.schemes.models import Scheme
    from timebank.tenants.memberships.services import join_scheme

    with app.app_context():

        def work() -> int:
            with tenancy.scheme_context(scheme.id):
                row = db.session.get(Scheme, scheme.id)
                user = db.session.get(User, person.user_id)
                assert row is not None and user is not None
                member = join_scheme(row, user, role=role, actor_user_id=scheme.coordinator.user_id)
                return member.id

        member_id = run_atomic(work)
    person.member_ids[scheme.slug] = member_id
    if person not in scheme.members:
        scheme.members.append(person)
    return member_id


def fund(app: Flask, scheme: SchemeInfo, person: Person, minutes: int) -> None:
    """Credit a member from the scheme's issuance account (as an adjustment)."""
    from timebank.platform.db import db
    from timebank.platform.schemes.models import Scheme
    from timebank.tenants.ledger.services import (
        Leg,
        member_account,
        post_transaction,
        scheme_account,
    )

    with app.app_context():

        def work() -> None:
            with tenancy.scheme_context(scheme.id):
                row = db.session.get(Scheme, scheme.id)
                assert row is not None
                account = member_account(person.member_ids[scheme.slug])
                issuance = scheme_account("issuance")
                post_transaction(
                    row,
                    kind="adjustment",
                    legs=[Leg(issuance.id, -minutes), Leg(account.id, minutes)],
                    actor_user_id=scheme.coordinator.user_id,
                    memo="test funding",
                )

        run_atomic(work)


def build_world(app: Flask) -> World:
    a_coord = make_user(app, name="Ada Coordinator")
    a = make_scheme(app, a_coord, slug="alpha-bank", template="community", name="Alpha Time Bank")
    for name in ("Ann Alpha", "Arthur Alpha"):
        add_member(app, a, make_user(app, name=name))
    b_coord = make_user(app, name="Bea Coordinator")
    b = make_scheme(app, b_coord, slug="beta-surgery", template="surgery", name="Beta Surgery")
    for name in ("Ben Beta", "Bella Beta"):
        add_member(app, b, make_user(app, name=name))
    return World(app=app, a=a, b=b)


def problem(response: TestResponse) -> dict[str, Any]:
    assert response.mimetype == "application/problem+json", (response.status, response.data)
    body: dict[str, Any] = response.get_json()
    assert {"type", "title", "status", "detail", "code"} <= set(body), body
    assert body["status"] == response.status_code
    return body
