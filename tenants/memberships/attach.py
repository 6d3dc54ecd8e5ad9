"""A managed member gets an e-mail address: their membership moves to a real user.

The membership row keeps its id, so its account, claims, statements and all
its history carry over; only ``members.user_id`` changes. The managed user
(no e-mail, no password) is disabled and its sign-in cards revoked, so a card
session ends at once and the card can never sign anyone in again.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update

from timebank.platform import audit
from timebank.platform.api.errors import Conflict, Gone
from timebank.platform.db import db
from timebank.platform.identity.models import ApiToken, User
from timebank.platform.schemes.models import Scheme
from timebank.tenants.memberships.models import Invitation, Member, MemberCard


def is_managed(member: Member) -> bool:
    """A member whose user has no e-mail address (and so no password)."""
    user = db.session.get(User, member.user_id)
    return user is not None and user.email is None


def attach_membership(
    scheme: Scheme, member_id: int, user: User, *, invitation: Invitation
) -> Member:
    """Give the managed membership ``member_id`` to ``user`` (inside the caller's unit of work).

    410 ``invitation_invalid`` when the membership has left or is no longer managed.
    """
    member = db.session.execute(
        select(Member).where(Member.id == member_id).with_for_update()
    ).scalar_one_or_none()
    if member is None or member.status == "left" or not is_managed(member):
        raise Gone(
            "This invitation is about a membership that has changed since; ask the "
            "coordinator for a new one.",
            code="invitation_invalid",
        )
    earlier = db.session.execute(
        select(Member.id).where(Member.user_id == user.id, Member.id != member.id)
    ).first()
    if earlier is not None:  # a membership that left: one user has one row per scheme
        raise Conflict(
            f"You have been a member of {scheme.name} before, so this membership cannot "
            "move to your account; ask the coordinator to rejoin you instead.",
            code="already_member",
        )
    managed_user_id = member.user_id
    member.user_id = user.id
    now = datetime.now(UTC)
    db.session.execute(
        update(MemberCard)
        .where(MemberCard.member_id == member.id, MemberCard.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    db.session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == managed_user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    db.session.execute(
        update(User)
        .where(User.id == managed_user_id)
        .values(is_disabled=True, session_version=User.session_version + 1)
    )
    db.session.flush()
    audit.record(
        scheme.id,
        "member.email_linked",
        actor_user_id=invitation.invited_by,
        target=f"member:{member.id}",
        details={"user_id": user.id, "invitation_id": invitation.id},
    )
    return member
