"""Coordinator pages about people: the claims queue, members, invitations, imports, awards."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for

from timebank.platform.api.errors import ApiError
from timebank.platform.api.idempotency import idempotent
from timebank.platform.web import reads
from timebank.platform.web.forms import (
    Form,
    Submission,
    read_choice,
    read_duration,
    read_ids,
    read_int,
    read_limit,
    read_optional_text,
    read_text,
    show_duration,
)
from timebank.platform.web.pages import manage_children
from timebank.platform.web.pages.common import page_access, render
from timebank.platform.web.pages.manage import bp, welcome_page
from timebank.platform.web.routes import safe_next
from timebank.tenants.access import get_member
from timebank.tenants.earning import awards, caps
from timebank.tenants.earning import services as earning
from timebank.tenants.ledger import services as ledger
from timebank.tenants.memberships import imports
from timebank.tenants.memberships import services as memberships
from timebank.tenants.memberships.models import ROLES
from timebank.tenants.memberships.schemas import INVITE_ROLES, InvitationCreate
from timebank.tenants.policy.services import current_policy

# --- the claims queue -----------------------------------------------------------------


@bp.route("/claims", methods=["GET", "POST"])
def claims(slug: str) -> Any:
    access = page_access(coordinator=True)
    form = Form()
    results: list[tuple[str, str]] = []  # (outcome, message) per claim
    status = 200
    if request.method == "POST":
        form = Form.from_request()
        claim_ids = read_ids(form, "claim_ids")
        action = form.get("action")
        reason = read_optional_text(form, "reason")
        if not claim_ids:
            form.add("claim_ids", "Tick at least one claim.")
        if action not in ("approve", "reject"):
            form.message = "Choose to approve or to refuse the ticked claims."
        if not form.failed:
            results = _decide(claim_ids, str(action), reason)
            done = sum(1 for outcome, _ in results if outcome == "ok")
            if done == len(results):
                verb = "approved" if action == "approve" else "refused"
                flash(f"{done} claim{'s' if done != 1 else ''} {verb}.")
                return redirect(url_for("manage.claims", slug=slug))
            form.message = "Some claims could not be decided: see below."
        status = 422
    pending = reads.claims(status="pending", limit=200)
    return render(
        "manage/claims.html",
        status,
        form=form,
        pending=pending,
        cap_warnings=caps.queue_warnings(access.scheme, [item["claim"] for item in pending]),
        results=results,
        recent=reads.claims(limit=10),
    )


def _decide(claim_ids: list[int], action: str, reason: str | None) -> list[tuple[str, str]]:
    """Approve or refuse each claim in its own unit of work; say what happened to each."""
    results = []
    for claim_id in claim_ids:
        access = page_access(write=True, coordinator=True)
        try:
            if action == "approve":
                claim = earning.approve_claim(
                    access.scheme,
                    claim_id,
                    access.member,
                    is_coordinator=True,
                    actor_user_id=access.user.id,
                )
            else:
                claim = earning.reject_claim(
                    access.scheme,
                    claim_id,
                    access.member,
                    reason=reason,
                    is_coordinator=True,
                    actor_user_id=access.user.id,
                )
        except ApiError as error:
            results.append(("refused", f"Claim {claim_id}: {error.detail}"))
        else:
            name = ledger.member_names([claim.member_id]).get(claim.member_id, "")
            verb = "approved" if action == "approve" else "refused"
            results.append(("ok", f"{name}'s {ledger.format_minutes(claim.minutes)}: {verb}."))
    return results


# --- members ----------------------------------------------------------------------------


@bp.route("/members")
def members(slug: str) -> Any:
    page_access(coordinator=True)
    return _members_page(Form(values={"role": "member"}), 200)


def _members_page(form: Form, status: int, upload: Form | None = None) -> Any:
    rows, next_cursor = reads.members_page(request.args.get("cursor") or None)
    return render(
        "manage/members.html",
        status,
        form=form,
        upload=upload or Form(),
        members=rows,
        next_cursor=next_cursor,
        invitations=reads.open_invitations(),
        imports=reads.recent_imports(),
    )


@bp.route("/invitations", methods=["POST"])
def invite(slug: str) -> Any:
    access = page_access(coordinator=True)
    form = Form.from_request(role="member")
    with Submission(form, {"email": "email", "role": "role"}) as sent:
        email = read_text(form, "email", required=True, max_length=254)
        role = read_choice(form, "role", INVITE_ROLES, message="Choose member or coordinator.")
        form.check()

        body = InvitationCreate().load({"email": email, "role": role})
        access = page_access(write=True, coordinator=True)
        memberships.invite(access.scheme, email=body["email"], role=body["role"], actor=access.user)
    if sent.ok:
        flash(f"Invitation sent to {email}.")
        return redirect(safe_next(request.form.get("next"), url_for("manage.members", slug=slug)))
    if request.form.get("next", "").endswith("/manage/welcome"):
        return welcome_page(form, sent.status)
    return _members_page(form, sent.status)


@bp.route("/imports", methods=["POST"])
def start_import(slug: str) -> Any:
    access = page_access(coordinator=True)
    upload = Form()
    with Submission(upload, {"file": "file"}) as sent:
        file = request.files.get("file")
        if file is None or not file.filename:
            upload.add("file", "Choose a CSV file to upload.")
            upload.check()
        assert file is not None
        content = imports.decode_upload(file.read())
        access = page_access(write=True, coordinator=True)
        started = imports.start_import(
            access.scheme, actor=access.user, filename=file.filename or "", content=content
        )
    if sent.ok:
        return redirect(url_for("manage.import_progress", slug=slug, import_id=started.id))
    return _members_page(Form(values={"role": "member"}), sent.status, upload)


@bp.route("/imports/<int:import_id>")
def import_progress(slug: str, import_id: int) -> Any:
    page_access(coordinator=True)
    found = imports.describe_import(imports.get_import(import_id))
    return render("manage/import.html", item=found)


@bp.route("/members/<int:member_id>", methods=["GET", "POST"])
def member(slug: str, member_id: int) -> Any:
    access = page_access(coordinator=True)
    found = get_member(member_id)
    details = memberships.describe_member(found)
    form = Form(
        values={
            "role": details["role"],
            "status": details["status"],
            "min_balance": show_duration(
                -details["min_balance"] if details["min_balance"] else details["min_balance"]
            ),
            "max_balance": show_duration(details["max_balance"]),
        }
    )
    status = 200
    if request.method == "POST":
        form = Form.from_request()
        fields = {name: name for name in ("role", "status", "min_balance", "max_balance")}
        with Submission(form, fields) as sent:
            changes: dict[str, Any] = {
                "role": read_choice(form, "role", ROLES, message="Choose member or coordinator."),
                "status": read_choice(
                    form, "status", ("active", "suspended"), message="Choose active or suspended."
                ),
                "min_balance": read_limit(form, "min_balance", negative=True),
                "max_balance": read_limit(form, "max_balance", negative=False),
            }
            form.check()
            access = page_access(write=True, coordinator=True)
            memberships.update_member(access.scheme, member_id, changes, actor=access.user)
        if sent.ok:
            flash(f"Saved the changes for {details['name']}.")
            return redirect(url_for("manage.member", slug=slug, member_id=member_id))
        status = sent.status
    policy = current_policy(access.scheme)
    return render(
        "manage/member.html",
        status,
        form=form,
        member=details,
        default_limits=policy["balance"],
        extras=manage_children.member_extras(member_id),
    )


# --- awards -----------------------------------------------------------------------------


@bp.route("/award", methods=["GET", "POST"])
@idempotent
def award(slug: str) -> Any:
    access = page_access(coordinator=True)
    form = Form(values={"member_ids": []})
    status = 200
    if request.method == "POST":
        form = Form.from_request(member_ids=[])
        fields = {
            "activity_id": "activity_id",
            "minutes": "hours",
            "member_ids": "member_ids",
            "note": "note",
        }
        with Submission(form, fields) as sent:
            activity_id = read_int(form, "activity_id")
            if activity_id is None:
                form.errors["activity_id"] = ["Choose the activity."]
            minutes = read_duration(form, "hours")
            member_ids = read_ids(form, "member_ids")
            if not member_ids:
                form.add("member_ids", "Tick the members who took part.")
            note = read_optional_text(form, "note")
            form.check()
            assert activity_id is not None and minutes is not None
            access = page_access(write=True, coordinator=True)
            result = awards.award(
                access.scheme,
                activity_id=activity_id,
                minutes=minutes,
                member_ids=member_ids,
                note=note,
                actor_user_id=access.user.id,
            )
        if sent.ok:
            flash(
                f"Credited {ledger.format_minutes(result.award.credited_minutes)} to "
                f"{len(result.transactions)} member{'s' if len(result.transactions) != 1 else ''}."
            )
            return redirect(url_for("manage.award", slug=slug))
        status = sent.status
    activities = reads.activities()
    return render(
        "manage/award.html",
        status,
        form=form,
        activity_options=[(activity.id, activity.name) for activity in activities],
        people=reads.directory(access, exclude_self=False) or [],
        chosen={str(i) for i in (form.get("member_ids") or [])},
    )
