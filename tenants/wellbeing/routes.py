"""Wellbeing survey API: a member's answers (their own, or a coordinator's entry for them)."""

from __future__ import annotations

from typing import Any

from timebank.platform.api.blueprint import Blueprint
from timebank.platform.api.pagination import keyset_page, page
from timebank.tenants.access import readable_member, scheme_access
from timebank.tenants.wellbeing import services
from timebank.tenants.wellbeing.models import SurveyResponse
from timebank.tenants.wellbeing.schemas import (
    ResponsePage,
    SurveyResponseIn,
    SurveyResponseOut,
    SurveyResponseQuery,
)

blp = Blueprint(
    "surveys",
    __name__,
    url_prefix="/api/v1/schemes/<slug>",
    description="Wellbeing surveys",
    credentials="scheme",
)


@blp.route("/surveys/responses", methods=["POST"])
@blp.arguments(SurveyResponseIn)
@blp.response(201, SurveyResponseOut)
def respond(body: dict[str, Any], slug: str) -> SurveyResponse:
    """Answers to the scheme's scale: the caller's own, or (coordinators) ``member_id``'s."""
    access = scheme_access(slug, write=True)
    return services.record_response(
        access.scheme,
        access.member,
        scale=body["scale"],
        answers=body["answers"],
        consent_to_report=body["consent_to_report"],
        member_id=body["member_id"],
        is_coordinator=access.is_coordinator,
        actor_user_id=access.user.id,
    )


@blp.route("/surveys/responses")
@blp.arguments(SurveyResponseQuery, location="query")
@blp.response(200, ResponsePage)
def responses(args: dict[str, Any], slug: str) -> dict[str, Any]:
    """A member's own responses; a coordinator's: everyone's, or ``?member_id=``'s."""
    access = scheme_access(slug)
    member_id = readable_member(
        access, args["member_id"], what="wellbeing answers", all_for_coordinators=True
    )
    rows, cursor = keyset_page(
        services.responses_query(member_id),
        keys=[SurveyResponse.id],
        limit=args["limit"],
        cursor=args["cursor"],
        descending=True,
        key_of=lambda response: [response.id],
    )
    return page(rows, cursor)
