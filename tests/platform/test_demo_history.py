"""`timebank demo` leaves twelve weeks of history, so the dashboard's charts show a living scheme."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from timebank.platform import tenancy
from timebank.platform.db import db
from timebank.platform.schemes.models import Scheme
from timebank.tenants.reports.services import weekly_figures


def test_the_demo_history_spreads_over_twelve_weeks(app: Flask) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo", "--password", "demo-password"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        schemes = {s.slug: s for s in db.session.execute(select(Scheme)).scalars()}
        busy: dict[str, int] = {}
        for slug, scheme in schemes.items():
            with tenancy.scheme_context(scheme.id):
                weeks = weekly_figures(scheme)
            assert len(weeks) == 12
            busy[slug] = sum(1 for week in weeks if week.earned or week.spent)
        assert all(count >= 11 for count in busy.values()), busy
        rushey = schemes["rushey-green"]
        with tenancy.scheme_context(rushey.id):
            weeks = weekly_figures(rushey)
        assert sum(1 for week in weeks if week.spent) >= 4  # redemptions now and then
        assert sum(1 for week in weeks if week.active_members >= 2) >= 11
    # Still a sound ledger, and a second run adds nothing.
    assert runner.invoke(args=["ledger", "verify"]).exit_code == 0
    again = runner.invoke(args=["demo", "--password", "demo-password"])
    assert again.exit_code == 0, again.output
    with app.app_context():
        scheme = db.session.execute(
            select(Scheme).where(Scheme.slug == "rushey-green")
        ).scalar_one()
        with tenancy.scheme_context(scheme.id):
            assert weekly_figures(scheme) == weeks
