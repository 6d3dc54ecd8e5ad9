"""A child's guardians: invited by a coordinator, they give or withdraw consent.

A guardian is a user with a row in ``guardians`` (one per child), never a row in
``members``: they stay out of member lists, billing counts and directories, and
read only their child's balance and transactions (``tenants.access.read_subject``).
Consent is recorded with its time and the version of the wording the guardian
saw; the latest row counts (``tenants.policy.minors``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from timebank.platform import audit, tenancy
from timebank.platform.api.errors import NotFound
from timebank.platform.db import atomic, db
from timebank.platform.identity.models import User
from timebank.platform.schemes.models import Scheme
from timebank.tenants.access import ensure_writable, get_member
from timebank.tenants.ledger.models import Account
from timebank.tenants.memberships.models import Guardian, GuardianConsent, Invitation, Member
from timebank.tenants.memberships.services import (
    invite,
    preview_invitation,
    usable_invitation,
)
from timebank.tenants.policy import minors
from timebank.tenants.policy.services import current_policy

# Shown beside the buttons; a new wording gets a new version so records say what was agreed.
CONSENT_WORDING_VERSION = "2026-12"
CONSENT_WORDING = (
    "I am this child's parent or guardian. I agree that they take part in this scheme: "
    "they may be credited for the activities the scheme's coordinators approve, and the "
    "scheme keeps a record of their hours and credits. I can withdraw this consent at any "
    "time on this page."
)


def invite_guardian(
    scheme: Scheme, member_id: int, *, email: str, actor: User
) -> tuple[str, Invitation]:
    """Invite ``email`` to become the guardian of member ``member_id`` (404 otherwise)."""
    ensure_writable(scheme)
    child = get_member(member_id)
    if child.status == "left":
        raise NotFound("No member with this id in this scheme.")
    return invite(scheme, email=email, role="guardian", actor=actor, member_id=child.id)


def accept_guardian_invitation(token: str, user: User) -> tuple[Guardian, Scheme]:
    """Become the guardian the invitation names (403 another address, 410 used/expired)."""
    invitation, scheme = preview_invitation(token)
    tenancy.set_request_scheme(scheme.id)
    return _accept(scheme, invitation.id, user), scheme


@atomic
def _accept(scheme: Scheme, invitation_id: int, user: User) -> Guardian:
    invitation = usable_invitation(invitation_id, user)
    ensure_writable(scheme)
    assert invitation.member_id is not None
    guardian = db.session.execute(
        select(Guardian).where(
            Guardian.user_id == user.id, Guardian.member_id == invitation.member_id
        )
    ).scalar_one_or_none()
    if guardian is None:
        guardian = Guardian(scheme_id=scheme.id, user_id=user.id, member_id=invitation.member_id)
        db.session.add(guardian)
        db.session.flush()
    invitation.accepted_at = datetime.now(UTC)
    audit.record(
        scheme.id,
        "guardian.joined",
        actor_user_id=user.id,
        target=f"member:{invitation.member_id}",
        details={"guardian_id": guardian.id},
    )
    return guardian


def guardian_of(user: User, member_id: int) -> Guardian:
    """The caller's guardianship of ``member_id`` in the current scheme, or 404."""
    guardian = db.session.execute(
        select(Guardian).where(Guardian.user_id == user.id, Guardian.member_id == member_id)
    ).scalar_one_or_none()
    if guardian is None:
        raise NotFound("No member with this id in this scheme.")
    return guardian


@atomic
def record_consent(scheme: Scheme, member_id: int, *, user: User, given: bool) -> GuardianConsent:
    """Give or withdraw consent for the caller's child (404 for anyone else's)."""
    ensure_writable(scheme)
    guardian = guardian_of(user, member_id)
    row = GuardianConsent(
        scheme_id=scheme.id,
        member_id=member_id,
        guardian_id=guardian.id,
        given=given,
        wording_version=CONSENT_WORDING_VERSION,
    )
    db.session.add(row)
    db.session.flush()
    audit.record(
        scheme.id,
        "guardian.consent_given" if given else "guardian.consent_withdrawn",
        actor_user_id=user.id,
        target=f"member:{member_id}",
        details={"wording_version": CONSENT_WORDING_VERSION},
    )
    return row


def children_of(user: User) -> list[dict[str, Any]]:
    """Every child the user is a guardian of, in every scheme (cross-tenant read)."""
    with tenancy.all_schemes():
        rows = db.session.execute(
            select(Guardian, Member, User.name, Scheme, Account.balance)
            .join(
                Member,
                (Member.scheme_id == Guardian.scheme_id) & (Member.id == Guardian.member_id),
            )
            .join(User, User.id == Member.user_id)
            .join(Scheme, Scheme.id == Guardian.scheme_id)
            .outerjoin(
                Account,
                (Account.scheme_id == Member.scheme_id) & (Account.member_id == Member.id),
            )
            .where(Guardian.user_id == user.id)
            .order_by(Scheme.name, User.name)
        ).all()
    children = []
    for _guardian, member, name, scheme, balance in rows:
        with tenancy.scheme_context(scheme.id):
            consent = minors.consent_state(member, current_policy(scheme))
        children.append(
            {
                "member_id": member.id,
                "name": name,
                "scheme": scheme,
                "balance": balance or 0,
                "status": member.status,
                "consent": consent,
                "age_band": minors.age_band(member),
            }
        )
    return children


def guardians_of_member(member_id: int) -> list[str]:
    """Names of a child's guardians (the coordinator's member page)."""
    return list(
        db.session.execute(
            select(User.name)
            .join(Guardian, Guardian.user_id == User.id)
            .where(Guardian.member_id == member_id)
            .order_by(User.name)
        ).scalars()
    )
