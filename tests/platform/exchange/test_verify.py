"""``timebank ledger verify`` checks the exchange: both legs, clearing balances, the mirror."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import text

from tests.factories import World
from tests.platform.exchange.support import agree, pay


def _run(app: Flask) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["ledger", "verify"])
    return result.exit_code, result.output


def test_verify_reports_the_mirror_and_passes(app: Flask, world: World) -> None:
    agree(world, world.a, world.b, rate="0.333333")
    ann, ben = world.a.members[0], world.b.members[0]
    for amount in (2, 5, 100):
        assert pay(world, ann, world.a, world.b, ben, amount).status_code == 201
    assert pay(world, ben, world.b, world.a, ann, 7).status_code == 201
    code, output = _run(app)
    assert code == 0, output
    assert "exchange alpha-bank↔beta-surgery: 4 exchange(s)" in output
    assert "mirror clearing_alpha-bank × " in output
    assert "ledger OK" in output


def test_verify_catches_a_tampered_exchange_record(app: Flask, world: World) -> None:
    agree(world, world.a, world.b, rate="2")
    assert pay(world, world.a.members[0], world.a, world.b, world.b.members[0], 30).status_code
    from timebank.platform.db import db

    with app.app_context():
        # Exchange records are platform rows, not postings: nothing stops an UPDATE but verify.
        db.session.execute(text("UPDATE exchanges SET credited = credited + 1"))
        db.session.commit()
    code, output = _run(app)
    assert code == 1
    assert "not round_half_up(amount × rate)" in output
    assert "clearing account holds -60, but its exchanges add up to -61" in output
    assert "expects transaction" in output
