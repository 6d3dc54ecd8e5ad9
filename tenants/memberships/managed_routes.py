"""API of members without e-mail, sign-in cards, guardians, consent and checks."""

from __future__ import annotations

from typing import Any

from timebank.platform.api.blueprint import Blueprint
from timebank.platform.identity.auth import require_user
from timebank.platform.ratelimit import limit_card_sign_in
from timebank.tenants.access import guardian_scheme, scheme_access
from timebank.tenants.memberships import checks, guardians, managed
from timebank.tenants.memberships.managed_schemas import (
    CardIn,
    CardOut,
    CardTokenIn,
    CheckIn,
    CheckOut,
    ConsentIn,
    ConsentOut,
    EmailIn,
    ManagedMemberIn,
    ManagedMemberOut,
)
from timebank.tenants.memberships.schemas import InvitationOut
from timebank.tenants.policy import minors

blp = Blueprint(
    "managed_members",
    __name__,
    url_prefix="/api/v1/schemes/<slug>/members",
    description="Members without e-mail, cards, guardians and checks",
    credentials="scheme",
    guardians=("consent",),
)
cards_blp = Blueprint(
    "card_tokens",
    __name__,
    url_prefix="/api/v1/card-tokens",
    description="Sign-in cards",
    public=("create_card_token",),
)


@blp.route("", methods=["POST"])
@blp.arguments(ManagedMemberIn)
@blp.response(201, ManagedMemberOut)
def add_member(body: dict[str, Any], slug: str) -> dict[str, Any]:
    """Add a member with a name and no e-mail (no login of their own)."""
    access = scheme_access(slug, write=True, coordinator=True)
    member, invitation = managed.enrol_managed_member(
        access.scheme,
        name=body["name"],
        actor=access.user,
        date_of_birth=body["date_of_birth"],
        age_band=body["age_band"],
        guardian_email=body["guardian_email"],
    )
    return {
        "member_id": member.id,
        "name": body["name"].strip(),
        "role": member.role,
        "status": member.status,
        "managed": True,
        "age_band": minors.age_band(member),
        "guardian_invitation": (
            {"token": invitation[0], "expires_at": invitation[1].expires_at} if invitation else None
        ),
    }


@blp.route("/<int:member_id>/card", methods=["POST"])
@blp.arguments(CardIn)
@blp.response(201, CardOut)
def issue_card(body: dict[str, Any], slug: str, member_id: int) -> dict[str, Any]:
    """A new sign-in card (code + PIN) for a managed member; the old card stops working."""
    access = scheme_access(slug, write=True, coordinator=True)
    code = managed.issue_card(access.scheme, member_id, pin=body["pin"], actor=access.user)
    return {"card_code": code}


@cards_blp.route("", methods=["POST"])
@limit_card_sign_in
@cards_blp.arguments(CardTokenIn)
@cards_blp.response(201)
def create_card_token(body: dict[str, Any]) -> dict[str, Any]:
    """An API token acting as the card's member in that scheme only."""
    token, expires_at = managed.card_token(body["card_code"], body["pin"])
    return {"token": token, "expires_at": expires_at.isoformat()}


@blp.route("/<int:member_id>/link-email", methods=["POST"])
@blp.arguments(EmailIn)
@blp.response(201, InvitationOut)
def link_email(body: dict[str, Any], slug: str, member_id: int) -> dict[str, Any]:
    """Invite an address to take over a managed membership with its history."""
    access = scheme_access(slug, write=True, coordinator=True)
    token, invitation = managed.link_email(
        access.scheme, member_id, email=body["email"], actor=access.user
    )
    return {"token": token, "expires_at": invitation.expires_at}


@blp.route("/<int:member_id>/guardians", methods=["POST"])
@blp.arguments(EmailIn)
@blp.response(201, InvitationOut)
def invite_guardian(body: dict[str, Any], slug: str, member_id: int) -> dict[str, Any]:
    """Invite a child's guardian (not a member of the scheme)."""
    access = scheme_access(slug, write=True, coordinator=True)
    token, invitation = guardians.invite_guardian(
        access.scheme, member_id, email=body["email"], actor=access.user
    )
    return {"token": token, "expires_at": invitation.expires_at}


@blp.route("/<int:member_id>/consent", methods=["POST"])
@blp.arguments(ConsentIn)
@blp.response(200, ConsentOut)
def consent(body: dict[str, Any], slug: str, member_id: int) -> dict[str, Any]:
    """The child's guardian gives or withdraws consent (404 for anyone else)."""
    scheme = guardian_scheme(slug, member_id)
    row = guardians.record_consent(scheme, member_id, user=require_user(), given=body["given"])
    return {"member_id": member_id, "consent": "given" if row.given else "withdrawn", "at": row.at}


@blp.route("/<int:member_id>/check", methods=["PUT"])
@blp.arguments(CheckIn)
@blp.response(200, CheckOut)
def record_check(body: dict[str, Any], slug: str, member_id: int) -> dict[str, Any]:
    """Record or renew an adult's safeguarding check."""
    access = scheme_access(slug, write=True, coordinator=True)
    check = checks.record_check(
        access.scheme,
        member_id,
        kind=body["kind"],
        number=body["number"],
        expires_on=body["expires_on"],
        actor=access.user,
    )
    return checks.describe_check(check)
