"""A conversation about a listing (``/s/<slug>/responses/…``): messages, agreeing,
confirming, disputes and a coordinator's decision. Routes on the listings pages'
blueprint (:mod:`.listings`).
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for

from timebank.platform.api.idempotency import idempotent
from timebank.platform.api.pagination import keyset_page
from timebank.platform.web.forms import (
    Form,
    Submission,
    read_duration,
    read_text,
    show_duration,
)
from timebank.platform.web.pages.common import page_access, policy, render
from timebank.platform.web.pages.listings import bp
from timebank.tenants.marketplace import exchanges, responses, services
from timebank.tenants.marketplace.models import ListingMessage
from timebank.tenants.marketplace.schemas import AgreeIn

# --- a conversation ---------------------------------------------------------------------------


def _conversation(slug: str, response_id: int, status: int = 200, **forms: Form) -> Any:
    access = page_access()
    found = responses.get_response(access, response_id)
    listing = responses.listing_of(found)
    thread = list(
        keyset_page(
            responses.messages_statement(found),
            keys=[ListingMessage.id],
            limit=200,
            cursor=None,
            descending=False,
            key_of=lambda m: [m.id],
        )[0]
    )
    names = services.names_of([found.helper_member_id, found.helped_member_id])
    me = access.member.id

    def name(member_id: int) -> str:
        if member_id == me:
            return "You"
        shown = services.person(access, member_id, names, party=True)["name"]
        return shown or "A coordinator"

    brokered = policy()["listings"]["brokered"]
    return render(
        "listings/conversation.html",
        status,
        response=responses.describe_responses(access, [found])[0],
        listing=listing,
        thread=thread,
        name=name,
        helper=name(found.helper_member_id),
        helped=name(found.helped_member_id),
        is_party=me in responses.parties(found),
        is_author=listing.author_member_id == me,
        is_responder=found.responder_member_id == me,
        can_confirm=(access.is_coordinator if brokered else me == found.helped_member_id),
        brokered=brokered,
        message_form=forms.get("message_form") or Form(),
        agree_form=forms.get("agree_form")
        or Form(values={"minutes": _hours(found.minutes or listing.minutes)}),
        confirm_form=forms.get("confirm_form") or Form(values={"minutes": _hours(found.minutes)}),
        dispute_form=forms.get("dispute_form") or Form(),
        decide_form=forms.get("decide_form") or Form(values={"minutes": _hours(found.minutes)}),
    )


def _hours(minutes: int | None) -> str:
    return show_duration(minutes)


@bp.route("/responses/<int:response_id>", methods=["GET", "POST"])
def conversation(slug: str, response_id: int) -> Any:
    if request.method == "GET":
        return _conversation(slug, response_id)
    form = Form.from_request()
    with Submission(form, {"body": "body"}) as sent:
        body = read_text(form, "body", required=True, max_length=2000)
        form.check()
        responses.post_message(page_access(write=True), response_id, body=body)
    if sent.ok:
        return redirect(url_for("listings.conversation", slug=slug, response_id=response_id))
    return _conversation(slug, response_id, sent.status, message_form=form)


@bp.route("/responses/<int:response_id>/agree", methods=["POST"])
def agree(slug: str, response_id: int) -> Any:
    form = Form.from_request()
    with Submission(form, {"minutes": "minutes", "on": "on"}) as sent:
        minutes = read_duration(form, "minutes")
        on = str(form.get("on")).strip()
        form.check()
        loaded = AgreeIn().load({"minutes": minutes, "on": on or None})
        responses.agree(
            page_access(write=True), response_id, minutes=loaded["minutes"], on=loaded["on"]
        )
    if sent.ok:
        flash("Agreed. The other member has been told.")
        return redirect(url_for("listings.conversation", slug=slug, response_id=response_id))
    return _conversation(slug, response_id, sent.status, agree_form=form)


@bp.route("/responses/<int:response_id>/confirm", methods=["POST"])
@idempotent
def confirm(slug: str, response_id: int) -> Any:
    form = Form.from_request()
    with Submission(form, {"minutes": "minutes"}) as sent:
        minutes = read_duration(form, "minutes")
        form.check()
        done = exchanges.confirm(page_access(write=True), response_id, minutes=minutes)
    if sent.ok:
        flash(f"Thank you! {done.minutes or 0} minutes of time credits moved to the helper.")
        return redirect(url_for("listings.conversation", slug=slug, response_id=response_id))
    return _conversation(slug, response_id, sent.status, confirm_form=form)


@bp.route("/responses/<int:response_id>/decide", methods=["POST"])
@idempotent
def decide(slug: str, response_id: int) -> Any:
    page_access(coordinator=True)
    form = Form.from_request()
    with Submission(form, {"minutes": "minutes", "note": "note"}) as sent:
        minutes = read_duration(form, "minutes", allow_zero=True)
        note = read_text(form, "note") or None
        form.check()
        assert minutes is not None
        exchanges.decide(
            page_access(write=True, coordinator=True), response_id, minutes=minutes, note=note
        )
    if sent.ok:
        flash("Decided. Both members have been told.")
        return redirect(url_for("listings.conversation", slug=slug, response_id=response_id))
    return _conversation(slug, response_id, sent.status, decide_form=form)


@bp.route("/responses/<int:response_id>/dispute", methods=["POST"])
def dispute(slug: str, response_id: int) -> Any:
    form = Form.from_request()
    with Submission(form, {"reason": "reason"}) as sent:
        reason = read_text(form, "reason", required=True)
        form.check()
        responses.dispute(page_access(write=True), response_id, reason=reason)
    if sent.ok:
        flash("A coordinator has been asked to decide.")
        return redirect(url_for("listings.conversation", slug=slug, response_id=response_id))
    return _conversation(slug, response_id, sent.status, dispute_form=form)


@bp.route("/responses/<int:response_id>/<any(decline, withdraw):action>", methods=["POST"])
def end(slug: str, response_id: int, action: str) -> Any:
    form = Form()
    with Submission(form) as sent:
        outcome = "declined" if action == "decline" else "withdrawn"
        responses.end_response(page_access(write=True), response_id, outcome=outcome)
    flash("Done." if sent.ok else (form.message or "That did not work."))
    return redirect(url_for("listings.conversation", slug=slug, response_id=response_id))
