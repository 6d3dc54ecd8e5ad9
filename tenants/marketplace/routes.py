"""Offers and requests API: categories, listings, responses, messages and exchanges."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from flask import Response, stream_with_context

from timebank.platform import tenancy
from timebank.platform.api.blueprint import Blueprint
from timebank.platform.api.idempotency import idempotent
from timebank.platform.api.pagination import keyset_page, page
from timebank.tenants.access import Access, scheme_access
from timebank.tenants.marketplace import categories as listing_categories
from timebank.tenants.marketplace import exchanges, finding, responses, services
from timebank.tenants.marketplace.models import (
    Listing,
    ListingCategory,
    ListingMessage,
    ListingResponse,
)
from timebank.tenants.marketplace.schemas import (
    AgreeIn,
    CategoryIn,
    CategoryOut,
    CategoryPage,
    CategoryPatch,
    CategoryQuery,
    ConfirmIn,
    DecideIn,
    DigestIn,
    DigestOut,
    DisputeIn,
    ExchangeOut,
    GivenReceivedOut,
    HideIn,
    ListingIn,
    ListingOut,
    ListingPage,
    ListingPatch,
    ListingQuery,
    MessageIn,
    MessageOut,
    MessagePage,
    RespondIn,
    ResponseOut,
    ResponsePage,
    ResponseQuery,
    UnansweredQuery,
)

blp = Blueprint(
    "marketplace",
    __name__,
    url_prefix="/api/v1/schemes/<slug>",
    description="Offers and requests between members",
    credentials="scheme",
)


# --- categories -----------------------------------------------------------------------


@blp.route("/categories")
@blp.arguments(CategoryQuery, location="query")
@blp.response(200, CategoryPage)
def categories(args: dict[str, Any], slug: str) -> dict[str, Any]:
    scheme_access(slug)
    rows, cursor = keyset_page(
        listing_categories.categories_query(active=args["active"]),
        keys=[ListingCategory.id],
        limit=args["limit"],
        cursor=args["cursor"],
        descending=False,
        key_of=lambda category: [category.id],
    )
    return page(rows, cursor)


@blp.route("/categories", methods=["POST"])
@blp.arguments(CategoryIn)
@blp.response(201, CategoryOut)
def create_category(body: dict[str, Any], slug: str) -> ListingCategory:
    access = scheme_access(slug, write=True, coordinator=True)
    return listing_categories.create_category(
        access.scheme, body["name"], actor_user_id=access.user.id
    )


@blp.route("/categories/<int:category_id>", methods=["PATCH"])
@blp.arguments(CategoryPatch)
@blp.response(200, CategoryOut)
def update_category(body: dict[str, Any], slug: str, category_id: int) -> ListingCategory:
    access = scheme_access(slug, write=True)
    listing_categories.get_category(category_id)  # another scheme's: 404 before 403
    scheme_access(slug, coordinator=True)
    return listing_categories.update_category(
        access.scheme, category_id, body, actor_user_id=access.user.id
    )


# --- listings -------------------------------------------------------------------------


def _one(access: Access, listing: Any) -> dict[str, Any]:
    return finding.describe_listings(access, [listing])[0]


@blp.route("/listings")
@blp.arguments(ListingQuery, location="query")
@blp.response(200, ListingPage)
def listings(args: dict[str, Any], slug: str) -> dict[str, Any]:
    """Live listings, newest first (``?sort=expiring``: nearest to expiry first)."""
    access = scheme_access(slug)
    statement = finding.search_statement(
        access,
        kind=args["kind"],
        category_id=args["category_id"],
        q=args["q"],
        area=args["area"],
        mine=args["mine"],
        status=args["status"],
    )
    rows, cursor = finding.search_page(
        statement, sort=args["sort"], limit=args["limit"], cursor=args["cursor"]
    )
    return page(finding.describe_listings(access, rows), cursor)


@blp.route("/listings", methods=["POST"])
@blp.arguments(ListingIn)
@blp.response(201, ListingOut)
def create_listing(body: dict[str, Any], slug: str) -> dict[str, Any]:
    access = scheme_access(slug, write=True)
    return _one(access, services.create_listing(access, body))


@blp.route("/listings/digest")
@blp.response(200, DigestOut)
def digest(slug: str) -> dict[str, Any]:
    access = scheme_access(slug)
    return {"category_ids": listing_categories.digest_categories(access.member.id)}


@blp.route("/listings/digest", methods=["PUT"])
@blp.arguments(DigestIn)
@blp.response(200, DigestOut)
def set_digest(body: dict[str, Any], slug: str) -> dict[str, Any]:
    access = scheme_access(slug, write=True)
    return {"category_ids": listing_categories.set_digest_categories(access, body["category_ids"])}


@blp.route("/listings/unanswered")
@blp.arguments(UnansweredQuery, location="query")
@blp.response(200, ListingPage)
def unanswered(args: dict[str, Any], slug: str) -> dict[str, Any]:
    """Coordinators: live requests with no response after ``?days=`` (default 7), oldest first."""
    access = scheme_access(slug, coordinator=True)
    rows, cursor = keyset_page(
        finding.unanswered_requests_statement(access, days=args["days"]),
        keys=[Listing.id],
        limit=args["limit"],
        cursor=args["cursor"],
        descending=False,
        key_of=lambda listing: [listing.id],
    )
    return page(finding.describe_listings(access, rows), cursor)


@blp.route("/listings.csv")
@blp.response(200, description="Every listing with its response figures, as CSV")
def listings_csv(slug: str) -> Response:
    access = scheme_access(slug, coordinator=True)
    scheme_id = access.scheme.id

    def rows() -> Iterator[str]:
        # Streamed after the view returns: name the scheme again for the queries.
        with tenancy.scheme_context(scheme_id):
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(finding.CSV_HEADER)
            for row in finding.export_rows():
                writer.writerow([_cell(value) for value in row])
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate(0)
            yield buffer.getvalue()

    return Response(
        stream_with_context(rows()),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{access.scheme.slug}-listings.csv"'
        },
    )


def _cell(value: Any) -> Any:
    """Members' text cannot become a spreadsheet formula."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


@blp.route("/listings/<int:listing_id>")
@blp.response(200, ListingOut)
def listing(slug: str, listing_id: int) -> dict[str, Any]:
    access = scheme_access(slug)
    return _one(access, services.get_listing(access, listing_id))


@blp.route("/listings/<int:listing_id>", methods=["PATCH"])
@blp.arguments(ListingPatch)
@blp.response(200, ListingOut)
def update_listing(body: dict[str, Any], slug: str, listing_id: int) -> dict[str, Any]:
    access = scheme_access(slug, write=True)
    return _one(access, services.update_listing(access, listing_id, body))


@blp.route("/listings/<int:listing_id>/renew", methods=["POST"])
@blp.response(200, ListingOut)
def renew_listing(slug: str, listing_id: int) -> dict[str, Any]:
    access = scheme_access(slug, write=True)
    return _one(access, services.renew_listing(access, listing_id))


@blp.route("/listings/<int:listing_id>/hide", methods=["POST"])
@blp.arguments(HideIn)
@blp.response(200, ListingOut)
def hide_listing(body: dict[str, Any], slug: str, listing_id: int) -> dict[str, Any]:
    access = scheme_access(slug, write=True)
    services.get_listing(access, listing_id)  # another scheme's: 404 before 403
    scheme_access(slug, coordinator=True)
    return _one(access, services.hide_listing(access, listing_id, reason=body["reason"]))


@blp.route("/listings/<int:listing_id>/approve", methods=["POST"])
@blp.response(200, ListingOut)
def approve_listing(slug: str, listing_id: int) -> dict[str, Any]:
    access = scheme_access(slug, write=True)
    services.get_listing(access, listing_id)  # another scheme's: 404 before 403
    scheme_access(slug, coordinator=True)
    return _one(access, services.approve_listing(access, listing_id))


# --- responses ------------------------------------------------------------------------


def _response(access: Access, response: ListingResponse) -> dict[str, Any]:
    return responses.describe_responses(access, [response])[0]


@blp.route("/listings/<int:listing_id>/responses", methods=["POST"])
@blp.arguments(RespondIn)
@blp.response(201, ResponseOut)
def respond(body: dict[str, Any], slug: str, listing_id: int) -> dict[str, Any]:
    access = scheme_access(slug, write=True)
    return _response(access, responses.respond(access, listing_id, message=body["message"]))


@blp.route("/listings/<int:listing_id>/responses")
@blp.arguments(ResponseQuery, location="query")
@blp.response(200, ResponsePage)
def listing_responses(args: dict[str, Any], slug: str, listing_id: int) -> dict[str, Any]:
    access = scheme_access(slug)
    found = services.get_listing(access, listing_id)
    rows, cursor = keyset_page(
        responses.responses_statement(access, found, status=args["status"]),
        keys=[ListingResponse.id],
        limit=args["limit"],
        cursor=args["cursor"],
        descending=False,
        key_of=lambda response: [response.id],
    )
    return page(responses.describe_responses(access, rows), cursor)


@blp.route("/responses")
@blp.arguments(ResponseQuery, location="query")
@blp.response(200, ResponsePage)
def my_responses(args: dict[str, Any], slug: str) -> dict[str, Any]:
    """The caller's conversations (as helper or helped), newest first."""
    access = scheme_access(slug)
    rows, cursor = keyset_page(
        responses.my_responses_statement(access, status=args["status"]),
        keys=[ListingResponse.id],
        limit=args["limit"],
        cursor=args["cursor"],
        key_of=lambda response: [response.id],
    )
    return page(responses.describe_responses(access, rows), cursor)


@blp.route("/responses/<int:response_id>")
@blp.response(200, ResponseOut)
def response_detail(slug: str, response_id: int) -> dict[str, Any]:
    access = scheme_access(slug)
    return _response(access, responses.get_response(access, response_id))


@blp.route("/responses/<int:response_id>/messages")
@blp.arguments(ResponseQuery, location="query")
@blp.response(200, MessagePage)
def messages(args: dict[str, Any], slug: str, response_id: int) -> dict[str, Any]:
    access = scheme_access(slug)
    found = responses.get_response(access, response_id)
    rows, cursor = keyset_page(
        responses.messages_statement(found),
        keys=[ListingMessage.id],
        limit=args["limit"],
        cursor=args["cursor"],
        descending=False,
        key_of=lambda message: [message.id],
    )
    return page(rows, cursor)


@blp.route("/responses/<int:response_id>/messages", methods=["POST"])
@blp.arguments(MessageIn)
@blp.response(201, MessageOut)
def post_message(body: dict[str, Any], slug: str, response_id: int) -> ListingMessage:
    access = scheme_access(slug, write=True)
    return responses.post_message(access, response_id, body=body["body"])


@blp.route("/responses/<int:response_id>/agree", methods=["POST"])
@blp.arguments(AgreeIn)
@blp.response(200, ResponseOut)
def agree(body: dict[str, Any], slug: str, response_id: int) -> dict[str, Any]:
    access = scheme_access(slug, write=True)
    agreed = responses.agree(access, response_id, minutes=body["minutes"], on=body["on"])
    return _response(access, agreed)


def _exchange(response: ListingResponse) -> dict[str, Any]:
    return {
        "status": response.status,
        "transaction_id": response.transaction_id,
        "listing_id": response.listing_id,
        "response_id": response.id,
        "minutes": response.minutes,
    }


@blp.route("/responses/<int:response_id>/confirm", methods=["POST"])
@idempotent
@blp.arguments(ConfirmIn)
@blp.response(201, ExchangeOut)
def confirm(body: dict[str, Any], slug: str, response_id: int) -> dict[str, Any]:
    access = scheme_access(slug, write=True)
    return _exchange(exchanges.confirm(access, response_id, minutes=body["minutes"]))


@blp.route("/responses/<int:response_id>/decline", methods=["POST"])
@blp.response(200, ResponseOut)
def decline(slug: str, response_id: int) -> dict[str, Any]:
    access = scheme_access(slug, write=True)
    return _response(access, responses.end_response(access, response_id, outcome="declined"))


@blp.route("/responses/<int:response_id>/withdraw", methods=["POST"])
@blp.response(200, ResponseOut)
def withdraw(slug: str, response_id: int) -> dict[str, Any]:
    access = scheme_access(slug, write=True)
    return _response(access, responses.end_response(access, response_id, outcome="withdrawn"))


@blp.route("/responses/<int:response_id>/dispute", methods=["POST"])
@blp.arguments(DisputeIn)
@blp.response(200, ResponseOut)
def dispute(body: dict[str, Any], slug: str, response_id: int) -> dict[str, Any]:
    access = scheme_access(slug, write=True)
    return _response(access, responses.dispute(access, response_id, reason=body["reason"]))


@blp.route("/responses/<int:response_id>/decide", methods=["POST"])
@idempotent
@blp.arguments(DecideIn)
@blp.response(201, ExchangeOut)
@blp.alt_response(200, schema=ExchangeOut, description="closed: nothing moved")
def decide(body: dict[str, Any], slug: str, response_id: int) -> Any:
    access = scheme_access(slug, write=True)
    responses.get_response(access, response_id)  # not a party, not a coordinator: 404
    scheme_access(slug, coordinator=True)
    decided = exchanges.decide(access, response_id, minutes=body["minutes"], note=body["note"])
    if decided.status == "closed":
        return _exchange(decided), 200
    return _exchange(decided)


# --- given and received ---------------------------------------------------------------


@blp.route("/members/<int:member_id>/given-received")
@blp.response(200, GivenReceivedOut)
def given_received(slug: str, member_id: int) -> dict[str, int]:
    access = scheme_access(slug)
    return exchanges.readable_given_received(access, member_id)
