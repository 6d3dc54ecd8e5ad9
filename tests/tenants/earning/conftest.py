"""Helpers for the earning tests: everything goes through the API; reads may query."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from tests.factories import Person, SchemeInfo, World


def url(scheme: SchemeInfo, path: str) -> str:
    return f"/api/v1/schemes/{scheme.slug}/{path}"


def activity_ids(world: World, scheme: SchemeInfo) -> dict[str, int]:
    response = world.api(scheme.coordinator).get(url(scheme, "activities?limit=200"))
    assert response.status_code == 200, response.data
    return {item["name"]: item["id"] for item in response.get_json()["items"]}


def new_activity(world: World, scheme: SchemeInfo, **fields: Any) -> int:
    body = {"name": f"Activity {len(activity_ids(world, scheme)) + 1}", **fields}
    response = world.api(scheme.coordinator).post(url(scheme, "activities"), body)
    assert response.status_code == 201, response.data
    return int(response.get_json()["id"])


def claim(
    world: World,
    person: Person,
    scheme: SchemeInfo,
    activity_id: int,
    minutes: int,
    performed_on: date | str | None = None,
    **extra: Any,
) -> TestResponse:
    day = performed_on or date.today() - timedelta(days=1)
    headers = extra.pop("headers", None)
    body = {
        "activity_id": activity_id,
        "minutes": minutes,
        "performed_on": day if isinstance(day, str) else day.isoformat(),
        **extra,
    }
    return world.api(person).post(url(scheme, "claims"), body, headers=headers)


def balance(world: World, scheme: SchemeInfo, person: Person) -> int:
    response = world.api(person).get(url(scheme, "balance"))
    assert response.status_code == 200, response.data
    return int(response.get_json()["balance"])


def counts(app: Flask, scheme_id: int) -> dict[str, int]:
    """How many earning and ledger rows a scheme has (a read, to prove nothing was written)."""
    from timebank.platform import tenancy
    from timebank.platform.db import db
    from timebank.tenants.earning.models import Activity, Award, Claim
    from timebank.tenants.ledger.models import Posting, Transaction

    with app.app_context(), tenancy.scheme_context(scheme_id):
        result = {
            model.__tablename__: int(
                db.session.execute(select(func.count()).select_from(model)).scalar_one()
            )
            for model in (Activity, Award, Claim, Transaction, Posting)
        }
        db.session.rollback()
    return result


def audit_actions(app: Flask, scheme_id: int) -> list[str]:
    from timebank.platform import tenancy
    from timebank.platform.audit import AuditEvent
    from timebank.platform.db import db

    with app.app_context(), tenancy.scheme_context(scheme_id):
        actions = list(
            db.session.execute(select(AuditEvent.action).order_by(AuditEvent.id)).scalars()
        )
        db.session.rollback()
    return actions


def assert_ledger_ok(app: Flask) -> None:
    from timebank.tenants.ledger.verify import verify_ledger

    with app.app_context():
        report = verify_ledger()
    assert not report.breaks, report.lines()
