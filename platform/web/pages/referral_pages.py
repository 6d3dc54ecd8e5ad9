"""Referral pages: ``/s/<slug>/referrals/`` for referrers (their own referrals and the
form to refer) and coordinators (the queue, links); ``/refer/<token>`` for anyone holding
a practice's referral link.

Not a ``scheme_blueprint``: a referrer is no member, so the scheme gate would answer 404.
Each view passes :func:`referral_access` instead (404 to strangers, 403 to members who do
not coordinate); every other page of the scheme stays a 404 to a referrer.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, request, url_for
from flask_login import current_user

from timebank.platform.api.errors import ApiError
from timebank.platform.web.forms import Form, Submission, read_choice, read_optional_text, read_text
from timebank.platform.web.pages.common import render
from timebank.tenants.referrals import services as referrals
from timebank.tenants.referrals.access import ReferralAccess, referral_access
from timebank.tenants.referrals.models import REASONS

bp = Blueprint("referral_pages", __name__, url_prefix="/s/<slug>/referrals")
public = Blueprint("referral_link_pages", __name__)

FIELDS = {"name": "name", "contact": "contact", "reason": "reason", "consent": "consent"}
REASON_OPTIONS = [(reason, referrals.REASON_LABELS[reason]) for reason in REASONS]


@bp.before_request
def _gate() -> Any:
    if not current_user.is_authenticated:
        return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
    referral_access((request.view_args or {})["slug"])
    return None


def _access(*, write: bool = False, coordinator: bool = False) -> ReferralAccess:
    return referral_access((request.view_args or {})["slug"], write=write, coordinator=coordinator)


def _read_referral(form: Form) -> dict[str, Any]:
    fields = {
        "name": read_text(form, "name", required=True, max_length=200),
        "contact": read_text(form, "contact", required=True, max_length=254),
        "reason": read_choice(form, "reason", REASONS, message="Choose the main reason."),
        "consent": form.get("consent") == "yes",
    }
    if not fields["consent"]:
        form.add("consent", "The person must agree to be referred: tick to confirm they have.")
    form.check()
    return fields


@bp.route("/", methods=["GET", "POST"])
def home(slug: str) -> Any:
    access = _access()
    form = Form()
    status = 200
    if request.method == "POST":
        form = Form.from_request()
        with Submission(form, FIELDS) as sent:
            fields = _read_referral(form)
            access = _access(write=True)
            referrals.create_referral(
                access.scheme,
                **fields,
                referrer_id=None
                if access.is_coordinator or not access.referrer
                else access.referrer.id,
                actor_user_id=access.user.id,
            )
        if sent.ok:
            flash("Thank you: the referral has been sent. Its progress shows below.")
            return redirect(url_for("referral_pages.home", slug=slug))
        status = sent.status
    return _home_page(access, form, status)


def _home_page(access: ReferralAccess, form: Form, status: int = 200) -> Any:
    wanted = request.args.get("status", "")
    wanted_status = wanted if wanted in referrals.STATUS_LABELS else None
    own = None if access.is_coordinator else access.referrer.id if access.referrer else None
    rows = referrals.recent(referrer_id=own, status=wanted_status)
    context: dict[str, Any] = {
        "scheme": access.scheme,
        "access": access,
        "form": form,
        "items": [referrals.describe(r, for_coordinator=access.is_coordinator) for r in rows],
        "reasons": REASON_OPTIONS,
        "reason_labels": referrals.REASON_LABELS,
        "status_labels": referrals.STATUS_LABELS,
        "next_steps": referrals.TRANSITIONS,
        "wanted": wanted_status,
    }
    if access.is_coordinator:
        return render("referrals/queue.html", status, **context)
    return render("referrals/mine.html", status, **context)


@bp.route("/<int:referral_id>", methods=["POST"])
def change(slug: str, referral_id: int) -> Any:
    """A coordinator moves a referral on (or closes it, with a reason)."""
    access = _access(write=True, coordinator=True)
    form = Form.from_request()
    referral = referrals.get_referral(referral_id, referrer_id=None)  # 404 if not here
    status = str(form.get("status"))
    try:
        referrals.change_status(
            access.scheme,
            referral.id,
            status=status,
            note=read_optional_text(form, "note"),
            actor_user_id=access.user.id,
        )
    except ApiError as error:
        message = " ".join(m for ms in (error.errors or {}).values() for m in ms) or error.detail
        flash(f"Referral {referral_id} was not changed: {message}", "warning")
        return redirect(url_for("referral_pages.home", slug=slug) + f"#referral-{referral_id}")
    label = referrals.STATUS_LABELS.get(status, status).lower()
    flash(f"Referral {referral_id} is now: {label}.")
    return redirect(url_for("referral_pages.home", slug=slug) + f"#referral-{referral_id}")


@bp.route("/links", methods=["GET", "POST"])
def links(slug: str) -> Any:
    """A coordinator's referral links: made (the address shown once) and withdrawn."""
    access = _access(coordinator=True)
    form = Form()
    status = 200
    made: str | None = None
    if request.method == "POST":
        form = Form.from_request()
        with Submission(form, {"label": "label"}) as sent:
            label = read_text(form, "label", required=True, max_length=120)
            form.check()
            access = _access(write=True, coordinator=True)
            token, _link = referrals.create_link(
                access.scheme, label=label, actor_user_id=access.user.id
            )
            made = referrals.link_url(token)
        if sent.ok:
            form = Form()
        status = sent.status if not sent.ok else 201
    return render(
        "referrals/links.html",
        200 if status == 201 else status,
        scheme=access.scheme,
        access=access,
        form=form,
        made=made,
        links=referrals.links(),
        referrers=referrals.referrers(),
    )


@bp.route("/links/<int:link_id>/revoke", methods=["POST"])
def revoke(slug: str, link_id: int) -> Any:
    access = _access(write=True, coordinator=True)
    link = referrals.revoke_link(access.scheme, link_id, actor_user_id=access.user.id)
    flash(f"The link “{link.label}” no longer works.")
    return redirect(url_for("referral_pages.links", slug=slug))


@bp.route("/referrers/<int:referrer_id>/remove", methods=["POST"])
def remove_referrer(slug: str, referrer_id: int) -> Any:
    access = _access(write=True, coordinator=True)
    referrals.remove_referrer(access.scheme, referrer_id, actor_user_id=access.user.id)
    flash("The referrer can no longer refer or see referrals. Their referrals stay in the queue.")
    return redirect(url_for("referral_pages.links", slug=slug))


# --- the public link ----------------------------------------------------------------------


@public.route("/refer/<token>", methods=["GET", "POST"])
def refer(token: str) -> Any:
    """Anyone holding a practice's link refers through it (410 page once withdrawn)."""
    link, scheme = referrals.link_for_token(token)
    form = Form()
    status = 200
    if request.method == "POST":
        form = Form.from_request()
        with Submission(form, FIELDS) as sent:
            fields = _read_referral(form)
            referrals.create_referral(scheme, **fields, link_id=link.id)
        if sent.ok:
            return render(
                "referrals/public.html",
                scheme=scheme,
                form=Form(),
                reasons=REASON_OPTIONS,
                done=True,
            )
        status = sent.status
    return render(
        "referrals/public.html",
        status,
        scheme=scheme,
        form=form,
        reasons=REASON_OPTIONS,
        done=False,
    )
