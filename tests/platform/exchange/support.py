"""Helpers for the exchange tests: agreements through the API, reads through the services."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import func, select

from tests.factories import SchemeInfo, World
from timebank.platform import tenancy
from timebank.platform.db import db


def agree(world: World, a: SchemeInfo, b: SchemeInfo, *, rate: str = "2", limit: int = 6000) -> int:
    """An active agreement proposed by ``a`` (rate in a's terms) and accepted by ``b``."""
    proposed = world.api(a.coordinator).post(
        f"/api/v1/schemes/{a.slug}/agreements", {"partner": b.slug, "rate": rate, "limit": limit}
    )
    assert proposed.status_code == 201, proposed.get_json()
    agreement_id: int = proposed.get_json()["id"]
    accepted = world.api(b.coordinator).post(
        f"/api/v1/schemes/{b.slug}/agreements/{agreement_id}/accept"
    )
    assert accepted.status_code == 200, accepted.get_json()
    return agreement_id


def pay(world: World, payer: Any, a: SchemeInfo, b: SchemeInfo, payee: Any, amount: int, **kw: Any):  # type: ignore[no-untyped-def]
    return world.api(payer).post(
        f"/api/v1/schemes/{a.slug}/transfers",
        {"to_scheme": b.slug, "to_member_id": payee.member_ids[b.slug], "amount": amount},
        **kw,
    )


def listed(world: World, person: Any, scheme: SchemeInfo) -> dict[int, dict[str, Any]]:
    response = world.api(person).get(f"/api/v1/schemes/{scheme.slug}/agreements")
    assert response.status_code == 200, response.get_json()
    return {item["id"]: item for item in response.get_json()["items"]}


def balance(world: World, person: Any, scheme: SchemeInfo) -> int:
    response = world.api(person).get(f"/api/v1/schemes/{scheme.slug}/balance")
    assert response.status_code == 200, response.get_json()
    return int(response.get_json()["balance"])


def counts(app: Flask, scheme: SchemeInfo) -> dict[str, int]:
    """Rows of the ledger and audit of one scheme, read under its own context."""
    from timebank.platform.audit import AuditEvent
    from timebank.tenants.ledger.models import Account, Posting, Transaction

    with app.app_context(), tenancy.scheme_context(scheme.id):
        out = {
            name: int(db.session.execute(select(func.count()).select_from(model)).scalar_one())
            for name, model in (
                ("transactions", Transaction),
                ("postings", Posting),
                ("accounts", Account),
                ("audit", AuditEvent),
            )
        }
        out["balance_total"] = int(
            db.session.execute(select(func.coalesce(func.sum(Account.balance), 0))).scalar_one()
        )
        db.session.rollback()
    return out


def exchange_rows(app: Flask) -> int:
    from timebank.platform.exchange.models import Exchange

    with app.app_context():
        n = int(db.session.execute(select(func.count()).select_from(Exchange)).scalar_one())
        db.session.rollback()
    return n


def audit_actions(app: Flask, scheme: SchemeInfo) -> list[str]:
    from timebank.platform.audit import AuditEvent

    with app.app_context(), tenancy.scheme_context(scheme.id):
        actions = list(
            db.session.execute(
                select(AuditEvent.action)
                .where(AuditEvent.action.like("agreement.%"))
                .order_by(AuditEvent.id)
            ).scalars()
        )
        db.session.rollback()
    return actions


def verify(app: Flask) -> list[str]:
    """Run ``timebank ledger verify``; return its lines (asserting no break)."""
    from timebank.tenants.ledger.verify import verify_ledger

    with app.app_context():
        report = verify_ledger()
    lines = report.lines()
    assert not report.breaks, "\n".join(lines)
    return lines
