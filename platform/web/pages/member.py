"""A member's pages in one scheme (``/s/<slug>/…``): balance, hours, paying, rewards, leaving."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import segno
from flask import abort, flash, redirect, request, url_for
from markupsafe import Markup

from timebank.platform import links
from timebank.platform.api.idempotency import idempotent
from timebank.platform.exchange.services import pay_partner
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
from timebank.platform.web.pages.common import page_access, policy, render, scheme_blueprint
from timebank.tenants.access import get_member
from timebank.tenants.earning import caps
from timebank.tenants.earning import services as earning
from timebank.tenants.groups import services as groups
from timebank.tenants.ledger import credit_mail, proofs
from timebank.tenants.ledger import services as ledger
from timebank.tenants.marketplace.exchanges import given_received
from timebank.tenants.partners import counter as partner_counter
from timebank.tenants.partners import services as partner_services
from timebank.tenants.spending import gifts, goals, leaving
from timebank.tenants.spending import services as spending
from timebank.tenants.wellbeing import services as surveys

bp = scheme_blueprint("member")


@bp.route("/")
def overview(slug: str) -> Any:
    access = page_access()
    account = ledger.member_account(access.member.id)
    low, high = ledger.effective_limits(account, policy())
    recent, _ = reads.statement_page(account.id, None, limit=5)
    return render(
        "member/overview.html",
        account=account,
        min_balance=low,
        max_balance=high,
        recent=recent,
        my_claims=reads.claims(member_id=access.member.id, limit=5),
        exchanges=given_received(access.member.id),
        goal=goals.goal_of(access.member.id),
        league=groups.league() if groups.league_shown(access.scheme) else None,
        # The number is for partner schemes' members to pay this one: only with exchange on.
        show_number=bool(policy()["exchange"]["enabled"]),
        charges_waiting=partner_counter.charges_waiting(access.member.id),
        wellbeing_due=surveys.is_due(access.scheme, access.member.id),
        pending_count=len(reads.claims(status="pending", limit=100))
        if access.is_coordinator
        else 0,
    )


# --- logging hours ----------------------------------------------------------------------


@bp.route("/log-hours", methods=["GET", "POST"])
@idempotent
def log_hours(slug: str) -> Any:
    access = page_access()
    today = earning.scheme_today(access.scheme)
    form = Form(values={"performed_on": today.isoformat(), "member_id": str(access.member.id)})
    status = 200
    if request.method == "POST":
        form = Form.from_request(member_id=str(access.member.id))
        fields = {
            "activity_id": "activity_id",
            "minutes": "hours",
            "performed_on": "performed_on",
            "note": "note",
            "member_id": "member_id",
        }
        with Submission(form, fields) as sent:
            activity_id = read_int(form, "activity_id")
            if activity_id is None:
                form.errors["activity_id"] = ["Choose what you did."]
            minutes = read_duration(form, "hours")
            performed_on = read_date(form, "performed_on")
            note = read_optional_text(form, "note")
            member_id = read_int(form, "member_id", required=False) or access.member.id
            form.check()
            access = page_access(write=True)
            assert activity_id is not None and minutes is not None and performed_on is not None
            claim = earning.submit_claim(
                access.scheme,
                access.member,
                activity_id=activity_id,
                minutes=minutes,
                performed_on=performed_on,
                note=note,
                member_id=None if member_id == access.member.id else member_id,
                is_coordinator=access.is_coordinator,
                actor_user_id=access.user.id,
            )
        if sent.ok:
            hours = ledger.format_minutes(claim.minutes)
            if claim.status == "approved":
                flash(f"Thank you! {hours} logged and credited.")
            else:
                flash(f"Thank you! {hours} logged. A coordinator will check and approve them.")
                own = claim.member_id == access.member.id
                warning = caps.claim_warning(access.scheme, claim, own=own)
                if warning:
                    flash(warning, "warning")
            return redirect(url_for("member.log_hours", slug=slug))
        status = sent.status
    activities = reads.activities()
    return render(
        "member/log_hours.html",
        status,
        form=form,
        activities=activities,
        activity_options=[(activity.id, activity.name) for activity in activities],
        claims=reads.claims(member_id=access.member.id, limit=10),
        # The coordinator is the first choice ("Me (…)"): not listed a second time.
        people=reads.directory(access) if access.is_coordinator else None,
        today=today,
        rules=policy()["claims"],
    )


# --- paying and giving ------------------------------------------------------------------


PAY_FIELDS = {"to_member_id": "to", "amount": "amount", "memo": "memo"}
GIVE_FIELDS = {"to": "to_member", "amount": "amount", "memo": "memo"}
PARTNER_FIELDS = {
    "to_scheme": "to_scheme",
    "to_member_id": "to_member",
    "amount": "amount",
    "memo": "memo",
}


@bp.route("/pay", methods=["GET", "POST"])
@idempotent
def pay(slug: str) -> Any:
    access = page_access()
    which = request.args.get("form", "pay")
    if which not in ("pay", "give", "partner"):
        abort(404)
    forms = {"pay": Form(), "give": Form(values={"to": "pot"}), "partner": Form()}
    status = 200
    if request.method == "POST":
        form = forms[which] = Form.from_request()
        fields = {"pay": PAY_FIELDS, "give": GIVE_FIELDS, "partner": PARTNER_FIELDS}[which]
        with Submission(form, fields) as sent:
            amount = read_duration(form, "amount")
            memo = read_optional_text(form, "memo")
            if which == "partner":
                to_scheme = str(form.get("to_scheme")).strip()
                if not to_scheme:
                    form.add("to_scheme", "Choose the partner scheme.")
                to_member = read_int(form, "to_member")
            elif which == "give":
                to_member = None
                if form.get("to") != "pot":
                    to_member = read_int(form, "to_member")
                    if to_member is None:
                        form.errors["to_member"] = ["Choose who to give the time credits to."]
            else:
                to_member = read_int(form, "to")
                if to_member is None:
                    form.errors["to"] = ["Choose who to send the time credits to."]
            form.check()
            assert amount is not None
            access = page_access(write=True)
            outcome = _move(access, which, form, amount, memo, to_member)
        if sent.ok:
            flash(outcome)
            return redirect(url_for("member.overview", slug=slug))
        status = sent.status
    partners = reads.partner_schemes(access.scheme) if policy()["exchange"]["enabled"] else []
    return render(
        "member/pay.html",
        status,
        forms=forms,
        which=which,
        people=reads.directory(access),
        partners=partners,
        partner_options=[(item["partner"], item["partner_name"]) for item in partners],
        rules=policy(),
        account=ledger.member_account(access.member.id),
    )


def _move(
    access: Any, which: str, form: Form, amount: int, memo: str | None, to_member: int | None
) -> str:
    hours = ledger.format_minutes(amount)
    if which == "pay":
        assert to_member is not None
        ledger.post_transfer(
            access.scheme,
            access.member,
            to_member_id=to_member,
            amount=amount,
            memo=memo,
            actor_user_id=access.user.id,
        )
        return f"You paid {hours} to {_name(to_member)}."
    if which == "give":
        gifts.give(
            access.scheme,
            access.member,
            to="pot" if to_member is None else to_member,
            amount=amount,
            memo=memo,
            actor_user_id=access.user.id,
        )
        whom = "the community pot" if to_member is None else _name(to_member)
        return f"You gave {hours} to {whom}."

    assert to_member is not None
    paid = pay_partner(
        access.scheme,
        access.member,
        to_scheme=str(form.get("to_scheme")).strip(),
        to_member_number=to_member,
        amount=amount,
        memo=memo,
        actor_user_id=access.user.id,
    )
    credited = ledger.format_minutes(paid["exchange"]["credited"])
    payee = paid["exchange"].get("payee_name") or f"member number {to_member}"
    return f"You paid {hours}; {payee} received {credited} in {paid['partner']}."


def _name(member_id: int) -> str:
    return ledger.member_names([member_id]).get(member_id, f"member {member_id}")


# --- rewards ------------------------------------------------------------------------------


@bp.route("/rewards")
def rewards(slug: str) -> Any:
    access = page_access()
    return _rewards_page(access, Form(), None)


def _rewards_page(access: Any, form: Form, failed_reward: int | None, status: int = 200) -> Any:
    partner_arg = request.args.get("partner", "")
    partner_id = int(partner_arg) if partner_arg.isdecimal() and len(partner_arg) < 18 else None
    area = (request.args.get("area") or "").strip()[:120] or None
    rewards = reads.rewards(approved_only=True, partner_id=partner_id, area=area)
    partner_names = {p.id: p.name for p in partner_services.list_partners(everyone=False)}
    goal = goals.goal_of(access.member.id)
    return render(
        "member/rewards.html",
        status,
        rewards=rewards,
        missing=goals.missing_for(access.scheme, access.member.id, rewards),
        goal_id=goal["reward_id"] if goal else None,
        goal_choices={reward.id for reward in goals.goal_choices()},
        mine=reads.redemptions(member_id=access.member.id, limit=10),
        account=ledger.member_account(access.member.id),
        enabled=policy()["rewards"]["enabled"],
        form=form,
        failed_reward=failed_reward,
        partner_names=partner_names,
        partner_id=partner_id,
        area=area,
    )


@bp.route("/rewards/<int:reward_id>/goal", methods=["POST"])
def set_goal(slug: str, reward_id: int) -> Any:
    access = page_access(write=True)
    reward = spending.get_reward(reward_id)  # 404 for another scheme's reward
    goals.set_goal(access.scheme, access.member, reward.id, actor_user_id=access.user.id)
    flash(f"{reward.name} is now your goal. Your page shows how close you are.")
    return redirect(url_for("member.rewards", slug=slug))


@bp.route("/goal/clear", methods=["POST"])
def clear_goal(slug: str) -> Any:
    access = page_access(write=True)
    if goals.clear_goal(access.scheme, access.member, actor_user_id=access.user.id):
        flash("You no longer have a goal.")
    return redirect(url_for("member.rewards", slug=slug))


@bp.route("/rewards/<int:reward_id>/redeem", methods=["POST"])
@idempotent
def redeem(slug: str, reward_id: int) -> Any:
    access = page_access()
    spending.get_reward(reward_id)  # 404 for another scheme's reward, as for its page
    form = Form.from_request(quantity="1")
    with Submission(form, {"quantity": "quantity", "reward_id": "quantity"}) as sent:
        quantity = read_int(form, "quantity", high=1000)
        form.check()
        assert quantity is not None
        access = page_access(write=True)
        redemption = spending.redeem(
            access.scheme,
            access.member,
            reward_id=reward_id,
            quantity=quantity,
            actor_user_id=access.user.id,
        )
    if sent.ok:
        return redirect(url_for("member.redemption", slug=slug, redemption_id=redemption.id))
    return _rewards_page(access, form, reward_id, sent.status)


@bp.route("/redemptions/<int:redemption_id>")
def redemption(slug: str, redemption_id: int) -> Any:
    access = page_access()
    found = reads.redemption(
        redemption_id, member_id=None if access.is_coordinator else access.member.id
    )
    return render("member/redemption.html", redemption=found)


# --- statement ----------------------------------------------------------------------------


@bp.route("/statement")
def statement(slug: str) -> Any:
    access = page_access()
    member_id = access.member.id
    asked = request.args.get("member_id", "")
    if asked and access.is_coordinator and asked.isdecimal() and len(asked) < 19:
        member_id = get_member(int(asked)).id  # 404 for another scheme's member
    account = ledger.member_account(member_id)
    lines, next_cursor = reads.statement_page(account.id, request.args.get("cursor") or None)
    return render(
        "member/statement.html",
        lines=lines,
        next_cursor=next_cursor,
        account=account,
        member_id=member_id,
        member_name=_name(member_id),
        first_page=not request.args.get("cursor"),
        exchanges=given_received(member_id),
        anchor=_anchor(access.scheme, account),
    )


def _anchor(scheme: Any, account: Any) -> dict[str, Any]:
    """The statement's head and the scheme's latest root, and a QR code carrying both
    (an SVG made here: no network) that opens the public latest-root address."""
    anchor = proofs.statement_anchor(scheme, account)
    fragment = urlencode({k: v for k, v in anchor.items() if v is not None})
    link = links.link(url_for("ledger_public.latest_root", slug=scheme.slug) + "#" + fragment)
    svg = segno.make(link, error="m").svg_inline(scale=3, title="Statement check code")
    # segno escapes what it writes; the link holds only a slug, numbers and hex.
    return {**anchor, "link": link, "qr": Markup(svg)}


# --- leaving --------------------------------------------------------------------------------


@bp.route("/leave", methods=["GET", "POST"])
@idempotent
def leave(slug: str) -> Any:
    access = page_access()
    form = Form(values={"balance_to": "pot"})
    status = 200
    if request.method == "POST":
        form = Form.from_request()
        with Submission(form, {"balance_to": "balance_to"}) as sent:
            choice = read_choice(
                form, "balance_to", ("pot", "member"), message="Choose where your credits go."
            )
            target: int | str | None = "pot"
            if choice == "member":
                target = read_int(form, "balance_member")
                if target is None:
                    form.errors["balance_member"] = ["Choose who gets your credits."]
            if form.get("confirm") != "yes":
                form.add("confirm", "Tick the box to say you want to leave.")
            form.check()
            access = page_access(write=True)
            leaving.leave_scheme(
                access.scheme,
                access.member.id,
                balance_to=target,
                memo=None,
                actor_user_id=access.user.id,
            )
        if sent.ok:
            flash(f"You have left {access.scheme.name}. Your history there is kept.")
            return redirect(url_for("web.home"))
        status = sent.status
    return render(
        "member/leave.html",
        status,
        form=form,
        account=ledger.member_account(access.member.id),
        people=reads.directory(access),
        uncollected=reads.redemptions(member_id=access.member.id, status="pending", limit=50),
    )


# --- the member's settings in this scheme ------------------------------------------------

MAIL_SWITCHES = ("paid", "awarded", "gifted")


@bp.route("/settings", methods=["GET", "POST"])
def settings(slug: str) -> Any:
    """Which mails the member gets here when credits come in (all on until switched off)."""
    access = page_access(write=request.method == "POST")
    if request.method == "POST":
        chosen = {kind: request.form.get(kind) == "1" for kind in MAIL_SWITCHES}
        credit_mail.set_mail_settings(access.scheme, access.member.id, chosen)
        flash("Your mail settings are saved.")
        return redirect(url_for("member.settings", slug=slug))
    current = credit_mail.mail_settings(access.member.id)
    return render(
        "member/settings.html",
        form=Form(values={kind: "1" if on else "" for kind, on in current.items()}),
        burst=credit_mail.burst_limit(),
    )
