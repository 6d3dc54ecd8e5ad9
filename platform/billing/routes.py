"""Billing over HTTP: the coordinators' billing page, the Stripe webhook, the operators' API.

- ``/s/<slug>/billing`` (page, coordinators): plan, members, invoices; a card
  collected with Stripe.js Elements and a SetupIntent, then the subscription
  made server-side; change plan, replace the card, cancel.
- ``POST /billing/stripe/webhook``: signed Stripe events (CSRF-exempt; problem+json).
- ``/api/v1/platform/billing/schemes`` (operators): plan, status, members,
  last payment; a plan set by hand.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, current_app, flash, jsonify, redirect, request, url_for

from timebank.platform.api import jsonbody
from timebank.platform.api.blueprint import Blueprint as ApiBlueprint
from timebank.platform.api.errors import ApiError
from timebank.platform.api.pagination import page
from timebank.platform.api.schemas import PageQuery
from timebank.platform.billing import customers, plans, subscriptions, webhooks
from timebank.platform.billing.schemas import BillingSchemePage, SchemePlanOut, SetPlanIn
from timebank.platform.identity.auth import require_operator
from timebank.platform.operators import services as operators
from timebank.platform.web.pages.common import page_access, render, scheme_blueprint

bp = scheme_blueprint("billing", "/billing")
hooks = Blueprint("billing_hooks", __name__, url_prefix="/billing")
api_blp = ApiBlueprint(
    "platform_billing",
    __name__,
    url_prefix="/api/v1/platform/billing",
    description="Billing",
    credentials="operator",
)


# --- the billing page ------------------------------------------------------


@bp.route("")
def billing_page(slug: str) -> Any:
    access = page_access(coordinator=True)
    info = subscriptions.overview(access.scheme)
    return render(
        "billing/billing.html",
        info=info,
        stripe_js_url=current_app.config.get("STRIPE_JS_URL"),
        publishable_key=current_app.config.get("STRIPE_PUBLISHABLE_KEY") or "",
    )


def _back(slug: str) -> Any:
    return redirect(url_for("billing.billing_page", slug=slug))


def _billing_on() -> bool:
    if not plans.billing_enabled():
        flash("Billing is not set up on this platform: every scheme is free.")
        return False
    return True


@bp.route("/setup-intent", methods=["POST"])
def setup_intent(slug: str) -> Any:
    """A SetupIntent's client secret for the card form (JSON; the page's script asks)."""
    access = page_access(coordinator=True)
    if not plans.billing_enabled():
        return jsonify({"error": "Billing is off."}), 404
    try:
        secret = customers.start_card_setup(access.scheme)
    except ApiError as error:
        return jsonify({"error": error.detail}), error.status
    return jsonify({"client_secret": secret})


@bp.route("/subscribe", methods=["POST"])
def subscribe(slug: str) -> Any:
    access = page_access(coordinator=True)
    if not _billing_on():
        return _back(slug)
    try:
        result = subscriptions.subscribe(
            access.scheme,
            plan=request.form.get("plan", ""),
            setup_intent_id=request.form.get("setup_intent", ""),
            actor=access.user,
        )
    except ApiError as error:
        flash(f"The subscription was not made: {error.detail}")
        return _back(slug)
    if result.message:
        flash(
            f"The subscription is not active yet (status: {result.status}): {result.message} "
            "Replace the card to try again."
        )
    else:
        flash("Thank you: the subscription is active.")
    return _back(slug)


@bp.route("/card", methods=["POST"])
def replace_card(slug: str) -> Any:
    access = page_access(coordinator=True)
    if not _billing_on():
        return _back(slug)
    try:
        result = subscriptions.replace_card(
            access.scheme, setup_intent_id=request.form.get("setup_intent", ""), actor=access.user
        )
    except ApiError as error:
        flash(f"The card was not changed: {error.detail}")
        return _back(slug)
    flash(
        f"The new card is saved, but the payment failed: {result.message}"
        if result.message
        else "The new card is saved."
    )
    return _back(slug)


@bp.route("/plan", methods=["POST"])
def change_plan(slug: str) -> Any:
    access = page_access(coordinator=True)
    if not _billing_on():
        return _back(slug)
    plan = request.form.get("plan", "")
    try:
        subscriptions.change_plan(access.scheme, plan=plan, actor=access.user)
    except ApiError as error:
        flash(f"The plan was not changed: {error.detail}")
        return _back(slug)
    flash(f"The plan is now {plans.PLANS[plan].label}.")
    return _back(slug)


@bp.route("/cancel", methods=["POST"])
def cancel(slug: str) -> Any:
    access = page_access(coordinator=True)
    if not _billing_on():
        return _back(slug)
    try:
        subscriptions.cancel(access.scheme, actor=access.user)
    except ApiError as error:
        flash(f"The subscription was not cancelled: {error.detail}")
        return _back(slug)
    flash("The subscription is cancelled; the scheme is on the free plan.")
    return _back(slug)


# --- the webhook -----------------------------------------------------------


# Stripe's ids (evt_…, cus_…, sub_…) and event types (customer.subscription.updated).
_STRIPE_ID = re.compile(r"[A-Za-z0-9_]{1,255}")
_EVENT_TYPE = re.compile(r"[a-z0-9_]{1,100}(\.[a-z0-9_]{1,100}){0,5}")
_OBJECT_IDS = ("id", "customer", "subscription", "invoice", "payment_intent", "setup_intent")


class InvalidEvent(ApiError):
    status = 400
    code = "invalid_event"


def check_event_shape(payload: bytes) -> None:
    """Refuse (400 ``invalid_event``) a body that is not a Stripe event's shape.

    Runs before the signature is checked and anything is stored: a signed body
    that is an array, or whose ids hold characters no Stripe id has, would
    otherwise reach the Stripe library's event builder and the database.
    """
    try:
        body = jsonbody.loads(payload)
    except ValueError as error:
        raise InvalidEvent("The payload is not JSON.") from error
    if not isinstance(body, dict):
        raise InvalidEvent("The payload is not a Stripe event (not a JSON object).")
    event_id, event_type = body.get("id"), body.get("type")
    if not isinstance(event_id, str) or not _STRIPE_ID.fullmatch(event_id):
        raise InvalidEvent("The event id is not a Stripe id.")
    if not isinstance(event_type, str) or not _EVENT_TYPE.fullmatch(event_type):
        raise InvalidEvent("The event type is not a Stripe event type.")
    data = body.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        raise InvalidEvent("The event carries no object.")
    for key in _OBJECT_IDS:
        value = obj.get(key)
        if value is None or (isinstance(value, str) and _STRIPE_ID.fullmatch(value)):
            continue
        expanded = value.get("id") if key != "id" and isinstance(value, dict) else None
        if isinstance(expanded, str) and _STRIPE_ID.fullmatch(expanded):
            continue  # an expanded object
        raise InvalidEvent(f"The object's {key} is not a Stripe id.")


@hooks.route("/stripe/webhook", methods=["POST"])
def stripe_webhook() -> Any:
    payload = request.get_data(cache=False)
    check_event_shape(payload)
    event, new = webhooks.receive_event(payload, request.headers.get("Stripe-Signature"))
    return jsonify(
        {"received": True, "duplicate": not new, "id": event.event_id if event else None}
    )


# --- operators -------------------------------------------------------------


@api_blp.route("/schemes")
@api_blp.arguments(PageQuery, location="query")
@api_blp.response(200, BillingSchemePage)
def billing_schemes(args: dict[str, Any]) -> dict[str, Any]:
    rows, cursor = operators.scheme_page(args["limit"], args["cursor"])
    return page(plans.describe_for_operators(rows), cursor)


@api_blp.route("/schemes/<slug>/plan", methods=["POST"])
@api_blp.arguments(SetPlanIn)
@api_blp.response(200, SchemePlanOut)
def set_plan(body: dict[str, Any], slug: str) -> dict[str, Any]:
    operator = require_operator()
    scheme = plans.set_plan_by_hand(slug, body["plan"], actor=operator, reason=body["reason"])
    return {"slug": scheme.slug, "plan": scheme.plan}
