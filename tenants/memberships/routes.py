"""Members API: invitations, the directory, and coordinators' changes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_

from timebank.platform.api.blueprint import Blueprint
from timebank.platform.api.pagination import keyset_page, page
from timebank.platform.api.schemas import PageQuery
from timebank.platform.identity.auth import require_user
from timebank.tenants.access import scheme_access
from timebank.tenants.ledger.models import Account
from timebank.tenants.memberships import services
from timebank.tenants.memberships.models import Member
from timebank.tenants.memberships.schemas import (
    AcceptedOut,
    InvitationCreate,
    InvitationOut,
    MemberOut,
    MemberPage,
    MemberPatch,
)

blp = Blueprint(
    "members",
    __name__,
    url_prefix="/api/v1/schemes/<slug>",
    description="Members",
    credentials="scheme",
)
invitations_blp = Blueprint(
    "invitations", __name__, url_prefix="/api/v1/invitations", description="Invitations"
)


@blp.route("/invitations", methods=["POST"])
@blp.arguments(InvitationCreate)
@blp.response(201, InvitationOut)
def invite(body: dict[str, Any], slug: str) -> dict[str, Any]:
    access = scheme_access(slug, write=True, coordinator=True)
    token, invitation = services.invite(
        access.scheme, email=body["email"], role=body["role"], actor=access.user
    )
    return {"token": token, "expires_at": invitation.expires_at}


@invitations_blp.route("/<token>/accept", methods=["POST"])
@invitations_blp.response(201, AcceptedOut)
def accept(token: str) -> dict[str, Any]:
    user = require_user()
    accepted, _scheme = services.accept_invitation(token, user)
    return accepted


@blp.route("/members")
@blp.arguments(PageQuery, location="query")
@blp.response(200, MemberPage)
def members(args: dict[str, Any], slug: str) -> dict[str, Any]:
    access = scheme_access(slug)
    mode = services.directory_names(access)
    statement = (
        services.members_query()
        .add_columns(Account.balance)
        .outerjoin(
            Account, and_(Account.scheme_id == Member.scheme_id, Account.member_id == Member.id)
        )
    )
    rows, cursor = keyset_page(
        statement,
        keys=[Member.id],
        limit=args["limit"],
        cursor=args["cursor"],
        descending=False,
        key_of=lambda row: [row[0].id],
        scalars=False,
    )
    items = []
    for member, name, email, balance in rows:
        item: dict[str, Any] = {
            "member_id": member.id,
            "name": services.display_name(name, mode),
            "role": member.role,
            "status": member.status,
        }
        if access.is_coordinator:
            item.update(email=email, balance=balance or 0)
        items.append(item)
    return page(items, cursor)


@blp.route("/members/<int:member_id>", methods=["PATCH"])
@blp.arguments(MemberPatch)
@blp.response(200, MemberOut)
def update_member(body: dict[str, Any], slug: str, member_id: int) -> dict[str, Any]:
    access = scheme_access(slug, write=True, coordinator=True)
    member = services.update_member(access.scheme, member_id, body, actor=access.user)
    return services.describe_member(member)
