"""The periodic jobs themselves: ledger check, claims digest, statements, key purge (inline)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import text

from tests.factories import World, fund, make_operator
from tests.tenants.earning.conftest import activity_ids, claim
from tests.worker.conftest import needs_redis
from timebank.platform import tenancy
from timebank.platform.api.errors import NotFound
from timebank.platform.db import db, run_atomic
from timebank.tenants.reports.jobs import monthly_statements, render_statement
from timebank.worker.digest import send_claims_digest
from timebank.worker.maintenance import purge_idempotency_keys, verify_ledger_nightly


def mails(outbox: Path) -> list[str]:
    return [path.read_text() for path in sorted(outbox.glob("*.eml"))]


def test_digest_tells_each_coordinator_once_a_week(app: Flask, world: World, outbox: Path) -> None:
    member = world.b.members[0]
    befriending = activity_ids(world, world.b)["Befriending a patient referred by the practice"]
    response = claim(world, member, world.b, befriending, 90)
    assert response.status_code == 201 and response.get_json()["status"] == "pending"
    with app.app_context():
        assert send_claims_digest(world.b.id, "2025-W11") == 1
        assert send_claims_digest(world.b.id, "2025-W11") == 0  # idempotent per week
        assert send_claims_digest(world.a.id, "2025-W11") == 0  # nothing waits in A
    (mail,) = mails(outbox)
    assert f"To: {world.b.coordinator.email}" in mail
    assert "Subject: Claims waiting for you in Beta Surgery: 1" in mail
    assert "Ben Beta: Befriending a patient referred by the practice, 1:30 hours" in mail
    with app.app_context():
        assert send_claims_digest(world.b.id, "2025-W12") == 1  # a new week
    assert len(mails(outbox)) == 2


def transfer(world: World, amount: int) -> None:
    payer, payee = world.a.members
    response = world.api(payer).post(
        f"/api/v1/schemes/{world.a.slug}/transfers",
        {"to_member_id": payee.member_ids[world.a.slug], "amount": amount, "memo": "Garden help"},
    )
    assert response.status_code == 201, response.data


def test_monthly_statement_shows_every_movement(app: Flask, world: World, tmp_path: Path) -> None:
    app.config["STATEMENTS_DIR"] = str(tmp_path / "statements")
    payer = world.a.members[0]
    fund(app, world.a, payer, 120)
    transfer(world, 30)
    month = datetime.now(UTC).strftime("%Y-%m")
    member_id = payer.member_ids[world.a.slug]
    with app.app_context():
        path = Path(render_statement(world.a.id, member_id, month))
        assert (
            path == tmp_path / "statements" / str(world.a.id) / month / f"member-{member_id}.html"
        )
        html = path.read_text()
        assert "Ann Alpha" in html and "Alpha Time Bank" in html
        assert "Garden help" in html and "test funding" in html
        assert "<strong>1:30 hours</strong>" in html  # closing balance: 120 − 30 minutes
        # Last month: nothing moved, balances zero.
        assert (
            "No movements this month."
            in Path(render_statement(world.a.id, member_id, "2001-01")).read_text()
        )
        # A member id of the other scheme is not found in this one.
        with pytest.raises(NotFound):
            render_statement(world.a.id, world.b.members[0].member_ids[world.b.slug], month)
        assert monthly_statements(world.a.id, month) == 3
        assert monthly_statements(world.b.id, month) == 3
    assert len(list((tmp_path / "statements" / str(world.a.id) / month).glob("*.html"))) == 3


def test_purge_of_idempotency_keys_runs(app: Flask, world: World) -> None:
    with app.app_context():
        assert purge_idempotency_keys() == 0


@needs_redis
def test_ledger_break_is_logged_loudly_and_shown_to_operators(
    app: Flask, world: World, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    operator = world.api(make_operator(app))
    fund(app, world.a, world.a.members[0], 60)
    with app.app_context():
        assert verify_ledger_nightly()["ok"] is True
    check = operator.get("/api/v1/platform/jobs/ledger-check").get_json()
    assert check["ok"] is True and check["checked_at"]

    # Corrupt one cached balance behind the ledger's back (the only way to make a break).
    def corrupt() -> None:
        with tenancy.scheme_context(world.a.id):
            db.session.execute(
                text(
                    "UPDATE accounts SET balance = balance + 5 WHERE scheme_id = :s AND member_id = :m"
                ),
                {"s": world.a.id, "m": world.a.members[0].member_ids[world.a.slug]},
            )

    with app.app_context():
        run_atomic(corrupt)
        with caplog.at_level(logging.ERROR, logger="timebank.ledger"):
            result = verify_ledger_nightly()
    assert result["ok"] is False
    assert any("LEDGER BREAK" in r.message and r.levelno == logging.ERROR for r in caplog.records)
    check = operator.get("/api/v1/platform/jobs/ledger-check").get_json()
    assert check["ok"] is False
    assert any("alpha-bank" in line and "cached balance" in line for line in check["breaks"])
    assert not any("beta-surgery" in line for line in check["breaks"])
