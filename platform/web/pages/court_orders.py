"""Coordinator pages for ordered hours: orders, recording hours, the letter, the report.

Hours recorded here never reach the ledger (``tenants.courts.orders``). The
completion letter is a page made for printing; the report for a referring
body lists orders by state and nothing else of any member (CSV beside it).
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for

from timebank.platform.api.idempotency import idempotent
from timebank.platform.web import reads
from timebank.platform.web.forms import (
    Form,
    Submission,
    read_choice,
    read_date,
    read_duration,
    read_int,
    read_optional_text,
)
from timebank.platform.web.pages.common import page_access, render
from timebank.platform.web.pages.court import bp, reads_all
from timebank.tenants.courts import orders
from timebank.tenants.courts.models import Order
from timebank.tenants.earning.services import scheme_today

STATES = ("", *orders.STATES)


@bp.route("/manage/orders", methods=["GET", "POST"])
def manage_orders(slug: str) -> Any:
    access = page_access(coordinator=True)
    orders.require_orders(access.scheme)
    form = Form()
    status = 200
    if request.method == "POST":
        form = Form.from_request()
        fields = {n: n for n in ("member_id", "due_on", "referrer", "reference")}
        fields["minutes_ordered"] = "hours"
        with Submission(form, fields) as sent:
            member_id = read_int(form, "member_id")
            if member_id is None:
                form.errors["member_id"] = ["Choose the young person."]
            minutes = read_duration(form, "hours")
            due_on = read_date(form, "due_on")
            referrer = read_optional_text(form, "referrer", max_length=200)
            reference = read_optional_text(form, "reference", max_length=100)
            form.check()
            assert member_id is not None and minutes is not None and due_on is not None
            access = page_access(write=True, coordinator=True)
            created = orders.create_order(
                access.scheme,
                member_id=member_id,
                minutes_ordered=minutes,
                due_on=due_on,
                referrer=referrer,
                reference=reference,
                actor_user_id=access.user.id,
            )
        if sent.ok:
            flash("Order recorded. Record hours against it as they are worked.")
            return redirect(url_for("court.manage_order", slug=slug, order_id=created.id))
        status = sent.status
    wanted = request.args.get("status", "")
    wanted = wanted if wanted in STATES else ""
    today = scheme_today(access.scheme)
    rows = reads_all(
        orders.orders_query(
            member_id=None, status=wanted or None, referrer=None, today=today
        ).order_by(Order.id.desc())
    )
    return render(
        "court/orders.html",
        status,
        form=form,
        listed=orders.describe(rows, today),
        wanted=wanted,
        states=orders.STATES,
        people=reads.directory(access, exclude_self=False) or [],
    )


@bp.route("/manage/orders/<int:order_id>", methods=["GET", "POST"])
@idempotent
def manage_order(slug: str, order_id: int) -> Any:
    access = page_access(coordinator=True)
    orders.require_orders(access.scheme)
    found = orders.get_order(order_id)
    form = Form()
    status = 200
    if request.method == "POST":
        form = Form.from_request()
        fields = {"minutes": "hours", "performed_on": "performed_on", "note": "note"}
        with Submission(form, fields) as sent:
            minutes = read_duration(form, "hours")
            performed_on = read_date(form, "performed_on")
            note = read_optional_text(form, "note")
            form.check()
            assert minutes is not None and performed_on is not None
            access = page_access(write=True, coordinator=True)
            found = orders.record_hours(
                access.scheme,
                order_id,
                minutes=minutes,
                performed_on=performed_on,
                note=note,
                actor_user_id=access.user.id,
            )
        if sent.ok:
            if found.status == "completed":
                flash("Hours recorded: the order is complete. The completion letter is ready.")
            else:
                flash("Hours recorded against the order.")
            return redirect(url_for("court.manage_order", slug=slug, order_id=order_id))
        status = sent.status
    today = scheme_today(access.scheme)
    return render(
        "court/order.html",
        status,
        form=form,
        order=orders.describe([found], today)[0],
        hours=orders.hours_of(found.id),
        today=today,
    )


@bp.route("/manage/orders/<int:order_id>/letter")
def completion_letter(slug: str, order_id: int) -> Any:
    access = page_access(coordinator=True)
    orders.require_orders(access.scheme)
    found = orders.get_order(order_id)
    shown = orders.describe([found], scheme_today(access.scheme))[0]
    if shown["status"] != "completed":
        flash("The completion letter is ready once the order's hours are met.", "warning")
        return redirect(url_for("court.manage_order", slug=slug, order_id=order_id))
    return render("court/letter.html", order=shown)


@bp.route("/manage/orders/report")
def orders_report(slug: str) -> Any:
    access = page_access(coordinator=True)
    orders.require_orders(access.scheme)
    form = Form(values={"referrer": request.args.get("referrer", "")})
    known = orders.referrers()
    referrer = read_choice(form, "referrer", ["", *known], message="Choose a referring body.")
    grouped = orders.report(referrer or None, scheme_today(access.scheme))
    return render(
        "court/report.html",
        form=form,
        referrer_options=[(name, name) for name in known],
        referrer=referrer or "",
        grouped=grouped,
        states=orders.STATES,
    )
