"""Credit expiry: FIFO lots, the right minutes on the right day, idempotent; notices once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes
from email.header import decode_header, make_header
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import Flask

from tests.factories import World, fund
from tests.tenants.spending.support import (
    balance,
    create_reward,
    redeem,
    scheme_account_balance,
    snapshot,
    transactions_of_kind,
    url,
    verify,
)
from timebank.platform import tenancy
from timebank.platform.db import db
from timebank.platform.schemes.models import Scheme
from timebank.tenants.spending import jobs, services
from timebank.tenants.spending.expiry import Entry, unspent_lots

LONDON = "Europe/London"


def _at(day: int) -> datetime:
    return datetime(2025, 1, 1, 12, tzinfo=UTC) + timedelta(days=day)


def _lots(*entries: tuple[int, int, int | None, int]) -> list[tuple[date, int]]:
    history = [Entry(tx, amount, reverses, _at(day)) for tx, amount, reverses, day in entries]
    return [(lot.earned_on, lot.remaining) for lot in unspent_lots(history, LONDON)]


def _day(n: int) -> date:
    return _at(n).date()


# --- the lot arithmetic -------------------------------------------------------


def test_debits_consume_the_oldest_credits_first() -> None:
    assert _lots((1, 100, None, 0), (2, 50, None, 10), (3, -120, None, 20)) == [(_day(10), 30)]
    assert _lots((1, 100, None, 0), (2, -30, None, 5), (3, 50, None, 10)) == [
        (_day(0), 70),
        (_day(10), 50),
    ]


def test_a_reversed_credit_is_no_lot_and_a_refunded_debit_consumed_nothing() -> None:
    # Earn 100 (day 0), earn 40 (day 3), spend 60 (day 5), the day-0 credit reversed (day 6).
    assert _lots((1, 100, None, 0), (2, 40, None, 3), (3, -60, None, 5), (4, -100, 1, 6)) == []
    # Earn 100, spend 80, the spend refunded: all 100 are still the day-0 lot.
    assert _lots((1, 100, None, 0), (2, -80, None, 5), (3, 80, 2, 6)) == [(_day(0), 100)]


def test_a_credit_first_pays_off_debt() -> None:
    # Spend 100 on credit (day 0), earn 60 (day 5), earn 80 (day 9): 40 from day 9 remain.
    assert _lots((1, -100, None, 0), (2, 60, None, 5), (3, 80, None, 9)) == [(_day(9), 40)]


def test_earlier_expiry_counts_as_consumption() -> None:
    history = [
        Entry(1, 100, None, _at(0)),
        Entry(2, 50, None, _at(10)),
        Entry(3, -100, None, _at(30)),
    ]
    assert [(lot.earned_on, lot.remaining) for lot in unspent_lots(history, LONDON)] == [
        (_day(10), 50)
    ]


# --- through the services and the API -----------------------------------------


def _today_in_london() -> date:
    return datetime.now(UTC).astimezone(ZoneInfo(LONDON)).date()


def _last_earned_on(app: Flask, scheme_id: int) -> date:
    """The scheme-local day of the latest transaction (robust to a run across midnight)."""
    from sqlalchemy import func, select

    from timebank.tenants.ledger.models import Transaction

    with app.app_context(), tenancy.scheme_context(scheme_id):
        created = db.session.execute(select(func.max(Transaction.created_at))).scalar_one()
        db.session.rollback()
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return created.astimezone(ZoneInfo(LONDON)).date()  # type: ignore[no-any-return]


def _expire(app: Flask, scheme_id: int, as_of: date) -> int:
    with app.app_context():
        scheme = db.session.get(Scheme, scheme_id)
        assert scheme is not None
        with tenancy.scheme_context(scheme_id):
            return services.expire_credits(scheme, as_of)


def _notify(app: Flask, scheme_id: int, as_of: date) -> int:
    with app.app_context():
        scheme = db.session.get(Scheme, scheme_id)
        assert scheme is not None
        with tenancy.scheme_context(scheme_id):
            return services.send_expiry_notices(scheme, as_of)


def _history(app: Flask, world: World) -> date:
    """Ann: earn 600, earn 100 reversed, spend 120, spend 240 refunded, give 60, pay 30."""
    ann, arthur = world.a.members
    coordinator = world.api(world.a.coordinator)
    fund(app, world.a, ann, 600)
    fund(app, world.a, ann, 100)
    mistaken = transactions_of_kind(app, world.a, "adjustment")[-1]
    assert coordinator.post(url(world.a, f"transactions/{mistaken}/reverse")).status_code == 201
    reward = create_reward(world, world.a, price=120)
    assert redeem(world, ann, world.a, reward["id"]).status_code == 201
    refunded = redeem(world, ann, world.a, reward["id"], quantity=2).get_json()
    assert coordinator.post(url(world.a, f"redemptions/{refunded['id']}/cancel")).status_code == 200
    gift = world.api(ann).post(url(world.a, "gifts"), {"to": "pot", "amount": 60})
    assert gift.status_code == 201
    transfer = world.api(ann).post(
        url(world.a, "transfers"), {"to_member_id": arthur.member_ids[world.a.slug], "amount": 30}
    )
    assert transfer.status_code == 201
    assert balance(world, ann, world.a) == 390
    assert balance(world, arthur, world.a) == 30
    statement = world.api(ann).get(url(world.a, "transactions")).get_json()["items"]
    days = {
        datetime.fromisoformat(t["created_at"]).astimezone(ZoneInfo(LONDON)).date()
        for t in statement
    }
    assert len(days) == 1, "the history straddled midnight; run again"
    return days.pop()


def test_the_right_minutes_lapse_on_the_right_day_once(app: Flask, world: World) -> None:
    ann, arthur = world.a.members
    earned_on = _history(app, world)
    after_days = 365  # the community template
    other_before = snapshot(app, world.b)

    assert _expire(app, world.a.id, earned_on + timedelta(days=after_days - 1)) == 0
    assert transactions_of_kind(app, world.a, "expiry") == []

    lapse_day = earned_on + timedelta(days=after_days)
    assert _expire(app, world.a.id, lapse_day) == 420
    assert balance(world, ann, world.a) == 0
    assert balance(world, arthur, world.a) == 0
    assert scheme_account_balance(app, world.a, "expiry") == 420
    expiries = transactions_of_kind(app, world.a, "expiry")
    assert len(expiries) == 2
    statement = world.api(ann).get(url(world.a, "transactions")).get_json()["items"]
    assert statement[0]["kind"] == "expiry" and statement[0]["amount"] == 390

    before = snapshot(app, world.a)
    assert _expire(app, world.a.id, lapse_day) == 0  # the same day again: nothing changes
    assert _expire(app, world.a.id, lapse_day + timedelta(days=1)) == 0
    assert snapshot(app, world.a) == before
    assert snapshot(app, world.b) == other_before
    assert verify(app) == []


def test_credits_spent_after_a_run_are_not_lapsed_twice(app: Flask, world: World) -> None:
    ann = world.a.members[0]
    fund(app, world.a, ann, 200)
    earned_on = _last_earned_on(app, world.a.id)
    lapse_day = earned_on + timedelta(days=365)
    assert _expire(app, world.a.id, lapse_day) == 200
    # New credits after the lapse are a new lot with their own date.
    fund(app, world.a, ann, 50)
    assert _expire(app, world.a.id, lapse_day) == 0
    assert balance(world, ann, world.a) == 50


def test_no_expiry_policy_means_nothing_lapses(app: Flask, world: World) -> None:
    ben = world.b.members[0]  # the surgery template has no expiry
    fund(app, world.b, ben, 300)
    assert _expire(app, world.b.id, _today_in_london() + timedelta(days=5000)) == 0
    assert balance(world, ben, world.b) == 300
    assert _notify(app, world.b.id, _today_in_london() + timedelta(days=5000)) == 0


def test_members_are_told_once_before_their_credits_lapse(
    app: Flask, world: World, outbox: Path
) -> None:
    ann, arthur = world.a.members
    fund(app, world.a, ann, 150)
    earned_on = _last_earned_on(app, world.a.id)
    lapse_day = earned_on + timedelta(days=365)
    mails_before = len(list(outbox.glob("*.eml")))
    other_before = snapshot(app, world.b)

    assert _notify(app, world.a.id, lapse_day - timedelta(days=15)) == 0
    assert _notify(app, world.a.id, lapse_day - timedelta(days=14)) == 1
    assert _notify(app, world.a.id, lapse_day - timedelta(days=13)) == 0
    assert _notify(app, world.a.id, lapse_day - timedelta(days=1)) == 0
    mails = sorted(outbox.glob("*.eml"))[mails_before:]
    assert len(mails) == 1
    message = message_from_bytes(mails[0].read_bytes())
    assert message["To"] == ann.email
    subject = str(make_header(decode_header(message["Subject"])))
    assert "2:30 hours" in subject and "Alpha Time Bank" in subject
    assert lapse_day.strftime("%d %B %Y") in mails[0].read_bytes().decode(errors="replace")
    assert snapshot(app, world.a)["notices"] == 1
    assert arthur.email not in {message_from_bytes(m.read_bytes())["To"] for m in mails}
    assert snapshot(app, world.b) == other_before


def test_the_cli_and_jobs_run_expiry(app: Flask, world: World) -> None:
    ann = world.a.members[0]
    fund(app, world.a, ann, 90)
    lapse_day = _last_earned_on(app, world.a.id) + timedelta(days=365)
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["ledger", "expire", "--scheme", world.a.slug, "--as-of", lapse_day.isoformat()]
    )
    assert result.exit_code == 0, result.output
    assert f"{world.a.slug}: 90 minutes lapsed" in result.output
    again = runner.invoke(args=["ledger", "expire", "--as-of", lapse_day.isoformat()])
    assert again.exit_code == 0 and f"{world.a.slug}: 0 minutes lapsed" in again.output
    assert f"{world.b.slug}: 0 minutes lapsed" in again.output
    unknown = runner.invoke(args=["ledger", "expire", "--scheme", "no-such-scheme"])
    assert unknown.exit_code != 0 and "no-such-scheme" in unknown.output
    bad_day = runner.invoke(args=["ledger", "expire", "--as-of", "31/12/2030"])
    assert bad_day.exit_code != 0

    fund(app, world.a, ann, 45)
    new_lapse = _last_earned_on(app, world.a.id) + timedelta(days=365)
    with app.app_context():
        # That day's run is done: running it again changes nothing, even for new credits.
        assert jobs.expire_scheme_credits(world.a.id, lapse_day.isoformat()) == 0
        warn_on = (new_lapse - timedelta(days=14)).isoformat()
        assert jobs.notify_expiring(world.a.id, warn_on) == 1
        assert jobs.notify_expiring(world.a.id, warn_on) == 0
        next_day = (new_lapse + timedelta(days=1)).isoformat()
        assert jobs.expire_scheme_credits(world.a.id, next_day) == 45
    assert balance(world, ann, world.a) == 0
    assert verify(app) == []
