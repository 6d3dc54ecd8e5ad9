"""Helpers for the spending tests: requests through the API, reads through the scheme context."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from tests.factories import Person, SchemeInfo, World
from timebank.platform import tenancy
from timebank.platform.db import db


def url(scheme: SchemeInfo, path: str) -> str:
    return f"/api/v1/schemes/{scheme.slug}/{path.lstrip('/')}"


def balance(world: World, person: Person, scheme: SchemeInfo) -> int:
    response = world.api(person).get(url(scheme, "balance"))
    assert response.status_code == 200, response.get_json()
    return int(response.get_json()["balance"])


def create_reward(world: World, scheme: SchemeInfo, **fields: Any) -> dict[str, Any]:
    body = {"name": "Test reward", "price": 60} | fields
    response = world.api(scheme.coordinator).post(url(scheme, "rewards"), body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def redeem(
    world: World, person: Person, scheme: SchemeInfo, reward_id: int, quantity: int = 1
) -> TestResponse:
    return world.api(person).post(
        url(scheme, "redemptions"), {"reward_id": reward_id, "quantity": quantity}
    )


def snapshot(app: Flask, scheme: SchemeInfo) -> dict[str, Any]:
    """Everything spending and the ledger wrote in one scheme, read under its own context."""
    from timebank.platform.audit import AuditEvent
    from timebank.tenants.ledger.models import Account, Posting, Transaction
    from timebank.tenants.spending.models import ExpiryNotice, Redemption, Reward, RewardGoal

    with app.app_context(), tenancy.scheme_context(scheme.id):
        out: dict[str, Any] = {
            name: int(db.session.execute(select(func.count()).select_from(model)).scalar_one())
            for name, model in (
                ("transactions", Transaction),
                ("postings", Posting),
                ("rewards", Reward),
                ("redemptions", Redemption),
                ("notices", ExpiryNotice),
                ("reward_goals", RewardGoal),
                ("audit", AuditEvent),
            )
        }
        out["balances"] = dict(
            db.session.execute(select(Account.id, Account.balance).order_by(Account.id)).all()
        )
        out["stock"] = dict(
            db.session.execute(select(Reward.id, Reward.stock).order_by(Reward.id)).all()
        )
        db.session.rollback()
    return out


def transactions_of_kind(app: Flask, scheme: SchemeInfo, kind: str) -> list[int]:
    from timebank.tenants.ledger.models import Transaction

    with app.app_context(), tenancy.scheme_context(scheme.id):
        ids = list(
            db.session.execute(
                select(Transaction.id).where(Transaction.kind == kind).order_by(Transaction.id)
            ).scalars()
        )
        db.session.rollback()
    return ids


def scheme_account_balance(app: Flask, scheme: SchemeInfo, kind: str) -> int:
    from timebank.tenants.ledger.models import Account

    with app.app_context(), tenancy.scheme_context(scheme.id):
        value = int(
            db.session.execute(select(Account.balance).where(Account.kind == kind)).scalar_one()
        )
        db.session.rollback()
    return value


def verify(app: Flask) -> list[str]:
    """Breaks reported by ``timebank ledger verify`` over every scheme."""
    from timebank.tenants.ledger.verify import verify_ledger

    with app.app_context():
        return verify_ledger().breaks
