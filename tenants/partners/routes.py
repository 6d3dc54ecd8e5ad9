"""Partners API: partners and their staff, offers, the counter, statements, settlements.

Partner staff are not members, so the blueprint's gate (``credentials="partner"``,
:func:`services.partner_gate`) admits members and staff of the scheme, and on a
partner's routes only its staff and coordinators; each view then checks its own
rule (:func:`services.partner_access`, :func:`scheme_access` for members).
"""

from __future__ import annotations

import io
from typing import Any

import segno
from flask import Response

from timebank.platform.api.blueprint import Blueprint
from timebank.platform.api.errors import NotFound
from timebank.platform.api.idempotency import idempotent
from timebank.platform.api.pagination import keyset_page, page
from timebank.tenants.access import scheme_access
from timebank.tenants.memberships.schemas import InvitationOut
from timebank.tenants.partners import counter, offers, services, statements
from timebank.tenants.partners.models import Partner, PartnerSettlement
from timebank.tenants.partners.schemas import (
    CardOut,
    ChargeIn,
    ChargeList,
    ChargeOut,
    CodeIn,
    CodeOut,
    OfferCreate,
    PartnerCreate,
    PartnerOut,
    PartnerPage,
    PartnerPatch,
    PartnerQuery,
    PartnerSettlementIn,
    PartnerSettlementOut,
    PartnerSettlementPage,
    PeriodQuery,
    PinIn,
    ReportOut,
    ReportQuery,
    StaffInvitationIn,
    StatementOut,
)
from timebank.tenants.spending.models import Redemption, Reward
from timebank.tenants.spending.schemas import RewardOut, RewardPage, RewardQuery
from timebank.tenants.spending.services import describe_reward, rewards_query

blp = Blueprint(
    "partner_api",
    __name__,
    url_prefix="/api/v1/schemes/<slug>",
    description="Partners: organisations that accept the scheme's credits, and their counters",
    credentials="partner",
)


# --- partners -------------------------------------------------------------------------


@blp.route("/partners", methods=["POST"])
@blp.arguments(PartnerCreate)
@blp.response(201, PartnerOut)
def create_partner(body: dict[str, Any], slug: str) -> dict[str, Any]:
    scheme, user, _member = services.coordinator_in(slug)
    partner = services.create_partner(scheme, body, actor_user_id=user.id)
    return services.describe_partner(partner)


@blp.route("/partners")
@blp.arguments(PartnerQuery, location="query")
@blp.response(200, PartnerPage)
def partners(args: dict[str, Any], slug: str) -> dict[str, Any]:
    """Active partners (coordinators: all), ``?area=``, ``?category=``."""
    _scheme, _user, member, _staff_of = services.scheme_caller(slug)
    rows, cursor = keyset_page(
        services.partners_query(
            everyone=member is not None and member.is_coordinator,
            area=args["area"],
            category=args["category"],
        ),
        keys=[Partner.id],
        limit=args["limit"],
        cursor=args["cursor"],
        descending=False,
        key_of=lambda partner: [partner.id],
    )
    return page([services.describe_partner(p) for p in rows], cursor)


@blp.route("/partners/<int:partner_id>")
@blp.response(200, PartnerOut)
def partner_detail(slug: str, partner_id: int) -> dict[str, Any]:
    _scheme, _user, member, staff_of = services.scheme_caller(slug)
    partner = services.get_partner(partner_id)
    coordinator = member is not None and member.is_coordinator
    if partner.status != "active" and not coordinator and partner.id not in staff_of:
        raise NotFound(services.PARTNER_NOT_FOUND)
    return services.describe_partner(partner)


@blp.route("/partners/<int:partner_id>", methods=["PATCH"])
@blp.arguments(PartnerPatch)
@blp.response(200, PartnerOut)
def update_partner(body: dict[str, Any], slug: str, partner_id: int) -> dict[str, Any]:
    scheme, user, _member = services.coordinator_in(slug)
    partner = services.update_partner(scheme, partner_id, body, actor_user_id=user.id)
    return services.describe_partner(partner)


@blp.route("/partners/<int:partner_id>/staff-invitations", methods=["POST"])
@blp.arguments(StaffInvitationIn)
@blp.response(201, InvitationOut)
def invite_staff(body: dict[str, Any], slug: str, partner_id: int) -> dict[str, Any]:
    scheme, user, _member = services.coordinator_in(slug)
    token, invitation = services.invite_staff(scheme, partner_id, email=body["email"], actor=user)
    return {"token": token, "expires_at": invitation.expires_at}


# --- offers ---------------------------------------------------------------------------


@blp.route("/partners/<int:partner_id>/offers", methods=["POST"])
@blp.arguments(OfferCreate)
@blp.response(201, RewardOut)
def create_offer(body: dict[str, Any], slug: str, partner_id: int) -> dict[str, Any]:
    access = services.partner_access(slug, partner_id, write=True)
    reward = offers.create_offer(access, body)
    return describe_reward(reward)


@blp.route("/partners/<int:partner_id>/offers")
@blp.arguments(RewardQuery, location="query")
@blp.response(200, RewardPage)
def partner_offers(args: dict[str, Any], slug: str, partner_id: int) -> dict[str, Any]:
    """All of the partner's offers, waiting ones included (its staff and coordinators)."""
    services.partner_access(slug, partner_id)
    rows, cursor = keyset_page(
        rewards_query(active=args["active"], partner_id=partner_id),
        keys=[Reward.id],
        limit=args["limit"],
        cursor=args["cursor"],
        descending=False,
        key_of=lambda reward: [reward.id],
    )
    return page([describe_reward(r) for r in rows], cursor)


@blp.route("/partners/<int:partner_id>/offers/<int:reward_id>/approve", methods=["POST"])
@blp.response(200, RewardOut)
def approve_offer(slug: str, partner_id: int, reward_id: int) -> dict[str, Any]:
    access = services.partner_access(slug, partner_id, write=True, coordinator=True)
    return describe_reward(offers.decide_offer(access, reward_id, approve=True))


@blp.route("/partners/<int:partner_id>/offers/<int:reward_id>/refuse", methods=["POST"])
@blp.response(200, RewardOut)
def refuse_offer(slug: str, partner_id: int, reward_id: int) -> dict[str, Any]:
    access = services.partner_access(slug, partner_id, write=True, coordinator=True)
    return describe_reward(offers.decide_offer(access, reward_id, approve=False))


# --- the counter ----------------------------------------------------------------------


@blp.route("/partners/<int:partner_id>/codes/<code>")
@blp.response(200, CodeOut)
def look_up_code(slug: str, partner_id: int, code: str) -> dict[str, Any]:
    """What a code is for, before honouring it (404 unknown or another partner's)."""
    access = services.partner_access(slug, partner_id)
    return counter.look_up_code(access.partner, code)


@blp.route("/partners/<int:partner_id>/honour", methods=["POST"])
@idempotent
@blp.arguments(CodeIn)
@blp.response(200, CodeOut)
def honour(body: dict[str, Any], slug: str, partner_id: int) -> dict[str, Any]:
    access = services.partner_access(slug, partner_id, write=True)
    return counter.honour(access.scheme, access.partner, body["code"], actor_user_id=access.user.id)


@blp.route("/partners/<int:partner_id>/charges", methods=["POST"])
@idempotent
@blp.arguments(ChargeIn)
@blp.response(201, ChargeOut)
def charge(body: dict[str, Any], slug: str, partner_id: int) -> dict[str, Any]:
    access = services.partner_access(slug, partner_id, write=True)
    return counter.charge(
        access.scheme,
        access.partner,
        card_code=body["card"],
        reward_id=body["reward_id"],
        quantity=body["quantity"],
        pin=body["pin"],
        actor_user_id=access.user.id,
    )


@blp.route("/partners/<int:partner_id>/charges/<int:charge_id>")
@blp.response(200, ChargeOut)
def charge_detail(slug: str, partner_id: int, charge_id: int) -> dict[str, Any]:
    services.partner_access(slug, partner_id)
    return counter.describe_charge(counter.get_charge(charge_id, partner_id=partner_id))


# --- statements and settlements --------------------------------------------------------


@blp.route("/partners/<int:partner_id>/statement")
@blp.arguments(PeriodQuery, location="query")
@blp.response(200, StatementOut)
def statement(args: dict[str, Any], slug: str, partner_id: int) -> dict[str, Any]:
    access = services.partner_access(slug, partner_id)
    low, high = statements.bounds(access.scheme, args["from_"], args["to"])
    rows, cursor = keyset_page(
        statements.honoured_query(partner_id, low, high),
        keys=[Redemption.id],
        limit=args["limit"],
        cursor=args["cursor"],
        descending=False,
        key_of=lambda row: [row[0].id],
        scalars=False,
    )
    body = page([statements.describe_line(r, name) for r, name in rows], cursor)
    body.update(statements.summary(access.scheme, partner_id, low, high))
    body["balance"] = statements.partner_account(partner_id).balance
    return body


@blp.route("/partners/<int:partner_id>/statement.csv")
@blp.arguments(ReportQuery, location="query")
@blp.response(200, description="Per day and per offer, as CSV")
def statement_csv(args: dict[str, Any], slug: str, partner_id: int) -> Response:
    access = services.partner_access(slug, partner_id)
    low, high = statements.bounds(access.scheme, args["from_"], args["to"])
    text = statements.statement_csv(access.scheme, partner_id, low, high)
    filename = f"{access.scheme.slug}-partner-{partner_id}-statement.csv"
    return Response(
        text,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@blp.route("/partners/<int:partner_id>/settlements", methods=["POST"])
@idempotent
@blp.arguments(PartnerSettlementIn)
@blp.response(201, PartnerSettlementOut)
def settle(body: dict[str, Any], slug: str, partner_id: int) -> dict[str, Any]:
    access = services.partner_access(slug, partner_id, write=True, coordinator=True)
    settlement = statements.settle(
        access.scheme,
        access.partner,
        minutes=body["minutes"],
        money_value=body["money_value"],
        note=body["note"],
        actor_user_id=access.user.id,
    )
    return statements.describe_settlement(settlement)


@blp.route("/partners/<int:partner_id>/settlements")
@blp.arguments(PeriodQuery, location="query")
@blp.response(200, PartnerSettlementPage)
def settlements(args: dict[str, Any], slug: str, partner_id: int) -> dict[str, Any]:
    services.partner_access(slug, partner_id)
    rows, cursor = keyset_page(
        offers.settlements_query(partner_id),
        keys=[PartnerSettlement.id],
        limit=args["limit"],
        cursor=args["cursor"],
        key_of=lambda item: [item.id],
    )
    return page([statements.describe_settlement(s) for s in rows], cursor)


@blp.route("/partner-report")
@blp.arguments(ReportQuery, location="query")
@blp.response(200, ReportOut)
def partner_report(args: dict[str, Any], slug: str) -> dict[str, Any]:
    scheme, _user, _member = services.coordinator_in(slug, write=False)
    low, high = statements.bounds(scheme, args["from_"], args["to"])
    start, end = statements.period_dates(scheme, args["from_"], args["to"])
    return {"from_": start, "to": end, "partners": statements.partner_report(scheme, low, high)}


# --- the member's side: card, PIN, charges, QR codes ------------------------------------


@blp.route("/card")
@blp.response(200, CardOut)
def card(slug: str) -> dict[str, Any]:
    access = scheme_access(slug)
    return counter.my_card(access.scheme, access.member)


@blp.route("/card.svg")
@blp.response(200, description="The member's card as a QR code (SVG)")
def card_qr(slug: str) -> Response:
    access = scheme_access(slug)
    return qr_response(counter.my_card(access.scheme, access.member)["code"])


@blp.route("/card/pin", methods=["PUT"])
@blp.arguments(PinIn)
@blp.response(204)
def set_pin(body: dict[str, Any], slug: str) -> None:
    access = scheme_access(slug, write=True)
    counter.set_pin(access.scheme, access.member, body["pin"])


@blp.route("/charges")
@blp.response(200, ChargeList)
def my_charges(slug: str) -> dict[str, Any]:
    access = scheme_access(slug)
    return {"items": counter.charges_waiting(access.member.id)}


@blp.route("/charges/<int:charge_id>/confirm", methods=["POST"])
@idempotent
@blp.response(200, ChargeOut)
def confirm_charge(slug: str, charge_id: int) -> dict[str, Any]:
    access = scheme_access(slug, write=True)
    return counter.decide_charge(access.scheme, access.member, charge_id, confirm=True)


@blp.route("/charges/<int:charge_id>/decline", methods=["POST"])
@blp.response(200, ChargeOut)
def decline_charge(slug: str, charge_id: int) -> dict[str, Any]:
    access = scheme_access(slug, write=True)
    return counter.decide_charge(access.scheme, access.member, charge_id, confirm=False)


@blp.route("/redemptions/<int:redemption_id>/qr.svg")
@blp.response(200, description="A redemption's code as a QR code (SVG)")
def redemption_qr(slug: str, redemption_id: int) -> Response:
    access = scheme_access(slug)
    return qr_response(offers.own_redemption_code(access.member.id, redemption_id))


def qr_response(text: str) -> Response:
    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="svg", scale=6, border=2, xmldecl=False)
    return Response(
        buffer.getvalue(),
        mimetype="image/svg+xml",
        headers={"Cache-Control": "private, no-store"},
    )
