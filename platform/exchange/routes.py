"""Exchange API: agreements between schemes, their positions and settlement statements.

Payments across schemes go through ``POST …/transfers`` with ``to_scheme`` (the ledger's
route hands them to :func:`timebank.platform.exchange.services.pay_partner`).
"""

from __future__ import annotations

from typing import Any

from timebank.platform.api.blueprint import Blueprint
from timebank.platform.api.pagination import keyset_page, page
from timebank.platform.exchange import services
from timebank.platform.exchange.models import Agreement
from timebank.platform.exchange.schemas import (
    AgreementIn,
    AgreementOut,
    AgreementPage,
    AgreementQuery,
    SettlementOut,
    SettlementQuery,
)
from timebank.tenants.access import scheme_access

blp = Blueprint(
    "exchange",
    __name__,
    url_prefix="/api/v1/schemes/<slug>/agreements",
    description="Exchange agreements between schemes",
    credentials="scheme",
)


@blp.route("", methods=["POST"])
@blp.arguments(AgreementIn)
@blp.response(201, AgreementOut)
def propose(body: dict[str, Any], slug: str) -> dict[str, Any]:
    access = scheme_access(slug, write=True, coordinator=True)
    return services.propose_agreement(
        access.scheme,
        partner_slug=body["partner"],
        rate=body["rate"],
        limit=body["limit"],
        actor_user_id=access.user.id,
    )


@blp.route("")
@blp.arguments(AgreementQuery, location="query")
@blp.response(200, AgreementPage)
def agreements(args: dict[str, Any], slug: str) -> dict[str, Any]:
    access = scheme_access(slug)
    rows, cursor = keyset_page(
        services.agreements_query(access.scheme, status=args["status"]),
        keys=[Agreement.id],
        limit=args["limit"],
        cursor=args["cursor"],
        key_of=lambda agreement: [agreement.id],
    )
    return page(services.describe_agreements(access.scheme, rows), cursor)


@blp.route("/<int:agreement_id>")
@blp.response(200, AgreementOut)
def agreement(slug: str, agreement_id: int) -> dict[str, Any]:
    access = scheme_access(slug)
    found = services.get_agreement(access.scheme, agreement_id)
    return services.describe_agreements(access.scheme, [found])[0]


def _change(action: str) -> Any:
    def view(slug: str, agreement_id: int) -> dict[str, Any]:
        access = scheme_access(slug, write=True, coordinator=True)
        return services.change_agreement(
            access.scheme, agreement_id, action, actor_user_id=access.user.id
        )

    view.__name__ = action
    view.__doc__ = {
        "accept": "Accept a proposed agreement (the partner's coordinator, under its own slug).",
        "decline": "Decline a proposed agreement (the partner's coordinator).",
        "suspend": "Suspend an active agreement: payments stop (either side's coordinator).",
        "resume": "Resume a suspended agreement (either side's coordinator).",
        "end": "End an agreement for good (either side's coordinator).",
    }[action]
    return view


for _action in services.TRANSITIONS:
    blp.route(f"/<int:agreement_id>/{_action}", methods=["POST"])(
        blp.response(200, AgreementOut)(_change(_action))
    )


@blp.route("/<int:agreement_id>/settlement")
@blp.arguments(SettlementQuery, location="query")
@blp.response(200, SettlementOut)
def settlement(args: dict[str, Any], slug: str, agreement_id: int) -> dict[str, Any]:
    access = scheme_access(slug)
    return services.settlement(access.scheme, agreement_id, start=args["from_"], end=args["to"])
