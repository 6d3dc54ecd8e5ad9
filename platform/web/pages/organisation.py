"""Organisations: start a scheme from a sector template, then the first steps."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_user

from timebank.platform.db import run_atomic
from timebank.platform.identity import services as identity
from timebank.platform.identity.schemas import UserCreate
from timebank.platform.schemes import sandboxes
from timebank.platform.schemes import services as schemes
from timebank.platform.schemes.schemas import SchemeCreate
from timebank.platform.schemes.zones import zone_groups
from timebank.platform.web.forms import Form, Submission, read_text
from timebank.tenants.templates import TEMPLATE_NAMES, load_template

bp = Blueprint("organisation", __name__)

TEMPLATE_TITLES = {
    "surgery": "A GP surgery time bank",
    "school": "Pupils tutoring pupils (a school)",
    "youth_court": "A youth court",
    "community": "A neighbourhood time bank",
}


def template_choices() -> list[tuple[str, str, str]]:
    return [
        (name, TEMPLATE_TITLES[name], load_template(name).get("description", ""))
        for name in TEMPLATE_NAMES
    ]


def template_previews() -> list[dict[str, Any]]:
    """What each template sets up: its activities, rewards and main rules."""
    previews = []
    for name in TEMPLATE_NAMES:
        data = load_template(name)
        policy = data.get("policy", {})
        claims = policy.get("claims", {})
        balance = policy.get("balance", {})
        rules = [
            "Members may pay each other"
            if policy.get("peer_transfers", {}).get("enabled")
            else "Members cannot pay each other directly",
            "Hours logged are checked by a coordinator"
            if claims.get("approval") == "coordinator"
            else "Hours logged count at once",
        ]
        if claims.get("max_minutes_per_claim"):
            rules.append(f"At most {claims['max_minutes_per_claim'] // 60} hours per claim")
        if balance.get("min") is not None and balance["min"] < 0:
            rules.append(f"A member may owe up to {-balance['min'] // 60} hours")
        if policy.get("exchange", {}).get("enabled"):
            rules.append("Payments with partner schemes are allowed")
        previews.append(
            {
                "name": name,
                "title": TEMPLATE_TITLES[name],
                "activities": [activity["name"] for activity in data.get("activities", [])],
                "rewards": [
                    (reward["name"], reward["price"]) for reward in data.get("rewards", [])
                ],
                "rules": rules,
            }
        )
    return previews


@bp.route("/start", methods=["GET", "POST"])
def start() -> Any:
    form = Form(values={"template": "community", "timezone": "Europe/London"})
    status = 200
    if request.method == "POST":
        form = Form.from_request()
        form.values.pop("password", None)
        fields = {name: name for name in ("name", "slug", "template", "timezone")}
        fields |= {"email": "email", "password": "password", "person_name": "person_name"}
        with Submission(form, fields) as sent:
            scheme_fields = SchemeCreate().load(
                {
                    "name": read_text(form, "name", max_length=200),
                    "slug": read_text(form, "slug", max_length=100).lower(),
                    "template": read_text(form, "template"),
                    "timezone": read_text(form, "timezone", max_length=64) or "Europe/London",
                }
            )
            account = _new_account(form)

            def work() -> tuple[Any, Any]:
                # One unit of work: a taken address (or anything else refused)
                # leaves no account behind, and nobody is signed in.
                user = (
                    current_user._get_current_object()
                    if account is None
                    else identity.register_user(
                        email=account["email"], password=account["password"], name=account["name"]
                    )
                )
                scheme = schemes.create_scheme(
                    name=scheme_fields["name"],
                    slug=scheme_fields["slug"],
                    template=scheme_fields["template"],
                    timezone=scheme_fields["timezone"],
                    creator=user,
                    sandbox=form.get("sandbox") == "yes",
                )
                return user, scheme

            user, scheme = run_atomic(work)
            if account is not None:
                login_user(user)
            if scheme.sandbox:
                sandboxes.fill(scheme, user)
        if sent.ok:
            if scheme.sandbox:
                flash(f"{scheme.name} is a sandbox with made-up members and history: try it out.")
                return redirect(url_for("sandbox.overview", slug=scheme.slug))
            flash(f"{scheme.name} has been created, and you are its coordinator.")
            return redirect(url_for("manage.welcome", slug=scheme.slug))
        status = sent.status
    return render_template(
        "organisation/start.html",
        form=form,
        templates=template_choices(),
        previews=template_previews(),
        zone_groups=zone_groups(),
    ), status


@bp.route("/start/address")
def check_address() -> Any:
    """JSON for the sign-up form: is this address free, or which one to suggest for a name."""
    slug = request.args.get("slug", "").strip().lower()[:100]
    name = request.args.get("name", "").strip()[:200]
    if not slug:
        suggestion = schemes.suggest_slug(name) if name else ""
        return jsonify(slug=suggestion, available=bool(suggestion), message=None)
    problem = schemes.check_slug(slug)
    return jsonify(slug=slug, available=problem is None, message=problem)


def _new_account(form: Form) -> dict[str, str] | None:
    """The new account the form asks for (checked, not yet created); None when signed in."""
    if current_user.is_authenticated:
        return None
    body = UserCreate().load(
        {
            "name": read_text(form, "person_name", max_length=200),
            "email": read_text(form, "email", max_length=300),
            "password": request.form.get("password", ""),
        },
    )
    return {"email": body["email"], "password": body["password"], "name": body["name"]}
