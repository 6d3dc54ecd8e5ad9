"""A sitting is credited once, and a role never over-filled, under concurrent requests."""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import pytest
from flask import Flask

from tests.tenants.courts.conftest import Court, balance, ledger_rows, tomorrow_at
from tests.tenants.earning.test_concurrency import run_together

pytestmark = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL"), reason="needs PostgreSQL row locks"
)


def test_concurrent_credits_credit_once(app: Flask, court: Court) -> None:
    api = court.world.api(court.coordinator)
    sitting = api.post(court.url("sittings"), {"starts_at": tomorrow_at()}).get_json()
    juror = sitting["roles"][0]["id"]
    people = court.members[:4]
    for person in people:
        api.post(
            court.url(f"sittings/{sitting['id']}/assignments"),
            {"member_id": court.member_id(person), "role_id": juror},
        )
    api.post(
        court.url(f"sittings/{sitting['id']}/attendance"),
        {"present": [court.member_id(p) for p in people]},
    )
    path = court.url(f"sittings/{sitting['id']}/credit")

    def credit(key: str) -> Any:
        def call(client: Any) -> tuple[int, str | None]:
            headers = {**court.coordinator.headers, "Idempotency-Key": key}
            response = client.post(path, json={}, headers=headers)
            return response.status_code, response.get_json().get("code")

        return call

    before = ledger_rows(app, court.scheme.id)
    results = run_together(app, [credit(f"race-{n}") for n in range(4)])
    assert Counter(results) == Counter({(201, None): 1, (422, "already_credited"): 3})
    assert [balance(court, p) for p in people] == [120] * 4
    transactions, postings = ledger_rows(app, court.scheme.id)
    assert (transactions - before[0], postings - before[1]) == (4, 8)


def test_concurrent_sign_ups_never_overfill_a_role(app: Flask, court: Court) -> None:
    api = court.world.api(court.coordinator)
    sitting = api.post(
        court.url("sittings"),
        {"starts_at": tomorrow_at(), "roles": [{"name": "Clerk", "minutes": 60, "places": 2}]},
    ).get_json()
    clerk = sitting["roles"][0]["id"]
    path = court.url(f"sittings/{sitting['id']}/signup")

    def sign_up(person: Any) -> Any:
        def call(client: Any) -> tuple[int, str | None]:
            response = client.post(path, json={"role_id": clerk}, headers=person.headers)
            return response.status_code, response.get_json().get("code")

        return call

    results = run_together(app, [sign_up(p) for p in court.members[:5]])
    assert Counter(status for status, _code in results) == Counter({201: 2, 422: 3})
    assert {code for status, code in results if status == 422} == {"role_full"}
    shown = api.get(court.url(f"sittings/{sitting['id']}")).get_json()
    assert len(shown["assignments"]) == 2
