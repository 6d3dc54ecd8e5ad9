"""The shared tablet's card sign-in (``/card``) and the guardian's page (``/guardian``).

``/card``: a member without e-mail types the code on their card (or scans its
QR code, which fills it in) and their PIN; the session then acts as that
member, whose only scheme is the one that made the card. A banner on every page
offers "Sign out for the next person", which ends the session and comes back
here. Rate-limited like the login (per card code and per address), and the
card locks after ten wrong PINs.

``/guardian``: the children a user is guardian of, in every scheme, with their
balance, latest transactions and the consent the guardian gives or withdraws.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from timebank.platform import tenancy
from timebank.platform.api.errors import ApiError, NotFound
from timebank.platform.api.pagination import keyset_page
from timebank.platform.identity import services as identity
from timebank.platform.ratelimit import limit_card_sign_in
from timebank.platform.web.forms import Form
from timebank.tenants.access import find_scheme
from timebank.tenants.ledger import services as ledger
from timebank.tenants.ledger.models import Transaction
from timebank.tenants.memberships import guardians, managed

bp = Blueprint("cards", __name__)

CARD_SESSION = "card_sign_in"


@bp.route("/card", methods=["GET", "POST"])
@limit_card_sign_in
def card_sign_in() -> Any:
    form = Form(values={"card_code": request.args.get("code", "")})
    if request.method == "POST":
        form = Form.from_request()
        form.values.pop("pin", None)
        try:
            user, scheme = managed.card_user(
                request.form.get("card_code", ""), request.form.get("pin", "")
            )
        except ApiError as error:
            form.message = error.detail
            return render_template("cards/sign_in.html", form=form), error.status
        if current_user.is_authenticated:
            logout_user()
        login_user(user)
        session[CARD_SESSION] = scheme.slug
        flash(f"Hello {user.name}! When you are done, press “Sign out for the next person”.")
        return redirect(url_for("member.overview", slug=scheme.slug))
    return render_template("cards/sign_in.html", form=form)


@bp.route("/card/sign-out", methods=["POST"])
def card_sign_out() -> Any:
    if current_user.is_authenticated:
        identity.end_web_sessions(current_user._get_current_object())
        logout_user()
    session.pop(CARD_SESSION, None)
    flash("Signed out. The next person can sign in with their card.")
    return redirect(url_for("cards.card_sign_in"))


@bp.route("/guardian")
@login_required
def guardian_home() -> Any:
    children = guardians.children_of(current_user._get_current_object())
    for child in children:
        with tenancy.scheme_context(child["scheme"].id):
            account = ledger.member_account(child["member_id"])
            found, _ = keyset_page(
                ledger.statement_query(account.id),
                keys=[Transaction.id],
                limit=10,
                cursor=None,
                key_of=lambda t: [t.id],
            )
            child["lines"] = [
                {
                    "created_at": row["created_at"],
                    "memo": row["memo"] or row["kind"],
                    "amount": sum(
                        p["amount"] for p in row["postings"] if p["account_id"] == account.id
                    ),
                }
                for row in ledger.describe_transactions(found)
            ]
    return render_template(
        "cards/guardian.html",
        children=children,
        wording=guardians.CONSENT_WORDING,
        wording_version=guardians.CONSENT_WORDING_VERSION,
    )


@bp.route("/guardian/<slug>/<int:member_id>/consent", methods=["POST"])
@login_required
def guardian_consent(slug: str, member_id: int) -> Any:
    scheme = find_scheme(slug)
    if scheme is None:
        raise NotFound("No such child.")
    tenancy.set_request_scheme(scheme.id)
    given = request.form.get("given") == "yes"
    try:
        guardians.record_consent(
            scheme, member_id, user=current_user._get_current_object(), given=given
        )
    except NotFound:
        raise  # another guardian's child: the 404 page, as for a stranger
    except ApiError as error:
        flash(error.detail)
        return redirect(url_for("cards.guardian_home"))
    flash("Thank you: consent recorded." if given else "Consent withdrawn and recorded.")
    return redirect(url_for("cards.guardian_home"))
