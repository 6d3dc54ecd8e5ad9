"""Youth court pages: a member's sittings and order progress; the coordinator's sittings.

The coordinator schedules a sitting, draws up its rota, records attendance and
credits it (after a confirmation page) — the same services as the API. The
order pages live in ``court_orders`` on this blueprint. Every page answers
403 with the reason when the scheme's rules leave sittings or orders off.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import flash, g, redirect, request, url_for

from timebank.platform.api.idempotency import idempotent
from timebank.platform.db import db
from timebank.platform.web import reads
from timebank.platform.web.forms import (
    Form,
    Submission,
    read_date,
    read_duration,
    read_ids,
    read_int,
    read_optional_text,
    read_text,
    show_duration,
)
from timebank.platform.web.pages.common import page_access, render, scheme_blueprint
from timebank.tenants.access import Access
from timebank.tenants.courts import orders, sittings
from timebank.tenants.earning.services import scheme_today
from timebank.tenants.policy.services import current_policy

bp = scheme_blueprint("court")
MAX_FORM_ROLES = 8


@bp.app_context_processor
def court_features() -> dict[str, Any]:
    """``court_features()`` in templates: which youth court pages this scheme has."""

    def features() -> dict[str, bool]:
        access: Access | None = g.get("scheme_access")
        if access is None:
            return {"sittings": False, "orders": False}
        policy = current_policy(access.scheme)
        return {"sittings": policy["sittings"]["enabled"], "orders": policy["orders"]["enabled"]}

    return {"court_features": features}


# --- the member's page ------------------------------------------------------------------


@bp.route("/court")
def mine(slug: str) -> Any:
    access = page_access()
    policy = current_policy(access.scheme)
    if not (policy["sittings"]["enabled"] or policy["orders"]["enabled"]):
        sittings.require_sittings(access.scheme)  # 403 with the reason
    upcoming: list[dict[str, Any]] = []
    if policy["sittings"]["enabled"]:
        rows = reads_all(
            sittings.sittings_query(upcoming_from=sittings.start_of_today(access.scheme))
        )
        upcoming = sorted(
            (
                sittings.describe(access.scheme, row, member_id=access.member.id, full=False)
                for row in rows
            ),
            key=lambda item: item["starts_at"],
        )
    my_orders: list[dict[str, Any]] = []
    if policy["orders"]["enabled"]:
        today = scheme_today(access.scheme)
        my_orders = orders.describe(
            reads_all(
                orders.orders_query(
                    member_id=access.member.id, status=None, referrer=None, today=today
                )
            ),
            today,
        )
    return render(
        "court/mine.html",
        upcoming=upcoming,
        my_orders=my_orders,
        self_signup=policy["sittings"]["self_signup"],
        sittings_on=policy["sittings"]["enabled"],
        orders_on=policy["orders"]["enabled"],
    )


def reads_all(statement: Any, limit: int = 200) -> list[Any]:
    """The rows of a page-sized query (pages show at most ``limit``)."""
    return list(db.session.execute(statement.limit(limit)).scalars())


@bp.route("/court/sittings/<int:sitting_id>/signup", methods=["POST"])
def sign_up(slug: str, sitting_id: int) -> Any:
    access = page_access(write=True)
    form = Form.from_request()
    role_id = read_int(form, "role_id")
    with Submission(form) as sent:
        form.check()
        assert role_id is not None
        sittings.sign_up(access.scheme, access.member, sitting_id, role_id=role_id)
    if sent.ok:
        flash("You have a place at this sitting. We will remind you the day before.")
    else:
        flash(form.message or "That place could not be taken.", "warning")
    return redirect(url_for("court.mine", slug=slug))


@bp.route("/court/sittings/<int:sitting_id>/withdraw", methods=["POST"])
def withdraw(slug: str, sitting_id: int) -> Any:
    access = page_access(write=True)
    form = Form.from_request()
    with Submission(form) as sent:
        sittings.unassign(
            access.scheme,
            sitting_id,
            member_id=access.member.id,
            actor_user_id=access.user.id,
            own=True,
        )
    if sent.ok:
        flash("You gave up your place at this sitting.")
    else:
        flash(form.message or "Your place could not be given up.", "warning")
    return redirect(url_for("court.mine", slug=slug))


# --- the coordinator's sittings ---------------------------------------------------------


@bp.route("/manage/sittings", methods=["GET", "POST"])
def manage_sittings(slug: str) -> Any:
    access = page_access(coordinator=True)
    policy = sittings.require_sittings(access.scheme)
    defaults = {
        f"role_{i}_{key}": (show_duration(role[key]) if key == "minutes" else role[key])
        for i, role in enumerate(policy["roles"])
        for key in ("name", "minutes", "places")
    }
    form = Form(values={"time": "17:00", **defaults})
    status = 200
    if request.method == "POST":
        form = Form.from_request()
        with Submission(form, {"starts_at": "date", "place": "place"}) as sent:
            day = read_date(form, "date")
            clock = read_text(form, "time", max_length=5)
            starts_at = None
            if day is not None:
                try:
                    starts_at = datetime.combine(day, datetime.strptime(clock, "%H:%M").time())
                except ValueError:
                    form.add("time", "Enter the time as hours and minutes, like 17:30.")
            place = read_optional_text(form, "place", max_length=200)
            roles = _roles_from(form)
            form.check()
            assert starts_at is not None
            access = page_access(write=True, coordinator=True)
            created = sittings.schedule_sitting(
                access.scheme,
                starts_at=starts_at,
                place=place,
                roles=roles,
                actor_user_id=access.user.id,
                with_children=form.get("with_children", "") == "yes",
            )
        if sent.ok:
            flash("Sitting scheduled. Now put members on its rota.")
            return redirect(url_for("court.manage_sitting", slug=slug, sitting_id=created.id))
        status = sent.status
    rows = reads_all(sittings.sittings_query().order_by(sittings.Sitting.starts_at.desc()))
    listed = [sittings.describe(access.scheme, row, member_id=None, full=True) for row in rows]
    return render(
        "court/sittings.html",
        status,
        form=form,
        listed=listed,
        role_rows=range(max(len(policy["roles"]) + 1, 4)),
    )


def _roles_from(form: Form) -> list[dict[str, Any]]:
    roles = []
    for index in range(MAX_FORM_ROLES):
        name = read_text(form, f"role_{index}_name", max_length=60)
        if not name:
            continue
        minutes = read_duration(form, f"role_{index}_minutes")
        places = read_int(form, f"role_{index}_places", high=500)
        if minutes is not None and places is not None:
            roles.append({"name": name, "minutes": minutes, "places": places})
    if not roles and not form.errors:
        form.add("role_0_name", "Give the sitting at least one role.")
    return roles


@bp.route("/manage/sittings/<int:sitting_id>", methods=["GET", "POST"])
def manage_sitting(slug: str, sitting_id: int) -> Any:
    access = page_access(coordinator=True)
    sittings.require_sittings(access.scheme)
    found = sittings.get_sitting(sitting_id)
    form = Form()
    status = 200
    if request.method == "POST":
        form = Form.from_request(present=[])
        action = form.get("action")
        fields = {"member_id": "member_id", "role_id": "role_id", "present": "present"}
        with Submission(form, fields) as sent:
            access = page_access(write=True, coordinator=True)
            if action == "assign":
                member_id = read_int(form, "member_id")
                role_id = read_int(form, "role_id")
                form.check()
                assert member_id is not None and role_id is not None
                sittings.assign(
                    access.scheme,
                    sitting_id,
                    member_id=member_id,
                    role_id=role_id,
                    actor_user_id=access.user.id,
                )
                done = "Added to the rota."
            elif action == "cancel":
                sittings.cancel_sitting(access.scheme, sitting_id, actor_user_id=access.user.id)
                done = "Sitting called off: nobody will be reminded or credited."
            elif action == "remove":
                member_id = read_int(form, "member_id")
                form.check()
                assert member_id is not None
                sittings.unassign(
                    access.scheme, sitting_id, member_id=member_id, actor_user_id=access.user.id
                )
                done = "Taken off the rota."
            else:
                present = read_ids(form, "present")
                sittings.record_attendance(
                    access.scheme, sitting_id, present=present, actor_user_id=access.user.id
                )
                done = f"Attendance recorded: {len(present)} present."
        if sent.ok:
            flash(done)
            return redirect(url_for("court.manage_sitting", slug=slug, sitting_id=sitting_id))
        status = sent.status
    shown = sittings.describe(access.scheme, found, member_id=None, full=True)
    on_rota = {a["member_id"] for a in shown["assignments"]}
    people = [p for p in reads.directory(access, exclude_self=False) or [] if p[0] not in on_rota]
    return render(
        "court/sitting.html",
        status,
        form=form,
        sitting=shown,
        people=people,
        role_options=[
            (role["id"], f"{role['name']} ({role['places'] - role['taken']} open)")
            for role in shown["roles"]
        ],
        rota_options=[(a["member_id"], f"{a['name']} — {a['role']}") for a in shown["assignments"]],
    )


@bp.route("/manage/sittings/<int:sitting_id>/credit", methods=["GET", "POST"])
@idempotent
def credit_sitting(slug: str, sitting_id: int) -> Any:
    access = page_access(coordinator=True)
    sittings.require_sittings(access.scheme)
    found = sittings.get_sitting(sitting_id)
    form = Form()
    status = 200
    if request.method == "POST":
        with Submission(form) as sent:
            access = page_access(write=True, coordinator=True)
            transactions = sittings.credit_sitting(
                access.scheme, sitting_id, actor_user_id=access.user.id
            )
        if sent.ok:
            count = len(transactions)
            flash(f"Credited {count} member{'s' if count != 1 else ''} for this sitting.")
            return redirect(url_for("court.manage_sitting", slug=slug, sitting_id=sitting_id))
        status = sent.status
    shown = sittings.describe(access.scheme, found, member_id=None, full=True)
    minutes = {role["id"]: role["minutes"] for role in shown["roles"]}
    present = [a for a in shown["assignments"] if a["present"]]
    return render(
        "court/credit.html",
        status,
        form=form,
        sitting=shown,
        present=present,
        minutes=minutes,
        total=sum(minutes[a["role_id"]] for a in present),
    )
