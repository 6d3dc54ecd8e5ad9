"""Partners in a member's and a coordinator's pages (``/s/<slug>/…``).

Members: the directory of partners (list by area and category, and a map of
those with a position), their card for partners' counters (QR code, counter
PIN, charges waiting for them). Coordinators: adding partners, inviting their
staff, pausing or ending them, approving offers, settling, the partner report.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, request, url_for

from timebank.platform.api.idempotency import idempotent
from timebank.platform.web.forms import (
    Form,
    Submission,
    read_choice,
    read_date,
    read_duration,
    read_optional_text,
    read_text,
)
from timebank.platform.web.pages.common import page_access, render, scheme_blueprint
from timebank.tenants.partners import counter, offers, services, statements
from timebank.tenants.partners.models import PARTNER_STATUSES

bp = scheme_blueprint("partners")


def _directory_rows(
    area: str | None, category: str | None, *, everyone: bool
) -> list[dict[str, Any]]:
    rows = services.list_partners(everyone=everyone, area=area, category=category)
    return [services.describe_partner(partner) for partner in rows]


# --- members ----------------------------------------------------------------------------


@bp.route("/partners")
def directory(slug: str) -> Any:
    page_access()
    area = (request.args.get("area") or "").strip()[:120] or None
    category = (request.args.get("category") or "").strip()[:40] or None
    every = _directory_rows(None, None, everyone=False)
    shown = _directory_rows(area, category, everyone=False)
    placed = [p for p in shown if p["latitude"] is not None]
    return render(
        "partners/directory.html",
        partners=shown,
        placed=placed,
        areas=sorted({p["area"] for p in every if p["area"]}),
        categories=sorted({c for p in every for c in p["categories"]}),
        area=area,
        category=category,
        tile_url=current_app.config.get("MAP_TILE_URL"),
        tile_attribution=current_app.config.get("MAP_TILE_ATTRIBUTION") or "",
    )


@bp.route("/card")
def card(slug: str) -> Any:
    access = page_access()
    return render(
        "partners/card.html",
        card=counter.my_card(access.scheme, access.member),
        waiting=counter.charges_waiting(access.member.id),
        form=Form(),
    )


@bp.route("/card/pin", methods=["POST"])
def set_pin(slug: str) -> Any:
    access = page_access(write=True)
    form = Form.from_request()
    remove = form.get("remove") == "1"
    pin = None if remove else str(form.get("pin")).strip()
    if pin is not None and not (pin.isdecimal() and 4 <= len(pin) <= 8):
        form.add("pin", "A PIN is 4 to 8 digits.")
        form.message = "Some answers need another look: see the messages below."
        return render(
            "partners/card.html",
            422,
            card=counter.my_card(access.scheme, access.member),
            waiting=counter.charges_waiting(access.member.id),
            form=form,
        )
    counter.set_pin(access.scheme, access.member, pin)
    flash(
        "Your counter PIN is removed."
        if remove
        else "Your counter PIN is set. Keep it to yourself."
    )
    return redirect(url_for("partners.card", slug=slug))


@bp.route("/charges/<int:charge_id>/<any(confirm, decline):decision>", methods=["POST"])
@idempotent
def decide_charge(slug: str, charge_id: int, decision: str) -> Any:
    access = page_access(write=True)
    form = Form()
    with Submission(form) as sent:
        item = counter.decide_charge(
            access.scheme, access.member, charge_id, confirm=decision == "confirm"
        )
    if sent.ok:
        flash(
            f"Paid {item['minutes'] // 60}:{item['minutes'] % 60:02d} hours to {item['partner_name']}."
            if decision == "confirm"
            else f"Declined: nothing was paid to {item['partner_name']}."
        )
    else:
        flash(form.message or "That did not work.", "warning")
    return redirect(url_for("partners.card", slug=slug))


# --- coordinators -----------------------------------------------------------------------


@bp.route("/partners/manage", methods=["GET", "POST"])
def manage(slug: str) -> Any:
    access = page_access(coordinator=True)
    form = Form()
    status = 200
    if request.method == "POST":
        form = Form.from_request()
        with Submission(form, {"name": "name", "area": "area", "categories": "categories"}) as sent:
            name = read_text(form, "name", required=True, max_length=120)
            fields: dict[str, Any] = {"name": name}
            for field, size in (
                ("description", 500),
                ("area", 120),
                ("address", 300),
                ("opening_hours", 300),
                ("contact_email", 254),
                ("contact_phone", 40),
            ):
                fields[field] = read_optional_text(form, field, max_length=size)
            fields["categories"] = [c for c in str(form.get("categories")).split(",") if c.strip()][
                :20
            ]
            form.check()
            access = page_access(write=True, coordinator=True)
            partner = services.create_partner(access.scheme, fields, actor_user_id=access.user.id)
        if sent.ok:
            flash(f"{partner.name} is added. Now invite its staff.")
            return redirect(url_for("partners.manage_partner", slug=slug, partner_id=partner.id))
        status = sent.status
    first = (
        read_date(Form(values={"d": request.args.get("from", "")}), "d")
        if request.args.get("from")
        else None
    )
    last = (
        read_date(Form(values={"d": request.args.get("to", "")}), "d")
        if request.args.get("to")
        else None
    )
    low, high = statements.bounds(access.scheme, first, last)
    start, end = statements.period_dates(access.scheme, first, last)
    return render(
        "partners/manage.html",
        status,
        form=form,
        report=statements.partner_report(access.scheme, low, high),
        start=start,
        end=end,
    )


@bp.route("/partners/manage/<int:partner_id>", methods=["GET", "POST"])
@idempotent
def manage_partner(slug: str, partner_id: int) -> Any:
    access = page_access(coordinator=True)
    partner = services.get_partner(partner_id)
    form = Form()
    status = 200
    if request.method == "POST":
        form = Form.from_request()
        action = form.get("action")
        fields = {
            "email": "email",
            "status": "status",
            "minutes": "minutes",
            "money_value": "money_value",
        }
        with Submission(form, fields) as sent:
            access = page_access(write=True, coordinator=True)
            if action == "invite":
                email = read_text(form, "email", required=True, max_length=254)
                form.check()
                services.invite_staff(access.scheme, partner.id, email=email, actor=access.user)
                done = f"An invitation is on its way to {email}."
            elif action == "status":
                new = read_choice(
                    form, "status", PARTNER_STATUSES, message="Choose active, paused or ended."
                )
                form.check()
                services.update_partner(
                    access.scheme, partner.id, {"status": new}, actor_user_id=access.user.id
                )
                done = f"{partner.name} is now {new}."
            elif action in ("approve", "refuse"):
                reward_id = (
                    int(str(form.get("reward_id") or 0))
                    if str(form.get("reward_id")).isdecimal()
                    else 0
                )
                here = services.partner_access(slug, partner.id, write=True, coordinator=True)
                offers.decide_offer(here, reward_id, approve=action == "approve")
                done = "The offer is approved." if action == "approve" else "The offer is refused."
            else:
                minutes = read_duration(form, "minutes")
                raw_value = read_optional_text(form, "money_value", max_length=12)
                money = statements.parse_money(form, raw_value)
                note = read_optional_text(form, "note")
                form.check()
                assert minutes is not None
                statements.settle(
                    access.scheme,
                    partner,
                    minutes=minutes,
                    money_value=money,
                    note=note,
                    actor_user_id=access.user.id,
                )
                done = f"Settled {minutes // 60}:{minutes % 60:02d} hours with {partner.name}."
        if sent.ok:
            flash(done)
            return redirect(url_for("partners.manage_partner", slug=slug, partner_id=partner.id))
        status = sent.status
    return render(
        "partners/manage_partner.html",
        status,
        form=form,
        partner=services.describe_partner(partner),
        offers=offers.partner_offers(partner.id),
        balance=statements.partner_account(partner.id).balance,
        statuses=PARTNER_STATUSES,
    )
