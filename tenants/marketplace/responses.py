"""Responses to listings: the thread between two members, their agreement, the exchange.

Status of a response: ``open`` (just sent) → ``agreed`` (either party said
who helps whom, on what day, for about how many minutes) → ``completed`` (the
person helped — or a coordinator, when the policy says ``brokered`` —
confirmed: credits moved). Either party may instead end it (``declined`` by
the listing's author, ``withdrawn`` by the responder) or ask a coordinator to
decide (``disputed``), who completes it with an amount or ``closed`` with none.

Credits move only through the posting service: one ``transfer`` from the
helped member to the helper, with the ledger idempotency key
``listing-response:<id>`` (so a response can pay at most once, whatever the
HTTP retries), under the scheme's balance limits. ``peer_transfers`` does not
govern it: the exchange was agreed through the listing.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from timebank.platform import audit
from timebank.platform.api.errors import Conflict, Forbidden, NotFound, RuleViolation
from timebank.platform.db import atomic, db, utcnow
from timebank.tenants.access import Access
from timebank.tenants.ledger.services import (
    format_minutes,
)
from timebank.tenants.marketplace import notices
from timebank.tenants.marketplace.models import (
    LIVE_RESPONSE_STATUSES,
    Listing,
    ListingMessage,
    ListingResponse,
)
from timebank.tenants.marketplace.services import (
    get_listing,
    is_live,
    names_of,
    person,
    scheme_today,
)

# --- loading -------------------------------------------------------------------------


def get_response(access: Access, response_id: int, *, for_update: bool = False) -> ListingResponse:
    """A response the caller is party to, or any for a coordinator; else 404."""
    statement = select(ListingResponse).where(ListingResponse.id == response_id)
    if for_update:
        statement = statement.with_for_update()
    response = db.session.execute(statement).scalar_one_or_none()
    if response is None or not (access.is_coordinator or access.member.id in parties(response)):
        raise NotFound("No such response in this scheme.")
    return response


def parties(response: ListingResponse) -> tuple[int, int]:
    return response.helper_member_id, response.helped_member_id


def other_party(response: ListingResponse, member_id: int) -> int:
    helper, helped = parties(response)
    return helped if member_id == helper else helper


def listing_of(response: ListingResponse) -> Listing:
    return db.session.execute(select(Listing).where(Listing.id == response.listing_id)).scalar_one()


def responses_statement(access: Access, listing: Listing, *, status: str | None) -> Any:
    """The author and coordinators see every response to a listing; a responder their own."""
    statement = select(ListingResponse).where(ListingResponse.listing_id == listing.id)
    if not (access.is_coordinator or listing.author_member_id == access.member.id):
        statement = statement.where(ListingResponse.responder_member_id == access.member.id)
    if status is not None:
        statement = statement.where(ListingResponse.status == status)
    return statement


def my_responses_statement(access: Access, *, status: str | None = None) -> Any:
    """Responses the caller is party to (as either side), any listing."""
    me = access.member.id
    statement = select(ListingResponse).where(
        (ListingResponse.helper_member_id == me) | (ListingResponse.helped_member_id == me)
    )
    if status is not None:
        statement = statement.where(ListingResponse.status == status)
    return statement


def disputed_statement() -> Any:
    """Exchanges waiting for a coordinator's decision (coordinators)."""
    return select(ListingResponse).where(ListingResponse.status == "disputed")


def describe_responses(access: Access, responses: list[ListingResponse]) -> list[dict[str, Any]]:
    """Serialisable responses (one query for names, one for listing titles)."""
    names = names_of([r.responder_member_id for r in responses])
    listing_ids = sorted({r.listing_id for r in responses})
    titles = (
        dict(
            db.session.execute(
                select(Listing.id, Listing.title).where(Listing.id.in_(listing_ids))
            ).all()
        )
        if listing_ids
        else {}
    )
    return [
        {
            "id": r.id,
            "listing_id": r.listing_id,
            "listing_title": titles.get(r.listing_id, ""),
            "responder": person(
                access, r.responder_member_id, names, party=access.member.id in parties(r)
            ),
            "status": r.status,
            "minutes": r.minutes,
            "on": r.agreed_on,
            "helper_member_id": r.helper_member_id,
            "helped_member_id": r.helped_member_id,
            "transaction_id": r.transaction_id,
            "dispute_reason": r.dispute_reason,
            "created_at": r.created_at,
            "updated_at": r.updated_at,
        }
        for r in responses
    ]


def _party_name(access: Access, member_id: int) -> str:
    shown = person(access, member_id, names_of([member_id]), party=True)["name"]
    return shown or "the other member"


# --- responding and messages ---------------------------------------------------------------


@atomic
def respond(access: Access, listing_id: int, *, message: str) -> ListingResponse:
    """Answer a listing with a first message. Raises 422 ``own_listing`` /
    ``listing_closed``, 409 ``already_responded``."""
    listing = get_listing(access, listing_id, for_update=True)
    me = access.member.id
    if listing.author_member_id == me:
        raise RuleViolation("You cannot respond to your own listing.", code="own_listing")
    if not is_live(listing, scheme_today(access.scheme)):
        raise RuleViolation(
            "This listing is not open for responses any more.", code="listing_closed"
        )
    live = db.session.execute(
        select(ListingResponse.id).where(
            ListingResponse.listing_id == listing.id,
            ListingResponse.responder_member_id == me,
            ListingResponse.status.in_(LIVE_RESPONSE_STATUSES),
        )
    ).first()
    if live is not None:
        raise Conflict(
            "You have already responded to this listing: carry on in that conversation.",
            code="already_responded",
            extra={"response_id": live[0]},
        )
    helper, helped = (
        (listing.author_member_id, me)
        if listing.kind == "offer"
        else (me, listing.author_member_id)
    )
    response = ListingResponse(
        scheme_id=access.scheme.id,
        listing_id=listing.id,
        responder_member_id=me,
        helper_member_id=helper,
        helped_member_id=helped,
        status="open",
    )
    db.session.add(response)
    try:
        db.session.flush()
    except IntegrityError as error:  # a concurrent response by the same member
        raise Conflict(
            "You have already responded to this listing.", code="already_responded"
        ) from error
    db.session.add(
        ListingMessage(
            scheme_id=access.scheme.id,
            response_id=response.id,
            author_member_id=me,
            body=message.strip(),
        )
    )
    db.session.flush()
    notices.notify(
        notices.member_users([listing.author_member_id]).values(),
        access.scheme,
        subject=f"A reply to your listing “{listing.title}”",
        lines=[
            f"{_party_name(access, me)} replied to your {listing.kind} “{listing.title}”.",
            "Read the message and answer it on the response page.",
        ],
        path=f"/responses/{response.id}",
        link_text="Read and reply",
    )
    return response


def messages_statement(response: ListingResponse) -> Any:
    return select(ListingMessage).where(ListingMessage.response_id == response.id)


@atomic
def post_message(access: Access, response_id: int, *, body: str) -> ListingMessage:
    response = get_response(access, response_id)
    if response.status in ("declined", "withdrawn", "closed"):
        raise RuleViolation("This conversation has ended.", code="response_closed")
    message = ListingMessage(
        scheme_id=access.scheme.id,
        response_id=response.id,
        author_member_id=access.member.id,
        body=body.strip(),
    )
    db.session.add(message)
    response.updated_at = utcnow()
    db.session.flush()
    listing = listing_of(response)
    recipients = [m for m in parties(response) if m != access.member.id]
    notices.notify(
        notices.member_users(recipients).values(),
        access.scheme,
        subject=f"A new message about “{listing.title}”",
        lines=[
            f"{_party_name(access, access.member.id)} sent you a message about “{listing.title}”."
        ],
        path=f"/responses/{response.id}",
        link_text="Read and reply",
    )
    return message


# --- agreeing, ending ---------------------------------------------------------------


def _party(access: Access, response: ListingResponse) -> None:
    if access.member.id not in parties(response):
        raise Forbidden(
            "Only the two members of this conversation may do this.", code="not_a_party"
        )


def _still_live(response: ListingResponse) -> None:
    if response.status == "completed":
        raise RuleViolation("This exchange has already been confirmed.", code="already_confirmed")
    if response.status not in ("open", "agreed"):
        raise RuleViolation(
            f"This conversation is {response.status}: nothing more can be agreed in it.",
            code="response_closed",
        )


@atomic
def agree(access: Access, response_id: int, *, minutes: int, on: date | None) -> ListingResponse:
    """Either party records the agreement: who helps whom, on what day, about how long."""
    response = get_response(access, response_id, for_update=True)
    _party(access, response)
    _still_live(response)
    response.status = "agreed"
    response.minutes = minutes
    response.agreed_on = on
    response.agreed_by_member_id = access.member.id
    response.updated_at = utcnow()
    db.session.flush()
    listing = listing_of(response)
    names = names_of(parties(response))
    when = f" on {on.strftime('%d %B %Y')}" if on else ""
    summary = (
        f"{names.get(response.helper_member_id, 'The helper')} will help "
        f"{names.get(response.helped_member_id, 'the member')} with “{listing.title}”{when}, "
        f"about {format_minutes(minutes)}."
    )
    audit.record(
        access.scheme.id,
        "listing_response.agreed",
        actor_user_id=access.user.id,
        target=f"listing_response:{response.id}",
        details={"minutes": minutes, "on": on.isoformat() if on else None},
    )
    other = other_party(response, access.member.id)
    notices.notify(
        notices.member_users([other]).values(),
        access.scheme,
        subject=f"Agreed: “{listing.title}”",
        lines=[
            summary,
            "When the help has happened, the person helped confirms the time on the "
            "response page and the credits move.",
        ],
        path=f"/responses/{response.id}",
        link_text="See the agreement",
    )
    return response


@atomic
def end_response(access: Access, response_id: int, *, outcome: str) -> ListingResponse:
    """``declined`` by the listing's author, or ``withdrawn`` by the responder."""
    response = get_response(access, response_id, for_update=True)
    listing = listing_of(response)
    if outcome == "declined" and access.member.id != listing.author_member_id:
        raise Forbidden(
            "Only the member who posted the listing may decline a response.", code="not_author"
        )
    if outcome == "withdrawn" and access.member.id != response.responder_member_id:
        raise Forbidden(
            "Only the member who responded may withdraw the response.", code="not_responder"
        )
    _still_live(response)
    response.status = outcome
    response.updated_at = utcnow()
    db.session.flush()
    audit.record(
        access.scheme.id,
        f"listing_response.{outcome}",
        actor_user_id=access.user.id,
        target=f"listing_response:{response.id}",
    )
    verb = "declined your response to" if outcome == "declined" else "withdrew their response to"
    notices.notify(
        notices.member_users([other_party(response, access.member.id)]).values(),
        access.scheme,
        subject=f"“{listing.title}”: {outcome}",
        lines=[f"{_party_name(access, access.member.id)} {verb} “{listing.title}”."],
        path=f"/responses/{response.id}",
        link_text="See the conversation",
    )
    return response


@atomic
def dispute(access: Access, response_id: int, *, reason: str) -> ListingResponse:
    """Either party asks a coordinator to decide; the coordinators are mailed."""
    response = get_response(access, response_id, for_update=True)
    _party(access, response)
    _still_live(response)
    response.status = "disputed"
    response.dispute_reason = reason.strip()
    response.disputed_by_member_id = access.member.id
    response.updated_at = utcnow()
    db.session.flush()
    audit.record(
        access.scheme.id,
        "listing_response.disputed",
        actor_user_id=access.user.id,
        target=f"listing_response:{response.id}",
        details={"reason": response.dispute_reason},
    )
    listing = listing_of(response)
    notices.notify(
        notices.coordinator_users(),
        access.scheme,
        subject=f"A coordinator's decision is needed in {access.scheme.name}",
        lines=[
            f"A member asked for a coordinator to decide the exchange about “{listing.title}”.",
            "Read the conversation and decide how many minutes, if any, should move.",
        ],
        path=f"/responses/{response.id}",
        link_text="Decide",
    )
    return response
