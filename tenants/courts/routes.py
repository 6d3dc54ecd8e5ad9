"""Youth court API: sittings (schedule, rota, attendance, credit) and ordered hours."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from flask import Response

from timebank.platform.api import spreadsheet
from timebank.platform.api.blueprint import Blueprint
from timebank.platform.api.idempotency import idempotent
from timebank.platform.api.pagination import keyset_page, page
from timebank.tenants.access import readable_member, scheme_access
from timebank.tenants.courts import orders, sittings
from timebank.tenants.courts.models import Order, Sitting, SittingAssignment
from timebank.tenants.courts.schemas import (
    AssignmentIn,
    AttendanceIn,
    CreditOut,
    NewAssignmentOut,
    OrderHoursIn,
    OrderIn,
    OrderOut,
    OrderPage,
    OrderQuery,
    ReportQuery,
    SignUpIn,
    SittingIn,
    SittingOut,
    SittingPage,
    SittingQuery,
)
from timebank.tenants.earning.services import scheme_today

blp = Blueprint(
    "courts",
    __name__,
    url_prefix="/api/v1/schemes/<slug>",
    description="Youth court sittings and ordered hours",
    credentials="scheme",
)


# --- sittings ---------------------------------------------------------------------------


@blp.route("/sittings", methods=["POST"])
@blp.arguments(SittingIn)
@blp.response(201, SittingOut)
def schedule(body: dict[str, Any], slug: str) -> dict[str, Any]:
    access = scheme_access(slug, write=True, coordinator=True)
    sitting = sittings.schedule_sitting(
        access.scheme,
        starts_at=body["starts_at"],
        place=body["place"],
        roles=body["roles"],
        actor_user_id=access.user.id,
        with_children=body["with_children"],
    )
    return sittings.describe(access.scheme, sitting, member_id=access.member.id, full=True)


@blp.route("/sittings")
@blp.arguments(SittingQuery, location="query")
@blp.response(200, SittingPage)
def list_sittings(args: dict[str, Any], slug: str) -> dict[str, Any]:
    """Members: upcoming sittings and their role; coordinators: every sitting with its rota."""
    access = scheme_access(slug)
    sittings.require_sittings(access.scheme)
    when = args["when"] or ("all" if access.is_coordinator else "upcoming")
    upcoming = sittings.start_of_today(access.scheme) if when == "upcoming" else None
    rows, cursor = keyset_page(
        sittings.sittings_query(upcoming_from=upcoming),
        keys=[Sitting.id],
        limit=args["limit"],
        cursor=args["cursor"],
        descending=when == "all",
        key_of=lambda sitting: [sitting.id],
    )
    items = [
        sittings.describe(
            access.scheme, row, member_id=access.member.id, full=access.is_coordinator
        )
        for row in rows
    ]
    return page(items, cursor)


@blp.route("/sittings/<int:sitting_id>")
@blp.response(200, SittingOut)
def sitting(slug: str, sitting_id: int) -> dict[str, Any]:
    access = scheme_access(slug)
    sittings.require_sittings(access.scheme)
    found = sittings.get_sitting(sitting_id)
    return sittings.describe(
        access.scheme, found, member_id=access.member.id, full=access.is_coordinator
    )


@blp.route("/sittings/<int:sitting_id>/assignments", methods=["POST"])
@blp.arguments(AssignmentIn)
@blp.response(201, NewAssignmentOut)
def assign(body: dict[str, Any], slug: str, sitting_id: int) -> SittingAssignment:
    access = scheme_access(slug, write=True, coordinator=True)
    return sittings.assign(
        access.scheme,
        sitting_id,
        member_id=body["member_id"],
        role_id=body["role_id"],
        actor_user_id=access.user.id,
    )


@blp.route("/sittings/<int:sitting_id>/assignments/<int:member_id>", methods=["DELETE"])
@blp.response(204)
def unassign(slug: str, sitting_id: int, member_id: int) -> None:
    access = scheme_access(slug, write=True, coordinator=True)
    sittings.unassign(access.scheme, sitting_id, member_id=member_id, actor_user_id=access.user.id)


@blp.route("/sittings/<int:sitting_id>/signup", methods=["POST"])
@blp.arguments(SignUpIn)
@blp.response(201, NewAssignmentOut)
def sign_up(body: dict[str, Any], slug: str, sitting_id: int) -> SittingAssignment:
    access = scheme_access(slug, write=True)
    return sittings.sign_up(access.scheme, access.member, sitting_id, role_id=body["role_id"])


@blp.route("/sittings/<int:sitting_id>/signup", methods=["DELETE"])
@blp.response(204)
def withdraw(slug: str, sitting_id: int) -> None:
    access = scheme_access(slug, write=True)
    sittings.unassign(
        access.scheme,
        sitting_id,
        member_id=access.member.id,
        actor_user_id=access.user.id,
        own=True,
    )


@blp.route("/sittings/<int:sitting_id>/attendance", methods=["POST"])
@blp.arguments(AttendanceIn)
@blp.response(200, SittingOut)
def attendance(body: dict[str, Any], slug: str, sitting_id: int) -> dict[str, Any]:
    access = scheme_access(slug, write=True, coordinator=True)
    found = sittings.record_attendance(
        access.scheme, sitting_id, present=body["present"], actor_user_id=access.user.id
    )
    return sittings.describe(access.scheme, found, member_id=access.member.id, full=True)


@blp.route("/sittings/<int:sitting_id>/cancel", methods=["POST"])
@blp.response(200, SittingOut)
def cancel(slug: str, sitting_id: int) -> dict[str, Any]:
    access = scheme_access(slug, write=True, coordinator=True)
    found = sittings.cancel_sitting(access.scheme, sitting_id, actor_user_id=access.user.id)
    return sittings.describe(access.scheme, found, member_id=access.member.id, full=True)


@blp.route("/sittings/<int:sitting_id>/credit", methods=["POST"])
@idempotent
@blp.response(201, CreditOut)
def credit(slug: str, sitting_id: int) -> dict[str, Any]:
    access = scheme_access(slug, write=True, coordinator=True)
    transactions = sittings.credit_sitting(access.scheme, sitting_id, actor_user_id=access.user.id)
    return {"sitting_id": sitting_id, "transactions": transactions}


# --- ordered hours ----------------------------------------------------------------------


@blp.route("/orders", methods=["POST"])
@blp.arguments(OrderIn)
@blp.response(201, OrderOut)
def create_order(body: dict[str, Any], slug: str) -> dict[str, Any]:
    access = scheme_access(slug, write=True, coordinator=True)
    order = orders.create_order(access.scheme, actor_user_id=access.user.id, **body)
    return orders.describe([order], scheme_today(access.scheme))[0]


@blp.route("/orders")
@blp.arguments(OrderQuery, location="query")
@blp.response(200, OrderPage)
def list_orders(args: dict[str, Any], slug: str) -> dict[str, Any]:
    """Coordinators: every order (``?member_id=``); members: their own."""
    access = scheme_access(slug)
    orders.require_orders(access.scheme)
    member_id = readable_member(access, args["member_id"], what="orders", all_for_coordinators=True)
    today = scheme_today(access.scheme)
    rows, cursor = keyset_page(
        orders.orders_query(member_id=member_id, status=args["status"], referrer=None, today=today),
        keys=[Order.id],
        limit=args["limit"],
        cursor=args["cursor"],
        descending=True,
        key_of=lambda order: [order.id],
    )
    return page(orders.describe(rows, today), cursor)


@blp.route("/orders/<int:order_id>")
@blp.response(200, OrderOut)
def order(slug: str, order_id: int) -> dict[str, Any]:
    access = scheme_access(slug)
    orders.require_orders(access.scheme)
    owner = None if access.is_coordinator else access.member.id
    found = orders.get_order(order_id, member_id=owner)
    return orders.describe([found], scheme_today(access.scheme))[0]


@blp.route("/orders/<int:order_id>/hours", methods=["POST"])
@idempotent
@blp.arguments(OrderHoursIn)
@blp.response(201, OrderOut)
def record_hours(body: dict[str, Any], slug: str, order_id: int) -> dict[str, Any]:
    access = scheme_access(slug, write=True, coordinator=True)
    found = orders.record_hours(access.scheme, order_id, actor_user_id=access.user.id, **body)
    return orders.describe([found], scheme_today(access.scheme))[0]


@blp.route("/orders/report.csv")
@blp.arguments(ReportQuery, location="query")
@blp.response(200, description="Orders by state as CSV, for the referring body")
def report_csv(args: dict[str, Any], slug: str) -> Response:
    access = scheme_access(slug, coordinator=True)
    orders.require_orders(access.scheme)
    grouped = orders.report(args["referrer"], scheme_today(access.scheme))

    def lines() -> Iterator[str]:
        buffer = io.StringIO()
        writer = spreadsheet.writer(buffer)
        for row in orders.report_rows(grouped):
            writer.writerow(row)
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()

    return Response(
        "".join(lines()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{slug}-orders.csv"'},
    )
