"""Coordinator pages of groups (classes, houses) and goals: ``/s/<slug>/manage/groups…``,
``/s/<slug>/manage/goals``. Routes on the ``manage`` blueprint (coordinators only)."""

from __future__ import annotations

from typing import Any

from flask import flash, g, redirect, request, url_for

from timebank.platform.api.idempotency import idempotent
from timebank.platform.web import reads
from timebank.platform.web.forms import (
    Form,
    Submission,
    read_choice,
    read_duration,
    read_ids,
    read_int,
    read_optional_text,
    read_text,
)
from timebank.platform.web.pages.common import page_access, render
from timebank.platform.web.pages.manage import bp
from timebank.tenants.groups import services as groups
from timebank.tenants.groups.models import GROUP_KINDS
from timebank.tenants.ledger import services as ledger
from timebank.tenants.policy.services import current_policy
from timebank.tenants.spending import goals

KIND_LABELS = {"class": "Class", "house": "House", "other": "Other group"}


@bp.app_context_processor
def _features() -> dict[str, Any]:
    """Which optional features the coordinator's menu links to (groups, referrals)."""
    access = g.get("scheme_access") or g.get("referral_access")
    if access is None:
        return {}
    document = current_policy(access.scheme)
    return {
        "features": {
            "groups": bool(document["groups"]["enabled"]),
            "referrals": bool(document["referrals"]["enabled"]),
        }
    }


@bp.route("/groups", methods=["GET", "POST"])
def groups_page(slug: str) -> Any:
    access = page_access(coordinator=True)
    groups.ensure_enabled(access.scheme)
    form = Form(values={"kind": "class"})
    status = 200
    if request.method == "POST":
        form = Form.from_request()
        with Submission(form, {"name": "name", "kind": "kind"}) as sent:
            name = read_text(form, "name", required=True, max_length=80)
            kind = read_choice(form, "kind", GROUP_KINDS, message="Choose class, house or other.")
            form.check()
            access = page_access(write=True, coordinator=True)
            group = groups.create_group(
                access.scheme, name=name, kind=str(kind), actor_user_id=access.user.id
            )
        if sent.ok:
            flash(f"Added {group.name}. Now choose who is in it.")
            return redirect(url_for("manage.group_page", slug=slug, group_id=group.id))
        status = sent.status
    return render(
        "manage/groups.html",
        status,
        form=form,
        league=groups.league(),
        kinds=[(kind, KIND_LABELS[kind], None) for kind in GROUP_KINDS],
        kind_labels=KIND_LABELS,
        league_public=groups.league_shown(access.scheme),
    )


@bp.route("/groups/<int:group_id>", methods=["GET", "POST"])
def group_page(slug: str, group_id: int) -> Any:
    access = page_access(coordinator=True)
    groups.ensure_enabled(access.scheme)
    group = groups.get_group(group_id)  # 404 for another scheme's group
    form = Form(values={"member_ids": [str(i) for i in groups.member_ids_of(group.id)]})
    status = 200
    if request.method == "POST":
        form = Form.from_request(member_ids=[])
        with Submission(form, {"member_ids": "member_ids"}) as sent:
            access = page_access(write=True, coordinator=True)
            groups.set_members(
                access.scheme, group.id, read_ids(form, "member_ids"), actor_user_id=access.user.id
            )
        if sent.ok:
            count = len(groups.member_ids_of(group.id))
            flash(f"{group.name} now has {count} member{'s' if count != 1 else ''}.")
            return redirect(url_for("manage.group_page", slug=slug, group_id=group.id))
        status = sent.status
    return render(
        "manage/group.html",
        status,
        form=form,
        group=group,
        kind_label=KIND_LABELS[group.kind],
        people=reads.directory(access, exclude_self=False) or [],
        chosen={str(i) for i in (form.get("member_ids") or [])},
    )


@bp.route("/groups/<int:group_id>/award", methods=["GET", "POST"])
@idempotent
def group_award(slug: str, group_id: int) -> Any:
    access = page_access(coordinator=True)
    groups.ensure_enabled(access.scheme)
    group = groups.get_group(group_id)
    form = Form()
    status = 200
    if request.method == "POST":
        form = Form.from_request()
        fields = {"activity_id": "activity_id", "minutes": "hours", "note": "note"}
        with Submission(form, fields) as sent:
            activity_id = read_int(form, "activity_id")
            if activity_id is None:
                form.errors["activity_id"] = ["Choose the activity."]
            minutes = read_duration(form, "hours")
            note = read_optional_text(form, "note")
            form.check()
            assert activity_id is not None and minutes is not None
            access = page_access(write=True, coordinator=True)
            result = groups.award_group(
                access.scheme,
                group.id,
                activity_id=activity_id,
                minutes=minutes,
                note=note,
                actor_user_id=access.user.id,
            )
        if sent.ok:
            count = len(result.transactions)
            flash(
                f"Credited {ledger.format_minutes(result.award.credited_minutes)} to each of "
                f"the {count} member{'s' if count != 1 else ''} of {group.name}."
            )
            return redirect(url_for("manage.groups_page", slug=slug))
        status = sent.status
    return render(
        "manage/group_award.html",
        status,
        form=form,
        group=group,
        members=groups.members_of(group.id),
        activity_options=[(activity.id, activity.name) for activity in reads.activities()],
    )


@bp.route("/goals")
def goals_page(slug: str) -> Any:
    """Who is near their goal: every member's goal, the nearest first."""
    page_access(coordinator=True)
    return render("manage/goals.html", near=goals.near_goals())
