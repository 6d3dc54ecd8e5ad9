"""Ordered hours: a court or panel orders a young person to give hours.

The hours worked toward an order are recorded against it by a coordinator
(who thereby verifies them) and kept here only: they never make a ledger
transaction, never show as a balance and never appear in a statement. The
order is ``completed`` when its hours are met. Breach is computed on read, the
same way everywhere (API, pages, report): an order not completed whose
``due_on`` has passed in the scheme's time zone is ``breached``; no job marks
it, so it can never be stale. Hours dated after the deadline are refused.
Hours beyond what the order still needed count nothing toward it; when the
policy's ``orders.extra_hours_earn_credits`` is on they are credited as
ordinary hours through the bulk-award path (a separate ``earn``, linked on
the hours row), otherwise they are only noted.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import and_, select

from timebank.platform import audit
from timebank.platform.api.errors import FieldError, Forbidden, NotFound, RuleViolation
from timebank.platform.db import atomic, db
from timebank.platform.schemes.models import Scheme
from timebank.tenants.courts.models import Order, OrderHours
from timebank.tenants.earning import awards
from timebank.tenants.earning.services import scheme_today
from timebank.tenants.ledger.services import member_names
from timebank.tenants.memberships.models import Member
from timebank.tenants.policy.services import current_policy

STATES = ("open", "completed", "breached")


def require_orders(scheme: Scheme) -> dict[str, Any]:
    """The scheme's ``orders`` policy; 403 ``orders_disabled`` when it does not use them."""
    policy: dict[str, Any] = current_policy(scheme)["orders"]
    if not policy["enabled"]:
        raise Forbidden(
            f"{scheme.name} does not record ordered hours (turn them on in the rules).",
            code="orders_disabled",
        )
    return policy


def state(order: Order, today: date) -> str:
    """``completed``, ``breached`` (past its deadline, hours not met) or ``open``."""
    if order.status == "completed":
        return "completed"
    return "breached" if today > order.due_on else "open"


@atomic
def create_order(
    scheme: Scheme,
    *,
    member_id: int,
    minutes_ordered: int,
    due_on: date,
    referrer: str | None,
    reference: str | None,
    actor_user_id: int,
) -> Order:
    require_orders(scheme)
    status = db.session.execute(
        select(Member.status).where(Member.id == member_id)
    ).scalar_one_or_none()
    if status is None or status == "left":
        raise FieldError("member_id", f"No member with id {member_id} in this scheme.")
    if due_on < scheme_today(scheme):
        raise FieldError("due_on", "The deadline cannot be in the past.")
    order = Order(
        scheme_id=scheme.id,
        member_id=member_id,
        minutes_ordered=minutes_ordered,
        minutes_done=0,
        due_on=due_on,
        referrer=referrer,
        reference=reference,
        status="open",
        created_by=actor_user_id,
    )
    db.session.add(order)
    db.session.flush()
    audit.record(
        scheme.id,
        "order.created",
        actor_user_id=actor_user_id,
        target=f"order:{order.id}",
        details={"member_id": member_id, "minutes_ordered": minutes_ordered},
    )
    return order


def get_order(order_id: int, *, member_id: int | None = None, lock: bool = False) -> Order:
    """An order of the current scheme (only ``member_id``'s when given), or 404."""
    statement = select(Order).where(Order.id == order_id)
    if member_id is not None:
        statement = statement.where(Order.member_id == member_id)
    if lock:
        statement = statement.with_for_update()
    order = db.session.execute(statement).scalar_one_or_none()
    if order is None:
        raise NotFound("No order with this id in this scheme.")
    return order


@atomic
def record_hours(
    scheme: Scheme,
    order_id: int,
    *,
    minutes: int,
    performed_on: date,
    note: str | None,
    actor_user_id: int,
) -> Order:
    """Record verified hours against an order; never a ledger transaction for them.

    422 ``order_completed`` when the order is met already; 422 on
    ``performed_on`` for a day in the future or after the deadline.
    """
    policy = require_orders(scheme)
    order = get_order(order_id, lock=True)
    if order.status == "completed":
        raise RuleViolation("This order's hours are complete already.", code="order_completed")
    if performed_on > scheme_today(scheme):
        raise FieldError("performed_on", "The hours cannot be in the future.")
    if performed_on > order.due_on:
        raise FieldError(
            "performed_on",
            f"The order's deadline was {order.due_on:%d %B %Y}; hours after it do not count.",
        )
    counted = min(minutes, order.minutes_ordered - order.minutes_done)
    extra = minutes - counted
    hours = OrderHours(
        scheme_id=scheme.id,
        order_id=order.id,
        minutes=minutes,
        extra_minutes=extra,
        performed_on=performed_on,
        note=note,
        verified_by=actor_user_id,
    )
    if extra and policy["extra_hours_earn_credits"]:
        transactions = awards.award_each(
            scheme,
            credits=[(order.member_id, extra)],
            memo="Hours given beyond an order",
            actor_user_id=actor_user_id,
            target=f"order:{order.id}",
        )
        hours.transaction_id = transactions[0]["id"]
    db.session.add(hours)
    order.minutes_done += counted
    if order.minutes_done >= order.minutes_ordered:
        order.status = "completed"
        order.completed_on = performed_on
    db.session.flush()
    audit.record(
        scheme.id,
        "order.hours_recorded",
        actor_user_id=actor_user_id,
        target=f"order:{order.id}",
        details={"minutes": minutes, "extra_minutes": extra, "status": order.status},
    )
    return order


def orders_query(
    *, member_id: int | None, status: str | None, referrer: str | None, today: date
) -> Any:
    statement = select(Order)
    if member_id is not None:
        statement = statement.where(Order.member_id == member_id)
    if referrer is not None:
        statement = statement.where(Order.referrer == referrer)
    if status == "completed":
        statement = statement.where(Order.status == "completed")
    elif status == "breached":
        statement = statement.where(and_(Order.status == "open", Order.due_on < today))
    elif status == "open":
        statement = statement.where(and_(Order.status == "open", Order.due_on >= today))
    return statement


def hours_of(order_id: int) -> list[OrderHours]:
    return list(
        db.session.execute(
            select(OrderHours)
            .where(OrderHours.order_id == order_id)
            .order_by(OrderHours.performed_on, OrderHours.id)
        ).scalars()
    )


def describe(orders: Iterable[Order], today: date) -> list[dict[str, Any]]:
    """Orders as the API, pages and report show them (the young person's name included)."""
    rows = list(orders)
    names = member_names(order.member_id for order in rows)
    return [
        {
            "id": order.id,
            "member_id": order.member_id,
            "name": names.get(order.member_id, "a former member"),
            "minutes_ordered": order.minutes_ordered,
            "minutes_done": order.minutes_done,
            "minutes_left": max(order.minutes_ordered - order.minutes_done, 0),
            "percent": min(100, order.minutes_done * 100 // order.minutes_ordered),
            "due_on": order.due_on,
            "referrer": order.referrer,
            "reference": order.reference,
            "status": state(order, today),
            "completed_on": order.completed_on,
            "created_at": order.created_at,
        }
        for order in rows
    ]


def referrers() -> list[str]:
    """The referring bodies named on the scheme's orders (for the report's choice)."""
    return [
        name
        for name in db.session.execute(
            select(Order.referrer)
            .where(Order.referrer.is_not(None))
            .distinct()
            .order_by(Order.referrer)
        ).scalars()
        if name
    ]


def report(referrer: str | None, today: date) -> dict[str, list[dict[str, Any]]]:
    """Orders (of one referring body, or all) grouped by state: order data only.

    Nothing else of the scheme's members appears: no balances, no other
    members, no hours notes — only each order's own figures and its subject.
    """
    orders = db.session.execute(
        orders_query(member_id=None, status=None, referrer=referrer, today=today).order_by(
            Order.due_on, Order.id
        )
    ).scalars()
    grouped: dict[str, list[dict[str, Any]]] = {name: [] for name in STATES}
    for row in describe(orders, today):
        grouped[row["status"]].append(row)
    return grouped


REPORT_COLUMNS = (
    "reference",
    "young_person",
    "referrer",
    "status",
    "hours_ordered",
    "hours_done",
    "due_on",
    "completed_on",
)


def report_rows(grouped: dict[str, list[dict[str, Any]]]) -> Iterable[list[Any]]:
    yield list(REPORT_COLUMNS)
    for status in STATES:
        for row in grouped[status]:
            yield [
                row["reference"] or "",
                row["name"],
                row["referrer"] or "",
                status,
                _hours(row["minutes_ordered"]),
                _hours(row["minutes_done"]),
                row["due_on"].isoformat(),
                row["completed_on"].isoformat() if row["completed_on"] else "",
            ]


def _hours(minutes: int) -> str:
    return f"{minutes // 60}:{minutes % 60:02d}"
