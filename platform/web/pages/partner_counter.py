"""A partner's pages for its staff (``/s/<slug>/partners/<id>/…``): the counter, charging a
member's card, the statement and the partner's offers.

Staff are not members, so these pages do not pass the member's scheme gate:
each resolves :func:`timebank.tenants.partners.services.partner_access` (its
staff or the scheme's coordinator; anyone else gets the 404 page). Phone
first: one column, big targets, the code field first. The camera scanner is
``static/counter.js`` (the browser's BarcodeDetector, where there is one);
typing the code always works.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from timebank.platform.api.errors import NotFound
from timebank.platform.api.idempotency import idempotent
from timebank.platform.web.forms import (
    Form,
    Submission,
    read_date,
    read_duration,
    read_int,
    read_optional_text,
    read_text,
)
from timebank.tenants.partners import counter, offers, services, statements
from timebank.tenants.partners.services import PartnerAccess
from timebank.tenants.spending.services import describe_reward

bp = Blueprint("partner", __name__, url_prefix="/s/<slug>/partners/<int:partner_id>")


@bp.before_request
@login_required
def _signed_in() -> None:
    return None


def _access(*, write: bool = False) -> PartnerAccess:
    args = request.view_args or {}
    return services.partner_access(args["slug"], args["partner_id"], write=write)


def _render(template: str, access: PartnerAccess, status: int = 200, **context: Any) -> Any:
    return render_template(
        template, partner=access.partner, scheme=access.scheme, counter_access=access, **context
    ), status


# --- the counter ------------------------------------------------------------------------


@bp.route("/counter")
def counter_page(slug: str, partner_id: int) -> Any:
    access = _access()
    form = Form(values={"code": request.args.get("code", "")})
    found = None
    if form.get("code"):
        try:
            found = counter.look_up_code(access.partner, form.get("code"))
        except NotFound as error:
            form.add("code", error.detail)
            form.message = "That code was not found."
    return _render(
        "partners/counter.html", access, 404 if form.failed else 200, form=form, found=found
    )


@bp.route("/counter/honour", methods=["POST"])
@idempotent
def honour(slug: str, partner_id: int) -> Any:
    access = _access(write=True)
    form = Form.from_request()
    found = None
    status = 200
    try:
        with Submission(form, {"code": "code"}) as sent:
            code = read_text(form, "code", required=True, max_length=40)
            form.check()
            found = counter.honour(
                access.scheme, access.partner, code, actor_user_id=current_user.id
            )
    except NotFound as error:
        form.add("code", error.detail)
        form.message = "That code was not found."
        return _render("partners/counter.html", access, 404, form=form, found=None)
    if sent.ok and found is not None:
        quantity = f"{found['quantity']} × " if found["quantity"] > 1 else ""
        flash(f"Done: hand over {quantity}{found['reward']} to {found['member_first_name']}.")
        return redirect(url_for("partner.counter_page", slug=slug, partner_id=partner_id))
    status = sent.status
    return _render("partners/counter.html", access, status, form=form, found=None)


# --- charging a member's card -----------------------------------------------------------


def _offer_options(partner_id: int) -> list[tuple[int, str]]:
    rows = offers.partner_offers(partner_id, approved_only=True)
    return [
        (reward.id, f"{reward.name} ({reward.price // 60}:{reward.price % 60:02d} h)")
        for reward in rows
    ]


@bp.route("/charge", methods=["GET", "POST"])
@idempotent
def charge(slug: str, partner_id: int) -> Any:
    access = _access()
    form = Form(values={"card": request.args.get("card", ""), "quantity": "1"})
    status = 200
    if request.method == "POST":
        form = Form.from_request()
        fields = {"card": "card", "reward_id": "reward_id", "quantity": "quantity", "pin": "pin"}
        with Submission(form, fields) as sent:
            card = read_text(form, "card", required=True, max_length=40)
            reward_id = read_int(form, "reward_id")
            if reward_id is None:
                form.add("reward_id", "Choose what the member is paying for.")
            quantity = read_int(form, "quantity", required=False) or 1
            pin = read_optional_text(form, "pin", max_length=8)
            if pin is not None and not (pin.isdecimal() and 4 <= len(pin) <= 8):
                form.add("pin", "A PIN is 4 to 8 digits.")
            form.check()
            access = _access(write=True)
            assert reward_id is not None
            item = counter.charge(
                access.scheme,
                access.partner,
                card_code=card,
                reward_id=reward_id,
                quantity=quantity,
                pin=pin,
                actor_user_id=current_user.id,
            )
        if sent.ok:
            return redirect(
                url_for(
                    "partner.charge_status", slug=slug, partner_id=partner_id, charge_id=item["id"]
                )
            )
        status = sent.status
    return _render(
        "partners/charge.html", access, status, form=form, options=_offer_options(partner_id)
    )


@bp.route("/charges/<int:charge_id>")
def charge_status(slug: str, partner_id: int, charge_id: int) -> Any:
    access = _access()
    item = counter.describe_charge(counter.get_charge(charge_id, partner_id=partner_id))
    return _render("partners/charge_status.html", access, item=item)


# --- statement and offers ---------------------------------------------------------------


@bp.route("/statement")
def statement(slug: str, partner_id: int) -> Any:
    access = _access()
    form = Form(values={"from": request.args.get("from", ""), "to": request.args.get("to", "")})
    start = read_date(form, "from") if form.get("from") else None
    end = read_date(form, "to") if form.get("to") else None
    low, high = statements.bounds(access.scheme, start, end)
    first, last = statements.period_dates(access.scheme, start, end)
    return _render(
        "partners/statement.html",
        access,
        form=form,
        first=first,
        last=last,
        figures=statements.summary(access.scheme, partner_id, low, high),
        balance=statements.partner_account(partner_id).balance,
    )


@bp.route("/offers", methods=["GET", "POST"])
def offers_page(slug: str, partner_id: int) -> Any:
    access = _access()
    form = Form()
    status = 200
    if request.method == "POST":
        form = Form.from_request()
        fields = {
            "name": "name",
            "price": "price",
            "stock": "stock",
            "description": "description",
            "monthly_allowance": "monthly_allowance",
            "min_age": "min_age",
        }
        with Submission(form, fields) as sent:
            name = read_text(form, "name", required=True, max_length=120)
            price = read_duration(form, "price")
            stock = read_int(form, "stock", required=False)
            allowance = read_int(form, "monthly_allowance", required=False)
            min_age = read_int(form, "min_age", required=False)
            description = read_optional_text(form, "description")
            form.check()
            access = _access(write=True)
            reward = offers.create_offer(
                access,
                {
                    "name": name,
                    "price": price,
                    "stock": stock,
                    "monthly_allowance": allowance,
                    "min_age": min_age,
                    "description": description,
                },
            )
        if sent.ok:
            waiting = (
                " It waits for a coordinator's approval." if reward.approval == "pending" else ""
            )
            flash(f"{reward.name} is added.{waiting}")
            return redirect(url_for("partner.offers_page", slug=slug, partner_id=partner_id))
        status = sent.status
    rows = offers.partner_offers(partner_id)
    return _render(
        "partners/offers.html",
        access,
        status,
        form=form,
        offers=[describe_reward(reward) for reward in rows],
    )
