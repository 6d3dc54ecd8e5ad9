"""A signed webhook whose body is not a Stripe event's shape: 400, stored nowhere."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask

from tests.conftest import Database
from tests.factories import World, problem
from tests.platform.billing.conftest import event, sign
from tests.platform.hostile import snapshot

WEBHOOK = "/billing/stripe/webhook"


def _post(app: Flask, payload: bytes) -> Any:
    return app.test_client().post(
        WEBHOOK,
        data=payload,
        headers={"Stripe-Signature": sign(payload), "Content-Type": "application/json"},
    )


def _event(**changes: Any) -> bytes:
    body = json.loads(
        event("customer.subscription.updated", {"id": "sub_123", "customer": "cus_1"})
    )
    body.update(changes)
    return json.dumps(body).encode()


def _object(**fields: Any) -> bytes:
    return event("customer.subscription.updated", {"id": "sub_123", **fields})


@pytest.mark.parametrize(
    "payload",
    [
        b"[]",
        json.dumps([json.loads(_event())]).encode(),
        b'"evt_1"',
        b"42",
        b"null",
        b"[" * 50_000 + b"]" * 50_000,
        b'{"id": ' + b"9" * 5000 + b"}",
        _event(id="evt_1\x00"),
        _event(id="evt_1'; DROP TABLE stripe_events; --"),
        _event(id="evt_<script>"),
        _event(id="evt_1\n"),
        _event(id="evt_" + "a" * 300),
        _event(id=12345),
        _event(id=None),
        _event(type="customer.subscription.updated\x00"),
        _event(type=["customer.subscription.updated"]),
        _event(data=[]),
        _event(data={"object": "sub_1"}),
        _object(customer="cus_1\x00"),
        _object(customer="cus_ 1"),
        _object(customer=["cus_1"]),
        _object(subscription="sub_1/../../x"),
        _object(id="sub_é"),
    ],
)
def test_a_signed_event_of_the_wrong_shape_is_400_and_stored_nowhere(
    app: Flask, world: World, database: Database, payload: bytes
) -> None:
    before = snapshot(app, database)
    response = _post(app, payload)
    assert response.status_code == 400, response.data
    body = problem(response)
    assert body["code"] == "invalid_event"
    assert snapshot(app, database) == before


def test_a_well_formed_event_is_still_stored(app: Flask, world: World, database: Database) -> None:
    before = snapshot(app, database)
    response = _post(app, _object(customer={"id": "cus_expanded", "object": "customer"}))
    assert response.status_code == 200, response.data
    assert response.get_json()["received"] is True
    after = snapshot(app, database)
    assert after["counts"]["stripe_events"] == before["counts"]["stripe_events"] + 1
