"""Wellbeing pages: a member answers the scheme's scale (or skips it) and sees their own
history (``/s/<slug>/wellbeing``); a coordinator enters a member's answers from paper
(``/s/<slug>/wellbeing/member/<id>``). No one else sees a member's answers."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for

from timebank.platform.web.forms import Form, Submission
from timebank.platform.web.pages.common import page_access, render, scheme_blueprint
from timebank.tenants.access import get_member
from timebank.tenants.ledger import services as ledger
from timebank.tenants.wellbeing import scales
from timebank.tenants.wellbeing import services as surveys

bp = scheme_blueprint("wellbeing", "/wellbeing")


def _answers(form: Form, scale: scales.Scale) -> list[Any]:
    """The answers as typed: whole numbers where given, ``None`` for a question left out
    (the service refuses an incomplete set: 422 on ``answers``)."""
    answers: list[Any] = []
    for index in range(len(scale.questions)):
        text = str(form.get(f"q{index}")).strip()
        answers.append(int(text) if text.isdecimal() and len(text) < 3 else None)
    return answers


def _submit(member_id: int | None) -> tuple[Form, bool, int]:
    access = page_access(write=True)
    scale = surveys.scale_in_use(access.scheme)
    form = Form.from_request()
    if scale is None:
        return form, False, 404
    with Submission(form, {"answers": "answers", "scale": "answers"}) as sent:
        surveys.record_response(
            access.scheme,
            access.member,
            scale=scale.name,
            answers=_answers(form, scale),
            consent_to_report=form.get("consent") == "yes",
            member_id=member_id,
            is_coordinator=access.is_coordinator,
            actor_user_id=access.user.id,
        )
    return form, sent.ok, sent.status


@bp.route("/", methods=["GET", "POST"])
def survey(slug: str) -> Any:
    access = page_access()
    scale = surveys.scale_in_use(access.scheme)
    form, status = Form(), 200
    if request.method == "POST" and scale is not None:
        if request.form.get("action") == "skip":
            page_access(write=True)
            surveys.skip(access.scheme, access.member, actor_user_id=access.user.id)
            flash("Skipped for now. We will ask again in a few months.")
            return redirect(url_for("wellbeing.survey", slug=slug))
        form, ok, status = _submit(None)
        if ok:
            flash("Thank you: your answers are saved.")
            return redirect(url_for("wellbeing.survey", slug=slug))
    return render(
        "wellbeing/survey.html",
        status,
        form=form,
        scale=scale,
        due=surveys.is_due(access.scheme, access.member.id),
        history=surveys.history(access.member.id),
        subject=None,
        bands=scales.ons4_band,
    )


@bp.route("/member/<int:member_id>", methods=["GET", "POST"])
def for_member(slug: str, member_id: int) -> Any:
    """A coordinator enters a member's answers from a paper form, and sees their history."""
    access = page_access(coordinator=True)
    member = get_member(member_id)  # 404 for another scheme's member
    scale = surveys.scale_in_use(access.scheme)
    form, status = Form(), 200
    if request.method == "POST" and scale is not None:
        form, ok, status = _submit(member.id)
        if ok:
            flash("The answers are saved.")
            return redirect(url_for("wellbeing.for_member", slug=slug, member_id=member.id))
    return render(
        "wellbeing/survey.html",
        status,
        form=form,
        scale=scale,
        due=True,
        history=surveys.history(member.id),
        subject=(member.id, ledger.member_names([member.id]).get(member.id, "")),
        bands=scales.ons4_band,
    )
