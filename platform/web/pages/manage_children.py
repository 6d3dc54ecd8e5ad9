"""Coordinator pages for members without e-mail, their cards, children and checks.

Routes on the ``manage`` blueprint: add a member with a name only, print sign-in
cards (one, or a whole class with new PINs), link an e-mail address later, invite
a guardian, record a safeguarding check, the checks expiring soon, and a
one-page printable statement for a period.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta
from typing import Any

import segno
from flask import current_app, flash, redirect, request, url_for
from markupsafe import Markup

from timebank.platform.api.pagination import keyset_page
from timebank.platform.web import reads
from timebank.platform.web.forms import (
    Form,
    Submission,
    read_choice,
    read_date,
    read_ids,
    read_text,
)
from timebank.platform.web.pages.common import page_access, render
from timebank.platform.web.pages.manage import bp
from timebank.tenants.access import get_member
from timebank.tenants.ledger import services as ledger
from timebank.tenants.ledger.models import Transaction
from timebank.tenants.memberships import checks, guardians, managed
from timebank.tenants.memberships import services as memberships
from timebank.tenants.memberships.attach import is_managed
from timebank.tenants.memberships.models import AGE_BANDS
from timebank.tenants.policy import minors
from timebank.tenants.policy.services import current_policy

AGE_CHOICES = [("", "Not recorded (an adult)", None)] + [
    (band, band.replace("_", "–").replace("under–", "under "), None) for band in AGE_BANDS
]


def member_extras(member_id: int) -> dict[str, Any]:
    """What the member page shows about cards, age, consent, guardians and checks."""
    member = get_member(member_id)
    policy = current_policy(page_access().scheme)
    check = checks.check_of(member_id)
    return {
        "managed": is_managed(member),
        "card": managed.card_state(member_id),
        "age_band": minors.age_band(member),
        "consent": minors.consent_state(member, policy),
        "guardians": guardians.guardians_of_member(member_id),
        "check": checks.describe_check(check) if check else None,
    }


@bp.route("/members/new", methods=["POST"])
def add_managed_member(slug: str) -> Any:
    form = Form.from_request()
    fields = {"name": "managed-name", "age_band": "managed-age_band"}
    with Submission(form, fields | {"guardian_email": "managed-guardian_email"}) as sent:
        name = read_text(form, "name", required=True, max_length=120)
        band = read_choice(form, "age_band", ("", *AGE_BANDS), message="Choose an age band.")
        born = read_date(form, "date_of_birth") if form.get("date_of_birth") else None
        if born is not None and band:
            form.add("age_band", "Give a date of birth or an age band, not both.")
        guardian_email = read_text(form, "guardian_email", max_length=254)
        if guardian_email and "@" not in guardian_email:
            form.add("guardian_email", "Enter an e-mail address like name@example.org.")
        form.check()
        access = page_access(write=True, coordinator=True)
        member, _invitation = managed.enrol_managed_member(
            access.scheme,
            name=name,
            actor=access.user,
            date_of_birth=born,
            age_band=band or None,
            guardian_email=guardian_email or None,
        )
    if sent.ok:
        invited = f" An invitation was sent to {guardian_email}." if guardian_email else ""
        flash(
            f"{name} is now a member (without e-mail).{invited} "
            "Print a sign-in card below if needed."
        )
        return redirect(url_for("manage.member", slug=slug, member_id=member.id))
    flash(
        form.message
        or "The member was not added: "
        + "; ".join(" ".join(messages) for messages in form.errors.values())
    )
    return redirect(url_for("manage.members", slug=slug))


def _qr(code: str) -> Markup:
    link = f"{current_app.config['BASE_URL']}/card?code={code}"
    svg = segno.make(link, error="m").svg_inline(scale=3, title="Sign-in code as a QR code")
    return Markup(svg)  # segno's own SVG: the only text in it is the card's code


def _card(member_id: int, code: str, pin: str | None) -> dict[str, Any]:
    details = memberships.describe_member(get_member(member_id))
    return {
        "name": details["name"],
        "member_number": member_id,
        "code": f"{code[:4]}-{code[4:]}",
        "pin": pin,
        "qr": _qr(code),
    }


@bp.route("/members/<int:member_id>/card", methods=["POST"])
def print_card(slug: str, member_id: int) -> Any:
    form = Form.from_request()
    pin = str(form.get("pin")).strip()
    with Submission(form, {"pin": "pin"}) as sent:
        if not (pin.isdecimal() and 4 <= len(pin) <= 8):
            form.add("pin", "The PIN must be 4 to 8 digits.")
        form.check()
        access = page_access(write=True, coordinator=True)
        code = managed.issue_card(access.scheme, member_id, pin=pin, actor=access.user)
    if not sent.ok:
        flash(form.error("pin") or form.message or "No card was printed.")
        return redirect(url_for("manage.member", slug=slug, member_id=member_id))
    return render("manage/cards_print.html", cards=[_card(member_id, code, None)])


@bp.route("/cards", methods=["GET", "POST"])
def class_cards(slug: str) -> Any:
    """Print new cards, each with a new PIN, for many members without e-mail at once."""
    access = page_access(coordinator=True)
    people = [row for row in _managed_rows() if row["status"] == "active"]
    if request.method == "GET":
        return render("manage/cards.html", people=people, form=Form())
    form = Form.from_request()
    chosen = read_ids(form, "member_ids")
    if not chosen:
        form.add("member_ids", "Tick at least one member.")
        return render("manage/cards.html", 422, people=people, form=form)
    access = page_access(write=True, coordinator=True)
    cards = []
    for member_id in chosen:
        pin = f"{secrets.randbelow(10**4):04d}"
        code = managed.issue_card(access.scheme, member_id, pin=pin, actor=access.user)
        cards.append(_card(member_id, code, pin))
    return render("manage/cards_print.html", cards=cards)


def _managed_rows() -> list[dict[str, Any]]:
    rows = []
    cursor: str | None = None
    while True:
        from_page, cursor = _members_page(cursor)
        rows += [row for row in from_page if row["email"] is None]
        if cursor is None:
            return rows


def _members_page(cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    return reads.members_page(cursor, limit=200)


@bp.route("/members/<int:member_id>/link-email", methods=["POST"])
def link_email(slug: str, member_id: int) -> Any:
    return _invite_about(slug, member_id, guardian=False)


@bp.route("/members/<int:member_id>/guardians", methods=["POST"])
def invite_guardian(slug: str, member_id: int) -> Any:
    return _invite_about(slug, member_id, guardian=True)


def _invite_about(slug: str, member_id: int, *, guardian: bool) -> Any:
    form = Form.from_request()
    with Submission(form, {"email": "email"}) as sent:
        email = read_text(form, "email", required=True, max_length=254)
        if "@" not in email:
            form.add("email", "Enter an e-mail address like name@example.org.")
        form.check()
        access = page_access(write=True, coordinator=True)
        if guardian:
            guardians.invite_guardian(access.scheme, member_id, email=email, actor=access.user)
        else:
            managed.link_email(access.scheme, member_id, email=email, actor=access.user)
    if sent.ok:
        what = "to become their guardian" if guardian else "to take over this membership"
        flash(f"Invitation sent to {email} {what}.")
    else:
        flash(form.error("email") or form.message or "No invitation was sent.")
    return redirect(url_for("manage.member", slug=slug, member_id=member_id))


@bp.route("/members/<int:member_id>/check", methods=["POST"])
def record_check(slug: str, member_id: int) -> Any:
    form = Form.from_request()
    with Submission(form, {"kind": "kind", "number": "number", "expires_on": "expires_on"}) as sent:
        kind = read_text(form, "kind", required=True, max_length=60)
        number = read_text(form, "number", required=True, max_length=60)
        expires_on = read_date(form, "expires_on")
        form.check()
        assert expires_on is not None
        access = page_access(write=True, coordinator=True)
        checks.record_check(
            access.scheme,
            member_id,
            kind=kind,
            number=number,
            expires_on=expires_on,
            actor=access.user,
        )
    if sent.ok:
        flash("Safeguarding check saved.")
    else:
        flash(
            form.message
            or "The check was not saved: "
            + "; ".join(f"{name}: {' '.join(messages)}" for name, messages in form.errors.items())
        )
    return redirect(url_for("manage.member", slug=slug, member_id=member_id))


@bp.route("/checks")
def expiring_checks(slug: str) -> Any:
    page_access(coordinator=True)
    return render(
        "manage/checks.html",
        checks=checks.expiring_checks(date.today()),
        days=checks.EXPIRING_WITHIN_DAYS,
    )


@bp.route("/members/<int:member_id>/statement/print")
def print_statement(slug: str, member_id: int) -> Any:
    """One page: the opening balance, the period's movements, the closing balance."""
    access = page_access(coordinator=True)
    details = memberships.describe_member(get_member(member_id))
    today = date.today()
    start = _day(request.args.get("from"), today.replace(day=1))
    end = _day(request.args.get("to"), today)
    if end < start:
        start, end = end, start
    account = ledger.member_account(member_id)
    found, _cursor = keyset_page(
        ledger.statement_query(account.id),
        keys=[Transaction.id],
        limit=500,
        cursor=None,
        descending=False,
        key_of=lambda t: [t.id],
    )
    rows = ledger.describe_transactions(found)
    opening = 0
    lines = []
    for row in rows:
        amount = sum(p["amount"] for p in row["postings"] if p["account_id"] == account.id)
        day = _created_day(row["created_at"])
        if day < start:
            opening += amount
        elif day <= end:
            lines.append({"day": day, "memo": row["memo"] or row["kind"], "amount": amount})
    closing = opening + sum(line["amount"] for line in lines)
    return render(
        "manage/statement_print.html",
        member=details,
        lines=lines,
        opening=opening,
        closing=closing,
        start=start,
        end=end,
        scheme_name=access.scheme.name,
    )


def _day(text: str | None, default: date) -> date:
    try:
        return date.fromisoformat(text) if text else default
    except ValueError:
        return default


def _created_day(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    return datetime.fromisoformat(str(value)).date() if value else date.today() - timedelta(1)
