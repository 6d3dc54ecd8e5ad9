"""Completing an exchange: the credits move, and what members gave and received.

The person helped (or a coordinator, when the policy says ``brokered``)
confirms an agreed response, or a coordinator decides a disputed one; either
way the credits move only through the posting service: one ``transfer`` from
the helped member to the helper, with the ledger idempotency key
``listing-response:<id>`` (a response pays at most once, whatever the HTTP
retries), under the scheme's balance limits. Given and received count
completed exchanges only.
"""

from __future__ import annotations

from sqlalchemy import func, select

from timebank.platform import audit
from timebank.platform.api.errors import Forbidden, RuleViolation
from timebank.platform.db import atomic, db, utcnow
from timebank.platform.schemes.models import Scheme
from timebank.tenants.access import Access, get_member
from timebank.tenants.ledger.credit_mail import notify_credit
from timebank.tenants.ledger.models import Transaction
from timebank.tenants.ledger.services import (
    Leg,
    format_minutes,
    lock_accounts,
    post_transaction,
)
from timebank.tenants.marketplace import notices
from timebank.tenants.marketplace.models import (
    Listing,
    ListingResponse,
)
from timebank.tenants.marketplace.responses import get_response, listing_of, parties
from timebank.tenants.marketplace.services import (
    listings_policy,
    names_of,
)

# --- confirming and deciding: the credits move ------------------------------------------


def _pay(access: Access, response: ListingResponse, listing: Listing, minutes: int) -> Transaction:
    """One ``transfer`` helped → helper through the posting service (limits apply)."""
    scheme: Scheme = access.scheme
    locked = lock_accounts(
        scheme.id, member_ids=(response.helped_member_id, response.helper_member_id)
    )
    helped = locked.of_member(response.helped_member_id)
    helper = locked.of_member(response.helper_member_id)
    assert helped is not None and helper is not None  # every member has an account
    own = access.member.id == response.helped_member_id
    posted = post_transaction(
        scheme,
        kind="transfer",
        legs=[Leg(helped.id, -minutes), Leg(helper.id, minutes)],
        actor_user_id=access.user.id,
        memo=f"{listing.title} (listing {listing.id}, response {response.id})"[:500],
        idempotency_key=f"listing-response:{response.id}",
        names={
            helped.id: "Your balance" if own else "The balance of the member helped",
            helper.id: "The helper's balance",
        },
        locked=locked.by_id,
    )
    if posted.fresh:
        notify_credit(
            scheme,
            member_id=response.helper_member_id,
            kind="paid",
            amount=minutes,
            transaction_id=posted.id,
            from_member_id=response.helped_member_id,
        )
    return posted.transaction


def _complete(
    access: Access, response: ListingResponse, listing: Listing, minutes: int, action: str
) -> ListingResponse:
    transaction = _pay(access, response, listing, minutes)
    response.status = "completed"
    response.minutes = minutes
    response.transaction_id = transaction.id
    response.completed_at = utcnow()
    response.updated_at = response.completed_at
    db.session.flush()
    audit.record(
        access.scheme.id,
        action,
        actor_user_id=access.user.id,
        target=f"listing_response:{response.id}",
        details={
            "minutes": minutes,
            "transaction_id": transaction.id,
            "listing_id": listing.id,
        },
    )
    names = names_of(parties(response))
    notices.notify(
        notices.member_users(parties(response)).values(),
        access.scheme,
        subject=f"Time credits moved for “{listing.title}”",
        lines=[
            f"{format_minutes(minutes)} moved from "
            f"{names.get(response.helped_member_id, 'the member helped')} to "
            f"{names.get(response.helper_member_id, 'the helper')} for “{listing.title}”. "
            "Thank you both!"
        ],
        path=f"/responses/{response.id}",
        link_text="See the exchange",
    )
    return response


@atomic
def confirm(access: Access, response_id: int, *, minutes: int | None) -> ListingResponse:
    """The person helped (a coordinator, when brokered) confirms; the credits move.

    Raises 403 ``not_helped_party`` (or ``coordinator_only`` when brokered),
    422 ``already_confirmed``, ``not_agreed``, and the ledger's refusals.
    """
    response = get_response(access, response_id, for_update=True)
    if listings_policy(access.scheme)["brokered"]:
        if not access.is_coordinator:
            raise Forbidden(
                "In this scheme a coordinator confirms exchanges: ask them to.",
                code="coordinator_only",
            )
    elif access.member.id != response.helped_member_id:
        raise Forbidden(
            "Only the member who was helped confirms the time.", code="not_helped_party"
        )
    if response.status == "completed":
        raise RuleViolation("This exchange has already been confirmed.", code="already_confirmed")
    if response.status != "agreed":
        raise RuleViolation(
            "Agree the exchange first: who helps whom, and about how long.", code="not_agreed"
        )
    amount = minutes if minutes is not None else response.minutes
    assert amount is not None
    return _complete(access, response, listing_of(response), amount, "listing_response.confirmed")


@atomic
def decide(
    access: Access, response_id: int, *, minutes: int, note: str | None = None
) -> ListingResponse:
    """A coordinator decides a disputed exchange: ``minutes`` move, or none (``closed``)."""
    response = get_response(access, response_id, for_update=True)
    if access.member.id in parties(response):
        raise Forbidden(
            "You are part of this exchange: another coordinator must decide it.",
            code="own_dispute",
        )
    if response.status != "disputed":
        raise RuleViolation("Only a disputed exchange can be decided.", code="not_disputed")
    listing = listing_of(response)
    if minutes > 0:
        response.decided_by = access.user.id
        return _complete(access, response, listing, minutes, "listing_response.decided")
    response.status = "closed"
    response.minutes = 0
    response.decided_by = access.user.id
    response.updated_at = utcnow()
    db.session.flush()
    audit.record(
        access.scheme.id,
        "listing_response.decided",
        actor_user_id=access.user.id,
        target=f"listing_response:{response.id}",
        details={"minutes": 0, "outcome": "closed", "note": note},
    )
    notices.notify(
        notices.member_users(parties(response)).values(),
        access.scheme,
        subject=f"A coordinator decided about “{listing.title}”",
        lines=[
            f"A coordinator looked at the exchange about “{listing.title}” and decided that "
            "no time credits move.",
            *([f"Their note: {note}"] if note else []),
        ],
        path=f"/responses/{response.id}",
        link_text="See the conversation",
    )
    return response


# --- given and received ---------------------------------------------------------------


def given_received(member_id: int) -> dict[str, int]:
    """Completed exchanges of one member, as helper and as the person helped (two queries)."""
    given = db.session.execute(
        select(
            func.coalesce(func.sum(ListingResponse.minutes), 0),
            func.count(func.distinct(ListingResponse.helped_member_id)),
        ).where(
            ListingResponse.helper_member_id == member_id, ListingResponse.status == "completed"
        )
    ).one()
    received = db.session.execute(
        select(
            func.coalesce(func.sum(ListingResponse.minutes), 0),
            func.count(func.distinct(ListingResponse.helper_member_id)),
        ).where(
            ListingResponse.helped_member_id == member_id, ListingResponse.status == "completed"
        )
    ).one()
    return {
        "member_id": member_id,
        "given_minutes": int(given[0] or 0),
        "received_minutes": int(received[0] or 0),
        "people_helped": int(given[1]),
        "helped_by": int(received[1]),
    }


def readable_given_received(access: Access, member_id: int) -> dict[str, int]:
    """The member's own figures, or any member's for coordinators (403 / 404 otherwise)."""
    if member_id != access.member.id:
        if not access.is_coordinator:
            get_member(member_id)  # another scheme's member: 404 before 403
            raise Forbidden(
                "Only coordinators may look at another member's exchanges.",
                code="coordinator_only",
            )
        get_member(member_id)
    return given_received(member_id)
