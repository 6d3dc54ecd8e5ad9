"""A youth court for the court tests: a coordinator, six members, everything through the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import func, select

from tests.factories import Person, SchemeInfo, World, add_member, make_scheme, make_user

NAMES = ("Yasmin Young", "Zac Young", "Yusuf Young", "Zoe Young", "Yara Young", "Zain Young")


@dataclass
class Court:
    world: World
    scheme: SchemeInfo
    other: SchemeInfo  # a second youth court: must see nothing of the first

    @property
    def coordinator(self) -> Person:
        return self.scheme.coordinator

    @property
    def members(self) -> list[Person]:
        return self.scheme.members

    def url(self, path: str, scheme: SchemeInfo | None = None) -> str:
        return f"/api/v1/schemes/{(scheme or self.scheme).slug}/{path}"

    def member_id(self, person: Person, scheme: SchemeInfo | None = None) -> int:
        return person.member_ids[(scheme or self.scheme).slug]


def make_court(app: Flask, slug: str, name: str, **policy: Any) -> SchemeInfo:
    scheme = make_scheme(
        app,
        make_user(app, name=f"Coordinator of {name}"),
        slug=slug,
        template="youth_court",
        name=name,
        policy=policy or None,
    )
    for person_name in NAMES:
        add_member(app, scheme, make_user(app, name=f"{person_name} {slug[:3]}"))
    return scheme


@pytest.fixture
def court(app: Flask, world: World) -> Court:
    return Court(
        world=world,
        scheme=make_court(app, "river-court", "River Youth Court"),
        other=make_court(app, "hill-court", "Hill Youth Court"),
    )


def local_today() -> date:
    """Today in the schemes' time zone (Europe/London, the default)."""
    return datetime.now(UTC).astimezone(ZoneInfo("Europe/London")).date()


def tomorrow_at(hour: int = 17) -> str:
    day = local_today() + timedelta(days=1)
    return f"{day.isoformat()}T{hour:02d}:00:00"


def balance(court: Court, person: Person, scheme: SchemeInfo | None = None) -> int:
    response = court.world.api(person).get(court.url("balance", scheme))
    assert response.status_code == 200, response.data
    return int(response.get_json()["balance"])


def ledger_rows(app: Flask, scheme_id: int) -> tuple[int, int]:
    """(transactions, postings) of a scheme."""
    from timebank.platform import tenancy
    from timebank.platform.db import db
    from timebank.tenants.ledger.models import Posting, Transaction

    with app.app_context(), tenancy.scheme_context(scheme_id):
        result = tuple(
            int(db.session.execute(select(func.count()).select_from(model)).scalar_one())
            for model in (Transaction, Posting)
        )
        db.session.rollback()
    return result  # type: ignore[return-value]
