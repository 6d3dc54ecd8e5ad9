"""Ordered hours: kept off the ledger, completed when met, breached after the deadline."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask

from tests.factories import problem
from tests.tenants.courts.conftest import Court, balance, ledger_rows, local_today, make_court


def new_order(court: Court, member_id: int, **body: Any) -> dict[str, Any]:
    due = (local_today() + timedelta(days=60)).isoformat()
    response = court.world.api(court.coordinator).post(
        court.url("orders"),
        {"member_id": member_id, "minutes_ordered": 24 * 60, "due_on": due, **body},
    )
    assert response.status_code == 201, response.data
    return dict(response.get_json())


def hours(court: Court, order_id: int, minutes: int, day: str | None = None, **kw: Any) -> Any:
    return court.world.api(court.coordinator).post(
        court.url(f"orders/{order_id}/hours"),
        {"minutes": minutes, "performed_on": day or local_today().isoformat(), **kw},
    )


def test_a_24_hour_order_never_touches_the_ledger_and_completes(app: Flask, court: Court) -> None:
    young = court.members[0]
    order = new_order(court, court.member_id(young), referrer="River YOT", reference="YO-1")
    assert (order["status"], order["minutes_done"]) == ("open", 0)
    rows = ledger_rows(app, court.scheme.id)
    for minutes in (8 * 60, 8 * 60, 7 * 60):
        response = hours(court, order["id"], minutes, note="Park clean-up")
        assert response.status_code == 201, response.data
        assert response.get_json()["status"] == "open"
    assert balance(court, young) == 0
    last = hours(court, order["id"], 60)
    assert last.status_code == 201
    done = last.get_json()
    assert (done["status"], done["minutes_done"], done["minutes_left"]) == ("completed", 1440, 0)
    assert done["completed_on"] == local_today().isoformat()
    # No transaction, no balance, no statement line: nothing at all in the ledger.
    assert ledger_rows(app, court.scheme.id) == rows
    assert balance(court, young) == 0
    member = court.world.api(young)
    assert member.get(court.url("transactions")).get_json()["items"] == []
    statement = member.get(court.url("statement.csv")).get_data(as_text=True)
    assert len(statement.strip().splitlines()) == 1  # the header row only
    again = hours(court, order["id"], 30)
    assert again.status_code == 422 and problem(again)["code"] == "order_completed"
    listed = member.get(court.url("orders")).get_json()["items"]
    assert [(o["id"], o["status"]) for o in listed] == [(order["id"], "completed")]


def test_hours_beyond_the_order_earn_only_when_the_policy_says(app: Flask, court: Court) -> None:
    young = court.members[1]
    order = new_order(court, court.member_id(young), minutes_ordered=120)
    over = hours(court, order["id"], 180)
    assert over.status_code == 201 and over.get_json()["status"] == "completed"
    assert balance(court, young) == 0  # extra hours noted, not credited (template default)

    generous = make_court(
        app, "kind-court", "Kind Court", orders={"extra_hours_earn_credits": True}
    )
    person = generous.members[0]
    created = court.world.api(generous.coordinator).post(
        f"/api/v1/schemes/{generous.slug}/orders",
        {
            "member_id": person.member_ids[generous.slug],
            "minutes_ordered": 120,
            "due_on": (local_today() + timedelta(days=5)).isoformat(),
        },
    )
    assert created.status_code == 201, created.data
    response = court.world.api(generous.coordinator).post(
        f"/api/v1/schemes/{generous.slug}/orders/{created.get_json()['id']}/hours",
        {"minutes": 180, "performed_on": local_today().isoformat()},
    )
    assert response.status_code == 201, response.data
    assert balance(court, person, generous) == 60  # only the hour beyond the order
    items = court.world.api(person).get(f"/api/v1/schemes/{generous.slug}/transactions")
    (transaction,) = items.get_json()["items"]
    assert transaction["kind"] == "earn" and transaction["amount"] == 60
    assert transaction["memo"] == "Hours given beyond an order"


def test_breached_after_the_deadline(app: Flask, court: Court) -> None:
    from timebank.platform import tenancy
    from timebank.platform.db import clock_at, db
    from timebank.platform.schemes.models import Scheme
    from timebank.tenants.courts import orders

    young = court.members[2]
    past = datetime.now(UTC) - timedelta(days=30)
    # Made a month ago through the services, on the clock of that day.
    with app.app_context(), tenancy.scheme_context(court.scheme.id), clock_at(past):
        scheme = db.session.get(Scheme, court.scheme.id)
        assert scheme is not None
        made = orders.create_order(
            scheme,
            member_id=court.member_id(young),
            minutes_ordered=24 * 60,
            due_on=past.date() + timedelta(days=10),
            referrer="River YOT",
            reference=None,
            actor_user_id=court.coordinator.user_id,
        )
        order = {"id": made.id}
        orders.record_hours(
            scheme,
            made.id,
            minutes=120,
            performed_on=past.date(),
            note=None,
            actor_user_id=court.coordinator.user_id,
        )
    api = court.world.api(court.coordinator)
    shown = api.get(court.url(f"orders/{order['id']}")).get_json()
    assert (shown["status"], shown["minutes_done"]) == ("breached", 120)
    breached = api.get(court.url("orders?status=breached")).get_json()["items"]
    assert [o["id"] for o in breached] == [order["id"]]
    assert api.get(court.url("orders?status=open")).get_json()["items"] == []
    late = hours(court, order["id"], 60)
    assert late.status_code == 422 and "performed_on" in problem(late)["errors"]
    future = (local_today() + timedelta(days=1)).isoformat()
    soon = new_order(court, court.member_id(court.members[3]))
    ahead = hours(court, soon["id"], 60, future)
    assert ahead.status_code == 422 and "performed_on" in problem(ahead)["errors"]


def test_referring_body_report_shows_only_its_orders(app: Flask, court: Court) -> None:
    first, second, third = court.members[:3]
    mine = new_order(court, court.member_id(first), referrer="River YOT", reference="YO-7")
    new_order(court, court.member_id(second), referrer="Hill Panel", reference="HP-2")
    assert hours(court, mine["id"], 90).status_code == 201
    response = court.world.api(court.coordinator).get(
        court.url("orders/report.csv?referrer=River YOT")
    )
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == [
        "reference",
        "young_person",
        "referrer",
        "status",
        "hours_ordered",
        "hours_done",
        "due_on",
        "completed_on",
    ]
    assert rows[1][:6] == ["YO-7", first.name, "River YOT", "open", "24:00", "1:30"]
    assert len(rows) == 2
    body = response.get_data(as_text=True)
    for person in (second, third, court.coordinator):
        assert person.name not in body
    member = court.world.api(first)
    refused = member.get(court.url("orders/report.csv?referrer=River YOT"))
    assert problem(refused)["code"] == "coordinator_only"


def test_who_may_read_orders(app: Flask, court: Court) -> None:
    first, second = court.members[:2]
    order = new_order(court, court.member_id(first))
    assert court.world.api(first).get(court.url(f"orders/{order['id']}")).status_code == 200
    assert court.world.api(second).get(court.url(f"orders/{order['id']}")).status_code == 404
    assert court.world.api(second).get(court.url("orders")).get_json()["items"] == []
    others = court.world.api(second).get(court.url(f"orders?member_id={court.member_id(first)}"))
    assert problem(others)["code"] == "coordinator_only"
    member = court.world.api(first)
    refused = member.post(
        court.url(f"orders/{order['id']}/hours"),
        {"minutes": 60, "performed_on": local_today().isoformat()},
    )
    assert problem(refused)["code"] == "coordinator_only"
    # Another youth court sees nothing of it, by id or in its lists.
    other = court.world.api(court.other.coordinator)
    assert other.get(court.url(f"orders/{order['id']}", court.other)).status_code == 404
    assert other.get(court.url(f"orders/{order['id']}")).status_code == 404
    assert other.get(court.url("orders", court.other)).get_json()["items"] == []
    recorded = other.post(
        court.url(f"orders/{order['id']}/hours", court.other),
        {"minutes": 60, "performed_on": local_today().isoformat()},
    )
    assert recorded.status_code == 404
    stranger = other.post(
        court.url("orders", court.other),
        {
            "member_id": court.member_id(first),
            "minutes_ordered": 60,
            "due_on": (local_today() + timedelta(days=3)).isoformat(),
        },
    )
    assert stranger.status_code == 422 and "member_id" in problem(stranger)["errors"]
    alpha = court.world.a
    off = court.world.api(alpha.coordinator).get(f"/api/v1/schemes/{alpha.slug}/orders")
    assert off.status_code == 403 and problem(off)["code"] == "orders_disabled"
