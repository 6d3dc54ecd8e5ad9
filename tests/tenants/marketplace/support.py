"""Helpers for the offers-and-requests tests: requests through the API, reads in the scheme."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from tests.factories import Person, SchemeInfo, World
from timebank.platform import tenancy
from timebank.platform.db import db


def url(scheme: SchemeInfo, path: str) -> str:
    return f"/api/v1/schemes/{scheme.slug}/{path.lstrip('/')}"


def category_ids(world: World, scheme: SchemeInfo) -> dict[str, int]:
    response = world.api(scheme.coordinator).get(url(scheme, "categories?limit=200"))
    assert response.status_code == 200, response.get_json()
    return {item["name"]: item["id"] for item in response.get_json()["items"]}


def post_listing(world: World, person: Person, scheme: SchemeInfo, **fields: Any) -> TestResponse:
    body: dict[str, Any] = {
        "kind": "request",
        "title": "Help with my garden",
        "category_id": category_ids(world, scheme)["Gardening"],
    }
    body.update(fields)
    return world.api(person).post(url(scheme, "listings"), body)


def listing(world: World, person: Person, scheme: SchemeInfo, **fields: Any) -> dict[str, Any]:
    response = post_listing(world, person, scheme, **fields)
    assert response.status_code == 201, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def balance(world: World, person: Person, scheme: SchemeInfo) -> int:
    response = world.api(person).get(url(scheme, "balance"))
    assert response.status_code == 200, response.get_json()
    return int(response.get_json()["balance"])


def snapshot(app: Flask, scheme: SchemeInfo) -> dict[str, Any]:
    """Every row the marketplace and the ledger hold in one scheme (read in its context)."""
    from timebank.platform.audit import AuditEvent
    from timebank.tenants.ledger.models import Account, Posting, Transaction
    from timebank.tenants.marketplace.models import (
        Listing,
        ListingCategory,
        ListingMessage,
        ListingResponse,
    )

    with app.app_context(), tenancy.scheme_context(scheme.id):
        out: dict[str, Any] = {
            name: int(db.session.execute(select(func.count()).select_from(model)).scalar_one())
            for name, model in (
                ("categories", ListingCategory),
                ("listings", Listing),
                ("responses", ListingResponse),
                ("messages", ListingMessage),
                ("transactions", Transaction),
                ("postings", Posting),
                ("audit", AuditEvent),
            )
        }
        out["balances"] = dict(
            db.session.execute(select(Account.id, Account.balance).order_by(Account.id)).all()
        )
        out["listing_rows"] = [
            (row.id, row.status, row.title, row.expires_on)
            for row in db.session.execute(select(Listing).order_by(Listing.id)).scalars()
        ]
        out["response_rows"] = [
            (row.id, row.status, row.minutes, row.transaction_id)
            for row in db.session.execute(
                select(ListingResponse).order_by(ListingResponse.id)
            ).scalars()
        ]
        db.session.rollback()
    return out


def mails(outbox: Path) -> list[str]:
    if not outbox.exists():
        return []
    return [path.read_text(encoding="utf-8") for path in sorted(outbox.glob("*.eml"))]


def verify(app: Flask) -> list[str]:
    """Breaks reported by ``timebank ledger verify`` over every scheme."""
    from timebank.tenants.ledger.verify import verify_ledger

    with app.app_context():
        return verify_ledger().breaks
