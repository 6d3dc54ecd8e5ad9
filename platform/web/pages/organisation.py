"""Organisations: start a scheme from a sector template, then the first steps."""

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user

from timebank.platform.identity import services as identity
from timebank.platform.identity.schemas import UserCreate
from timebank.platform.schemes import services as schemes
from timebank.platform.schemes.schemas import SchemeCreate
from timebank.platform.web.forms import Form, Submission, read_text
from timebank.tenants.templates import TEMPLATE_NAMES, load_template

bp = Blueprint("organisation", __name__)

TEMPLATE_TITLES = {
    "surgery": "A GP surgery time bank",
    "school": "Pupils tutoring pupils (a school)",
    "youth_court": "A youth court",
    "community": "A neighbourhood time bank",
}
COMMON_ZONES = ("Europe/London", "Europe/Dublin", "America/New_York", "America/Chicago",
                "America/Los_Angeles", "Australia/Sydney")  # fmt: skip


def template_choices() -> list[tuple[str, str, str]]:
    return [
        (name, TEMPLATE_TITLES[name], load_template(name).get("description", ""))
        for name in TEMPLATE_NAMES
    ]


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
            user = _signed_in_or_new(form)
            scheme = schemes.create_scheme(
                name=scheme_fields["name"],
                slug=scheme_fields["slug"],
                template=scheme_fields["template"],
                timezone=scheme_fields["timezone"],
                creator=user,
            )
        if sent.ok:
            flash(f"{scheme.name} has been created, and you are its coordinator.")
            return redirect(url_for("manage.welcome", slug=scheme.slug))
        status = sent.status
    zones = sorted(available_timezones())
    return render_template(
        "organisation/start.html",
        form=form,
        templates=template_choices(),
        zones=[(zone, zone) for zone in COMMON_ZONES]
        + [(zone, zone) for zone in zones if zone not in COMMON_ZONES and "/" in zone],
    ), status


def _signed_in_or_new(form: Form) -> Any:
    """The signed-in person, or a new account from the form (signed in at once)."""
    if current_user.is_authenticated:
        return current_user._get_current_object()
    body = UserCreate().load(
        {
            "name": read_text(form, "person_name", max_length=200),
            "email": read_text(form, "email", max_length=300),
            "password": request.form.get("password", ""),
        },
    )
    user = identity.register_user(email=body["email"], password=body["password"], name=body["name"])
    login_user(user)
    return user
