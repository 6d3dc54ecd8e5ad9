"""Everyone's pages: creating an account, resetting or changing a password, signing out
everywhere, accepting an invitation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from timebank.platform.api.errors import ApiError
from timebank.platform.identity import password_reset
from timebank.platform.identity import services as identity
from timebank.platform.identity.schemas import UserCreate
from timebank.platform.ratelimit import limit_password_check
from timebank.platform.web.forms import Form, Submission, read_text
from timebank.platform.web.routes import my_schemes, safe_next
from timebank.tenants.memberships import guardians
from timebank.tenants.memberships import services as memberships

bp = Blueprint("account", __name__)


INVITATION_KEY = "invitation"  # the token of the invitation being followed, in the session


def _followed_invitation() -> tuple[str, Any, Any] | None:
    """The open invitation this browser came from (``?invitation=`` or the session)."""
    token = request.args.get("invitation") or session.get(INVITATION_KEY)
    if not isinstance(token, str) or not token:
        return None
    try:
        found, scheme = memberships.preview_invitation(token)
    except ApiError:
        session.pop(INVITATION_KEY, None)
        return None
    if _invitation_state(found) != "open":
        session.pop(INVITATION_KEY, None)
        return None
    return token, found, scheme


@bp.route("/signup", methods=["GET", "POST"])
def signup() -> Any:
    next_page = request.args.get("next")
    followed = _followed_invitation()
    invited_scheme = followed[2] if followed else None
    if request.method == "GET":
        email = request.args.get("email", "") or (followed[1].email if followed else "")
        form = Form(values={"email": email})
        return render_template(
            "account/signup.html", form=form, next=next_page, invited_scheme=invited_scheme
        )
    form = Form.from_request()
    form.values.pop("password", None)
    with Submission(form, {"email": "email", "name": "name", "password": "password"}) as sent:
        body = UserCreate().load(
            {
                "name": read_text(form, "name", max_length=200),
                "email": read_text(form, "email", max_length=300),
                "password": request.form.get("password", ""),
            }
        )
        user = identity.register_user(
            email=body["email"], password=body["password"], name=body["name"]
        )
    if not sent.ok:
        if form.message and "already exists" in form.message:
            form.add("email", form.message + " Log in instead, or reset your password.")
        return render_template(
            "account/signup.html", form=form, next=next_page, invited_scheme=invited_scheme
        ), sent.status
    login_user(user)
    if followed is not None:
        return _join_after_signup(followed[0], user)
    flash(f"Welcome, {user.name}. Your account is ready.")
    return redirect(safe_next(next_page))


def _join_after_signup(token: str, user: Any) -> Any:
    """A new account made from an invitation joins its scheme straight away."""
    session.pop(INVITATION_KEY, None)
    try:
        accepted, scheme = memberships.accept_invitation(token, user)
    except ApiError as error:
        # Another address than the invitation's: the account stands, the
        # invitation page says why it cannot be used with it.
        flash(f"Welcome, {user.name}. Your account is ready. {error.detail}")
        return redirect(url_for("account.invitation", token=token))
    if accepted["role"] == "referrer":
        flash(f"Welcome, {user.name}. You can now refer people to {scheme.name}.")
        return redirect(url_for("referral_pages.home", slug=scheme.slug))
    if accepted["role"] == "partner_staff":
        flash(f"Welcome, {user.name}. You are now staff of {accepted['partner_name']}.")
        return redirect(
            url_for("partner.counter_page", slug=scheme.slug, partner_id=accepted["partner_id"])
        )
    flash(f"Welcome, {user.name}. Your account is ready, and you have joined {scheme.name}.")
    return redirect(url_for("member.overview", slug=scheme.slug))


# --- password reset -----------------------------------------------------------------


@bp.route("/password/forgot", methods=["GET", "POST"])
def forgot_password() -> Any:
    if request.method == "GET":
        return render_template("account/forgot.html", form=Form(), sent=False)
    form = Form.from_request()
    email = read_text(form, "email", required=True, max_length=300)
    if form.errors:
        return render_template("account/forgot.html", form=form, sent=False), 422
    password_reset.request_password_reset(email)
    # The same answer whether or not the address has an account.
    return render_template("account/forgot.html", form=form, sent=True)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str) -> Any:
    user = password_reset.user_for_reset_token(token)  # 410 page when expired or used
    form = Form()
    if request.method == "POST":
        password = request.form.get("password", "")
        with Submission(form, {"password": "password"}) as sent:
            if password != request.form.get("confirm", ""):
                form.add("confirm", "The two passwords are not the same.")
                form.check()
            user = password_reset.reset_password(token, password)
        if sent.ok:
            login_user(user)
            flash("Your password has been changed. You are logged in.")
            return redirect(url_for("web.home"))
        return render_template("account/reset.html", form=form, user=user), sent.status
    return render_template("account/reset.html", form=form, user=user)


# --- the signed-in person's account -------------------------------------------------


@bp.route("/account")
@login_required
def settings() -> Any:
    return render_template("account/settings.html", form=Form())


@bp.route("/account/password", methods=["POST"])
@login_required
@limit_password_check
def change_password() -> Any:
    form = Form()
    password = request.form.get("password", "")
    fields = {"current_password": "current_password", "password": "password"}
    with Submission(form, fields) as sent:
        if password != request.form.get("confirm", ""):
            form.add("confirm", "The two passwords are not the same.")
            form.check()
        user = identity.change_password(
            current_user._get_current_object(),
            current_password=request.form.get("current_password", ""),
            password=password,
        )
    if not sent.ok:
        return render_template("account/settings.html", form=form), sent.status
    login_user(user)  # this browser stays signed in, with the new session version
    flash(
        "Your password has been changed. Every other browser and app signed in "
        "to your account has been signed out."
    )
    return redirect(url_for("account.settings"))


@bp.route("/account/sign-out-everywhere", methods=["POST"])
@login_required
def sign_out_everywhere() -> Any:
    identity.sign_out_everywhere(current_user._get_current_object())
    logout_user()
    flash(
        "You have been signed out everywhere: in every browser, and every app "
        "or API token has stopped working. Log in again to carry on."
    )
    return redirect(url_for("web.login"))


# --- invitations --------------------------------------------------------------------


def _invitation_state(invitation: Any) -> str:
    expires_at = invitation.expires_at
    if expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    if invitation.accepted_at is not None:
        return "used"
    if expires_at <= datetime.now(UTC):
        return "expired"
    return "open"


@bp.route("/invitations/<token>")
def invitation(token: str) -> Any:
    found, scheme = memberships.preview_invitation(token)  # 410 page for an unknown link
    member_of = {m["scheme"] for m in _memberships()}
    state = _invitation_state(found)
    if not current_user.is_authenticated and state == "open":
        # Remembered so that "Create an account" (from anywhere) joins this scheme.
        session[INVITATION_KEY] = token
    return render_template(
        "account/invitation.html",
        invitation=found,
        invited_scheme=scheme,
        state=state,
        already_member=scheme.slug in member_of,
        email_matches=current_user.is_authenticated
        and (current_user.email or "").lower() == found.email.lower(),
        token=token,
        form=Form(),
    )


@bp.route("/invitations/<token>", methods=["POST"])
@login_required
def accept_invitation(token: str) -> Any:
    try:
        found, _scheme = memberships.preview_invitation(token)
        if found.role == "guardian":  # not a membership: the guardian's own page
            _guardian, scheme = guardians.accept_guardian_invitation(token, current_user)
            session.pop(INVITATION_KEY, None)
            flash(f"You are now a guardian in {scheme.name}. Please read and answer below.")
            return redirect(url_for("cards.guardian_home"))
        accepted, scheme = memberships.accept_invitation(token, current_user)
    except ApiError as error:
        found, scheme = memberships.preview_invitation(token)
        form = Form(message=error.detail)
        return render_template(
            "account/invitation.html",
            invitation=found,
            invited_scheme=scheme,
            state=_invitation_state(found),
            already_member=error.code == "already_member",
            email_matches=(current_user.email or "").lower() == found.email.lower(),
            token=token,
            form=form,
        ), error.status
    session.pop(INVITATION_KEY, None)
    if accepted["role"] == "referrer":
        flash(f"You can now refer people to {scheme.name}. Your referrals show here.")
        return redirect(url_for("referral_pages.home", slug=scheme.slug))
    if accepted["role"] == "partner_staff":
        flash(f"Welcome! You are now staff of {accepted['partner_name']} in {scheme.name}.")
        return redirect(
            url_for("partner.counter_page", slug=scheme.slug, partner_id=accepted["partner_id"])
        )
    flash(f"Welcome to {scheme.name}! This is your page in the scheme.")
    return redirect(url_for("member.overview", slug=scheme.slug))


def _memberships() -> list[dict[str, Any]]:

    return my_schemes()
