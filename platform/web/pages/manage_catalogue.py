"""Coordinator pages for what a scheme offers: activities, rewards and redemptions, the rules."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for
from sqlalchemy import select

from timebank.platform.db import db
from timebank.platform.identity.models import User
from timebank.platform.web import reads
from timebank.platform.web.forms import (
    Form,
    Submission,
    read_choice,
    read_duration,
    read_int,
    read_limit,
    read_optional_text,
    read_text,
    show_duration,
)
from timebank.platform.web.pages.common import page_access, render
from timebank.platform.web.pages.manage import bp
from timebank.tenants.earning import services as earning
from timebank.tenants.earning.schemas import ActivityIn, ActivityPatch
from timebank.tenants.ledger.posting import format_minutes
from timebank.tenants.policy import services as policies
from timebank.tenants.policy.schemas import WELLBEING_DEFAULTS
from timebank.tenants.spending import services as spending
from timebank.tenants.spending.schemas import RewardCreate, RewardPatch

APPROVAL_CHOICES = ("policy", "auto", "coordinator")
ACTIVITY_FIELDS = {n: n for n in ("name", "description", "rate", "approval", "category")}

# --- activities -------------------------------------------------------------------------


@bp.route("/activities", methods=["GET", "POST"])
def activities(slug: str) -> Any:
    access = page_access(coordinator=True)
    form = Form(values={"rate": "1", "approval": "policy"})
    status = 200
    if request.method == "POST":
        form = Form.from_request()
        with Submission(form, ACTIVITY_FIELDS) as sent:
            body = ActivityIn().load(_activity_fields(form))
            access = page_access(write=True, coordinator=True)
            created = earning.create_activity(access.scheme, body, actor_user_id=access.user.id)
        if sent.ok:
            flash(f"Added “{created.name}”.")
            return redirect(url_for("manage.activities", slug=slug))
        status = sent.status
    return render(
        "manage/activities.html",
        status,
        form=form,
        activities=reads.activities(active=None),
        approval=policies.current_policy(access.scheme)["claims"]["approval"],
    )


def _activity_fields(form: Form) -> dict[str, Any]:
    return {
        "name": read_text(form, "name", max_length=200),
        "description": read_optional_text(form, "description", max_length=600),
        "rate": read_text(form, "rate", max_length=30) or "1",
        "approval": read_choice(
            form, "approval", APPROVAL_CHOICES, message="Choose who approves the hours."
        )
        or "policy",
        "active": form.get("active", "") == "yes" if "active" in form.values else True,
        "with_children": form.get("with_children", "") == "yes",
        "minors_allowed": form.get("minors_allowed", "") == "yes",
    }


@bp.route("/activities/<int:activity_id>", methods=["GET", "POST"])
def activity(slug: str, activity_id: int) -> Any:
    access = page_access(coordinator=True)
    found = earning.get_activity(activity_id)
    form = Form(
        values={
            "name": found.name,
            "description": found.description or "",
            "rate": found.rate,
            "approval": found.approval,
            "active": "yes" if found.active else "",
            "with_children": "yes" if found.with_children else "",
            "minors_allowed": "yes" if found.minors_allowed else "",
        }
    )
    status = 200
    if request.method == "POST":
        form = Form.from_request(active="", goal="")
        with Submission(form, ACTIVITY_FIELDS) as sent:
            changes = ActivityPatch().load(_activity_fields(form))
            access = page_access(write=True, coordinator=True)
            earning.update_activity(
                access.scheme, activity_id, changes, actor_user_id=access.user.id
            )
        if sent.ok:
            flash(f"Saved “{changes['name']}”.")
            return redirect(url_for("manage.activities", slug=slug))
        status = sent.status
    return render("manage/activity.html", status, form=form, activity=found)


# --- rewards and redemptions ------------------------------------------------------------

REWARD_FIELDS = {
    "name": "name",
    "price": "price",
    "stock": "stock",
    "description": "description",
    "per_member_limit": "limit_quantity",
    "per_member_limit.quantity": "limit_quantity",
    "per_member_limit.period": "limit_period",
}


def _reward_fields(form: Form) -> dict[str, Any]:
    quantity = read_int(form, "limit_quantity", required=False, high=1_000_000)
    period = str(form.get("limit_period") or "")
    if quantity is not None and period not in ("week", "month", "year"):
        form.add("limit_period", "Choose week, month or year for the limit.")
    fields = {
        "name": read_text(form, "name", max_length=200),
        "price": read_duration(form, "price"),
        "stock": read_int(form, "stock", required=False, low=0, high=1_000_000),
        "description": read_optional_text(form, "description", max_length=600),
        "per_member_limit": {"quantity": quantity, "period": period} if quantity else None,
        "goal": form.get("goal") == "yes",
    }
    form.check()
    return fields


@bp.route("/rewards", methods=["GET", "POST"])
def rewards(slug: str) -> Any:
    access = page_access(coordinator=True)
    form = Form(values={"limit_period": "month"})
    status = 200
    if request.method == "POST":
        form = Form.from_request()
        with Submission(form, REWARD_FIELDS) as sent:
            body = RewardCreate().load(_reward_fields(form))
            access = page_access(write=True, coordinator=True)
            created = spending.create_reward(access.scheme, body, actor_user_id=access.user.id)
        if sent.ok:
            flash(f"Added “{created.name}”.")
            return redirect(url_for("manage.rewards", slug=slug))
        status = sent.status
    return render(
        "manage/rewards.html",
        status,
        form=form,
        rewards=reads.rewards(active=None),
        pending=reads.redemptions(status="pending", limit=100),
    )


@bp.route("/rewards/<int:reward_id>", methods=["GET", "POST"])
def reward(slug: str, reward_id: int) -> Any:
    access = page_access(coordinator=True)
    found = spending.describe_reward(spending.get_reward(reward_id))
    limit = found["per_member_limit"] or {}
    form = Form(
        values={
            "name": found["name"],
            "price": show_duration(found["price"]),
            "stock": "" if found["stock"] is None else str(found["stock"]),
            "description": found["description"] or "",
            "limit_quantity": str(limit.get("quantity", "")),
            "limit_period": limit.get("period", "month"),
            "active": "yes" if found["active"] else "",
            "goal": "yes" if found["goal"] else "",
        }
    )
    status = 200
    if request.method == "POST":
        form = Form.from_request(active="", goal="")
        with Submission(form, REWARD_FIELDS) as sent:
            changes = RewardPatch().load(
                {**_reward_fields(form), "active": form.get("active") == "yes"}
            )
            access = page_access(write=True, coordinator=True)
            spending.update_reward(access.scheme, reward_id, changes, actor_user_id=access.user.id)
        if sent.ok:
            flash(f"Saved “{changes['name']}”.")
            return redirect(url_for("manage.rewards", slug=slug))
        status = sent.status
    return render("manage/reward.html", status, form=form, reward=found)


@bp.route("/redemptions/<int:redemption_id>/<any(fulfil, cancel):action>", methods=["POST"])
def decide_redemption(slug: str, redemption_id: int, action: str) -> Any:
    form = Form()
    with Submission(form) as sent:
        access = page_access(write=True, coordinator=True)
        if action == "fulfil":
            done = spending.fulfil_redemption(
                access.scheme, redemption_id, actor_user_id=access.user.id
            )
        else:
            done = spending.cancel_redemption(
                access.scheme, redemption_id, actor_user_id=access.user.id
            )
    if sent.ok:
        flash(
            f"Code {done.code}: "
            + ("handed over." if action == "fulfil" else "cancelled and the hours given back.")
        )
    else:
        flash(form.message or "That did not work.")
    return redirect(url_for("manage.rewards", slug=slug))


# --- the rules (policy) -----------------------------------------------------------------

POLICY_FIELDS = {
    "peer_transfers.enabled": "peer_enabled",
    "peer_transfers.max_amount": "peer_max",
    "balance.min": "balance_min",
    "balance.max": "balance_max",
    "balance": "balance_min",
    "claims.enabled": "claims_enabled",
    "claims.approval": "claims_approval",
    "claims.max_minutes_per_claim": "claims_max",
    "claims.cap": "cap_minutes",
    "claims.cap.minutes": "cap_minutes",
    "claims.cap.period": "cap_period",
    "claims.max_age_days": "max_age_days",
    "rewards.enabled": "rewards_enabled",
    "expiry": "expiry_days",
    "expiry.after_days": "expiry_days",
    "exchange.enabled": "exchange_enabled",
    "privacy.member_directory": "directory",
    "sittings.enabled": "sittings_enabled",
    "sittings.self_signup": "sittings_self_signup",
    "orders.enabled": "orders_enabled",
    "orders.extra_hours_earn_credits": "orders_extra_credits",
    "groups.enabled": "groups_enabled",
    "groups.league_table": "league_table",
    "referrals.enabled": "referrals_enabled",
    "wellbeing.scale": "wellbeing_scale",
    "wellbeing.every_months": "wellbeing_every",
}

CHANGE_WORDS = {
    "peer_transfers.enabled": "paying each other",
    "peer_transfers.max_amount": "largest payment",
    "balance.min": "lowest balance",
    "balance.max": "highest balance",
    "claims.enabled": "logging hours",
    "claims.approval": "who approves hours",
    "claims.max_minutes_per_claim": "longest claim",
    "claims.cap": "earning cap",
    "claims.cap.minutes": "earning cap",
    "claims.cap.period": "earning cap period",
    "claims.max_age_days": "how late hours can be logged",
    "rewards.enabled": "rewards",
    "expiry": "credits lapsing",
    "expiry.after_days": "credits lapsing",
    "exchange.enabled": "partner schemes",
    "privacy.member_directory": "member list",
    "sittings.enabled": "court sittings",
    "sittings.self_signup": "signing up for sittings",
    "sittings.roles": "sitting roles",
    "orders.enabled": "ordered hours",
    "orders.extra_hours_earn_credits": "credits for hours beyond an order",
    "groups.enabled": "groups",
    "groups.league_table": "league table",
    "referrals.enabled": "referrals",
    "*": "first rules",
}


MINUTE_PATHS = {"peer_transfers.max_amount", "balance.min", "balance.max",
                "claims.max_minutes_per_claim", "claims.cap.minutes"}  # fmt: skip


def _value_at(document: dict[str, Any], path: str) -> Any:
    value: Any = document
    for key in path.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def rule_words(path: str, value: Any) -> str:
    """A rule's value in words: on/off, hours, "no limit" …"""
    if value is None:
        return "no limit" if path != "expiry" else "never"
    if isinstance(value, bool):
        return "on" if value else "off"
    if path in MINUTE_PATHS and isinstance(value, int):
        return format_minutes(value)
    if path == "claims.cap" and isinstance(value, dict):
        return f"{format_minutes(value['minutes'])} a {value['period']}"
    if path == "expiry" and isinstance(value, dict):
        return f"after {value['after_days']} days"
    return str(value).replace("_", " ")


def rules_history(versions: list[Any]) -> list[dict[str, Any]]:
    """Each version with who made it, when, and every change as (rule, before, after)."""
    by_number = {version.version: version.document for version in versions}
    ids = {version.created_by for version in versions if version.created_by}
    names = dict(
        db.session.execute(select(User.id, User.name).where(User.id.in_(ids))).tuples().all()
        if ids
        else []
    )
    history = []
    for version in versions:
        before = by_number.get(version.version - 1)
        changes: list[tuple[str, str | None, str | None]] = []
        for path in version.changes:
            if path == "*" or before is None:
                changes.append((CHANGE_WORDS.get(path, path), None, None))
                continue
            changes.append(
                (
                    CHANGE_WORDS.get(path, path),
                    rule_words(path, _value_at(before, path)),
                    rule_words(path, _value_at(version.document, path)),
                )
            )
        history.append(
            {
                "version": version.version,
                "created_at": version.created_at,
                "who": names.get(version.created_by, "the system"),
                "changes": changes,
            }
        )
    return history


def policy_form(document: dict[str, Any]) -> Form:
    cap = document["claims"]["cap"]
    low = document["balance"]["min"]
    return Form(
        values={
            "peer_enabled": "yes" if document["peer_transfers"]["enabled"] else "",
            "peer_max": show_duration(document["peer_transfers"]["max_amount"]),
            "balance_min": show_duration(-low if low else low),
            "balance_max": show_duration(document["balance"]["max"]),
            "claims_enabled": "yes" if document["claims"]["enabled"] else "",
            "claims_approval": document["claims"]["approval"],
            "claims_max": show_duration(document["claims"]["max_minutes_per_claim"]),
            "cap_minutes": show_duration(cap["minutes"]) if cap else "",
            "cap_period": cap["period"] if cap else "month",
            "max_age_days": str(document["claims"].get("max_age_days") or ""),
            "rewards_enabled": "yes" if document["rewards"]["enabled"] else "",
            "expiry_days": str(document["expiry"]["after_days"]) if document["expiry"] else "",
            "exchange_enabled": "yes" if document["exchange"]["enabled"] else "",
            "directory": document["privacy"]["member_directory"],
            "sittings_enabled": "yes" if document["sittings"]["enabled"] else "",
            "sittings_self_signup": "yes" if document["sittings"]["self_signup"] else "",
            "orders_enabled": "yes" if document["orders"]["enabled"] else "",
            "orders_extra_credits": "yes" if document["orders"]["extra_hours_earn_credits"] else "",
            "groups_enabled": "yes" if document["groups"]["enabled"] else "",
            "league_table": "yes" if document["groups"]["league_table"] else "",
            "referrals_enabled": "yes" if document["referrals"]["enabled"] else "",
            "wellbeing_scale": document["wellbeing"]["scale"],
            "wellbeing_every": str(document["wellbeing"]["every_months"]),
        }
    )


def policy_document(form: Form, current: dict[str, Any]) -> dict[str, Any]:
    """The policy document from the form's answers (checked by the policy's own schema).

    Sections and fields the form does not show (offers and requests, the
    sittings' default roles) keep their ``current`` values.
    """
    cap_minutes = read_duration(form, "cap_minutes", required=False, allow_zero=True)
    document = {
        "peer_transfers": {
            "enabled": form.get("peer_enabled") == "yes",
            "max_amount": read_duration(form, "peer_max", required=False),
        },
        "balance": {
            "min": read_limit(form, "balance_min", negative=True),
            "max": read_limit(form, "balance_max", negative=False),
        },
        "claims": {
            "enabled": form.get("claims_enabled") == "yes",
            "approval": form.get("claims_approval"),
            "max_minutes_per_claim": read_duration(form, "claims_max", required=False),
            "cap": None
            if cap_minutes is None
            else {"minutes": cap_minutes, "period": form.get("cap_period")},
            "max_age_days": read_int(form, "max_age_days", required=False, low=0, high=3650),
        },
        "rewards": {"enabled": form.get("rewards_enabled") == "yes"},
        "expiry": None
        if not str(form.get("expiry_days")).strip()
        else {"after_days": read_int(form, "expiry_days", high=36500)},
        "exchange": {"enabled": form.get("exchange_enabled") == "yes"},
        "privacy": {"member_directory": form.get("directory")},
        "sittings": {
            **current["sittings"],
            "enabled": form.get("sittings_enabled") == "yes",
            "self_signup": form.get("sittings_self_signup") == "yes",
        },
        "orders": {
            "enabled": form.get("orders_enabled") == "yes",
            "extra_hours_earn_credits": form.get("orders_extra_credits") == "yes",
        },
        "groups": {
            "enabled": form.get("groups_enabled") == "yes",
            "league_table": form.get("league_table") == "yes",
        },
        "referrals": {"enabled": form.get("referrals_enabled") == "yes"},
        "wellbeing": {
            "scale": form.get("wellbeing_scale") or "none",
            "every_months": read_int(form, "wellbeing_every", required=False, low=1, high=60)
            or WELLBEING_DEFAULTS["every_months"],
        },
    }
    form.check()
    kept = {key: value for key, value in current.items() if key != "version"}
    return {**kept, **document}


@bp.route("/rules", methods=["GET", "POST"])
def policy(slug: str) -> Any:
    access = page_access(coordinator=True)
    current = policies.policy_document(access.scheme)
    form = policy_form(current)
    status = 200
    if request.method == "POST":
        form = Form.from_request()
        with Submission(form, POLICY_FIELDS) as sent:
            document = policy_document(form, current)
            access = page_access(write=True, coordinator=True)
            saved = policies.update_policy(access.scheme, document, actor_user_id=access.user.id)
        if sent.ok:
            if saved["version"] == current["version"]:
                flash("Nothing was changed.")
            else:
                flash(f"Saved the rules (version {saved['version']}).")
            return redirect(url_for("manage.policy", slug=slug))
        status = sent.status
    return render(
        "manage/policy.html",
        status,
        form=form,
        version=current["version"],
        versions=rules_history(policies.list_versions(access.scheme)),
    )
