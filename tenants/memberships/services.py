"""Members, roles and invitations (the scheme gate is :mod:`timebank.tenants.access`)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from flask import current_app
from sqlalchemy import Select, and_, func, select

from timebank.platform import audit, tenancy
from timebank.platform.api.errors import (
    Conflict,
    FieldError,
    Forbidden,
    Gone,
    NotFound,
    RuleViolation,
)
from timebank.platform.api.pagination import keyset_page
from timebank.platform.db import atomic, db
from timebank.platform.identity.models import User
from timebank.platform.identity.services import hash_token
from timebank.platform.mail import send_mail
from timebank.platform.schemes.models import Scheme
from timebank.tenants.access import Access, ensure_writable
from timebank.tenants.ledger.locking import lock_accounts
from timebank.tenants.ledger.models import Account
from timebank.tenants.ledger.services import member_account, open_member_account
from timebank.tenants.memberships.models import Invitation, Member
from timebank.tenants.policy.services import current_policy


def join_scheme(scheme: Scheme, user: User, *, role: str, actor_user_id: int | None) -> Member:
    """Make ``user`` an active member (inside the caller's unit of work)."""
    member = db.session.execute(
        select(Member).where(Member.user_id == user.id)
    ).scalar_one_or_none()
    if member is None:
        member = Member(scheme_id=scheme.id, user_id=user.id, role=role, status="active")
        db.session.add(member)
        db.session.flush()
    else:
        member.role = role
        member.status = "active"
        member.left_at = None
    open_member_account(scheme.id, member.id)
    audit.record(
        scheme.id,
        "member.joined",
        actor_user_id=actor_user_id,
        target=f"member:{member.id}",
        details={"user_id": user.id, "role": role},
    )
    return member


# --- invitations ------------------------------------------------------------

# Checks every new invitation must pass, registered at start-up by the layers
# above that own them (billing: 403 ``plan_limit_reached`` at the plan's limit).
invite_guards: list[Callable[[Scheme], None]] = []


def register_invite_guard(guard: Callable[[Scheme], None]) -> None:
    if guard not in invite_guards:
        invite_guards.append(guard)


@atomic
def invite(scheme: Scheme, *, email: str, role: str, actor: User) -> tuple[str, Invitation]:
    """Create a single-use invitation (only its hash is stored) and mail it.

    An invitation never changes an existing membership: inviting someone who
    is already a member (active or suspended) → 409 ``already_member``.
    """
    existing = db.session.execute(
        select(Member)
        .join(User, User.id == Member.user_id)
        .where(func.lower(User.email) == email.strip().lower(), Member.status != "left")
    ).scalar_one_or_none()
    if existing is not None:
        raise _already_member(scheme, existing, who=email.strip())
    for guard in invite_guards:
        guard(scheme)  # billing: 403 plan_limit_reached over the plan's member limit
    token = secrets.token_urlsafe(24)
    lifetime = timedelta(days=current_app.config["INVITATION_LIFETIME_DAYS"])
    invitation = Invitation(
        scheme_id=scheme.id,
        email=email.strip(),
        role=role,
        token_hash=hash_token(token),
        expires_at=datetime.now(UTC) + lifetime,
        invited_by=actor.id,
    )
    db.session.add(invitation)
    db.session.flush()
    audit.record(
        scheme.id,
        "member.invited",
        actor_user_id=actor.id,
        target=f"invitation:{invitation.id}",
        details={"email": invitation.email, "role": role},
    )
    link = f"{current_app.config['BASE_URL']}/invitations/{token}"
    send_mail(
        to=invitation.email,
        template="invitation",
        context={
            "scheme_name": scheme.name,
            "inviter": actor.name,
            "role": role,
            "link": link,
            "expires_at": invitation.expires_at,
        },
    )
    return token, invitation


def _invitation_for_token(token: str) -> Invitation:
    with tenancy.all_schemes():
        invitation = db.session.execute(
            select(Invitation).where(Invitation.token_hash == hash_token(token))
        ).scalar_one_or_none()
    if invitation is None:
        raise Gone("This invitation link is not valid.", code="invitation_invalid")
    return invitation


def preview_invitation(token: str) -> tuple[Invitation, Scheme]:
    invitation = _invitation_for_token(token)
    scheme = db.session.get(Scheme, invitation.scheme_id)
    assert scheme is not None
    return invitation, scheme


# Roles whose invitation makes no membership (a partner's ``partner_staff``): the domain
# that owns the role registers, at start-up, what accepting does; it answers the accept's body.
InvitationAcceptor = Callable[[Scheme, Invitation, User], dict[str, Any]]
invitation_acceptors: dict[str, InvitationAcceptor] = {}


def register_invitation_acceptor(role: str, acceptor: InvitationAcceptor) -> None:
    invitation_acceptors[role] = acceptor


def accept_invitation(token: str, user: User) -> tuple[dict[str, Any], Scheme]:
    """Join the invitation's scheme (or take the role it names); the accept's body.

    403 on another e-mail, 410 when used or expired.
    """
    invitation = _invitation_for_token(token)
    scheme = db.session.get(Scheme, invitation.scheme_id)
    assert scheme is not None
    tenancy.set_request_scheme(scheme.id)
    return _accept(scheme, invitation.id, user)


@atomic
def _accept(scheme: Scheme, invitation_id: int, user: User) -> tuple[dict[str, Any], Scheme]:
    invitation = usable_invitation(invitation_id, user)
    acceptor = invitation_acceptors.get(invitation.role)
    if acceptor is not None:
        ensure_writable(scheme)
        body = acceptor(scheme, invitation, user)
        invitation.accepted_at = datetime.now(UTC)
        return body, scheme
    existing = db.session.execute(
        select(Member).where(Member.user_id == user.id).with_for_update()
    ).scalar_one_or_none()
    if existing is not None and existing.status != "left":
        # Only someone who left may come back through an invitation: a suspended
        # member cannot lift their suspension, nor a coordinator change their role.
        raise _already_member(scheme, existing, who="You")
    ensure_writable(scheme)
    member = join_scheme(scheme, user, role=invitation.role, actor_user_id=invitation.invited_by)
    invitation.accepted_at = datetime.now(UTC)
    invitation.accepted_member_id = member.id
    body = {"member_id": member.id, "scheme": scheme.slug, "role": member.role}
    return {**body, "status": member.status}, scheme


def usable_invitation(invitation_id: int, user: User) -> Invitation:
    """The invitation, locked; 410 when used or expired, 403 for another address."""
    invitation = db.session.execute(
        select(Invitation).where(Invitation.id == invitation_id).with_for_update()
    ).scalar_one()
    expires_at = invitation.expires_at
    if expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    if invitation.accepted_at is not None or expires_at <= datetime.now(UTC):
        raise Gone("This invitation has been used or has expired.", code="invitation_invalid")
    if invitation.email.lower() != (user.email or "").lower():
        raise Forbidden(
            "This invitation was sent to another e-mail address.", code="invitation_email_mismatch"
        )
    return invitation


def _already_member(scheme: Scheme, member: Member, *, who: str) -> Conflict:
    verb = "are" if who == "You" else "is"
    change = (
        "Your membership stays as it is."
        if who == "You"
        else "Their membership stays as it is; change a role or status from the member list."
    )
    state = " (suspended)" if member.status == "suspended" else ""
    return Conflict(
        f"{who} {verb} already a member of {scheme.name}{state}. {change}", code="already_member"
    )


# --- the directory and changes ----------------------------------------------


def directory_names(access: Access) -> str:
    """How names are shown to this caller: ``full``, ``first_names`` (or 403 ``hidden``)."""
    if access.is_coordinator:
        return "full"
    mode: str = current_policy(access.scheme)["privacy"]["member_directory"]
    if mode == "hidden":
        raise Forbidden("This scheme keeps its member list private.", code="directory_hidden")
    return mode


def display_name(name: str, mode: str) -> str:
    if mode == "first_names":
        return name.split()[0] if name.split() else name
    return name


def members_query(*, include_left: bool = False) -> Any:
    statement = select(Member, User.name, User.email).join(User, User.id == Member.user_id)
    if not include_left:
        statement = statement.where(Member.status != "left")
    return statement


def coordinators_to_mail(scheme_id: int) -> list[tuple[str, str]]:
    """``(email, name)`` of the scheme's active coordinators, for a mail about the scheme."""
    with tenancy.scheme_context(scheme_id):
        rows = db.session.execute(
            select(User.email, User.name)
            .join(Member, Member.user_id == User.id)
            .where(Member.role == "coordinator", Member.status == "active")
            .order_by(User.id)
        ).all()
    return [(email, name) for email, name in rows]


def coordinator_count() -> int:
    return int(
        db.session.execute(
            select(func.count())
            .select_from(Member)
            .where(Member.role == "coordinator", Member.status == "active")
        ).scalar_one()
    )


@atomic
def update_member(
    scheme: Scheme,
    member_id: int,
    changes: dict[str, Any],
    *,
    actor: User,
) -> Member:
    """Change role, status or a member's own balance limits (``None`` → policy default)."""
    member = db.session.execute(
        select(Member).where(Member.id == member_id).with_for_update()
    ).scalar_one_or_none()
    if member is None or member.status == "left":
        raise NotFound("No member with this id in this scheme.")
    before = {"role": member.role, "status": member.status}
    losing_coordinator = member.is_coordinator and (
        changes.get("role", member.role) != "coordinator"
        or changes.get("status", member.status) != "active"
    )
    if losing_coordinator:
        # Lock every coordinator row so two demotions cannot both pass the check.
        db.session.execute(
            select(Member.id).where(Member.role == "coordinator").with_for_update()
        ).all()
        if coordinator_count() <= 1:
            raise RuleViolation(
                "A scheme needs at least one active coordinator: appoint another first.",
                code="last_coordinator",
            )
    if "role" in changes:
        member.role = changes["role"]
    if "status" in changes:
        member.status = changes["status"]
    if "min_balance" in changes or "max_balance" in changes:
        locked = lock_accounts(scheme.id, member_ids=(member.id,))
        account = locked.of_member(member.id)
        assert account is not None
        set_account_limits(account, changes)
    audit.record(
        scheme.id,
        "member.updated",
        actor_user_id=actor.id,
        target=f"member:{member.id}",
        details={"before": before, "changes": changes},
    )
    return member


def set_account_limits(account: Account, changes: dict[str, Any]) -> None:
    low = changes.get("min_balance", account.min_balance)
    high = changes.get("max_balance", account.max_balance)
    if low is not None and high is not None and low > high:
        raise FieldError("min_balance", "Must not be above max_balance.")
    if low is not None and account.balance < low:
        raise FieldError(
            "min_balance",
            f"The member's balance ({account.balance} minutes) is already below this limit.",
        )
    if high is not None and account.balance > high:
        raise FieldError(
            "max_balance",
            f"The member's balance ({account.balance} minutes) is already above this limit.",
        )
    account.min_balance = low
    account.max_balance = high


def memberships_of(user: User) -> list[dict[str, Any]]:
    """Every scheme the user belongs to, with role, status and balance (cross-tenant read)."""
    with tenancy.all_schemes():
        rows = db.session.execute(
            select(Member, Scheme, Account.balance)
            .join(Scheme, Scheme.id == Member.scheme_id)
            .outerjoin(
                Account,
                (Account.scheme_id == Member.scheme_id) & (Account.member_id == Member.id),
            )
            .where(Member.user_id == user.id, Member.status != "left")
            .order_by(Scheme.name)
        ).all()
    return [
        {
            "scheme": scheme.slug,
            "scheme_name": scheme.name,
            "scheme_status": scheme.status,
            "template": scheme.template,
            "role": member.role,
            "status": member.status,
            "member_id": member.id,
            "balance": balance or 0,
        }
        for member, scheme, balance in rows
    ]


def scheme_page_of(
    user: User, *, every_scheme: bool, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the schemes the user belongs to (left ones aside), oldest first.

    ``every_scheme`` (operators only: the caller checks) lists every scheme on the
    platform, with the user's role where they have one (cross-tenant read).
    """
    mine = and_(Member.scheme_id == Scheme.id, Member.user_id == user.id, Member.status != "left")
    both = select(Scheme, Member)
    statement = cast(
        "Select[Any]", both.outerjoin(Member, mine) if every_scheme else both.join(Member, mine)
    )
    with tenancy.all_schemes():
        rows, next_cursor = keyset_page(
            statement,
            keys=[Scheme.id],
            limit=limit,
            cursor=cursor,
            descending=False,
            key_of=lambda row: [row[0].id],
            scalars=False,
        )
    items = [
        {
            "slug": scheme.slug,
            "name": scheme.name,
            "template": scheme.template,
            "status": scheme.status,
            "role": member.role if member else None,
            "member_status": member.status if member else None,
        }
        for scheme, member in rows
    ]
    return items, next_cursor


def describe_member(member: Member) -> dict[str, Any]:
    user = db.session.get(User, member.user_id)
    account = member_account(member.id)
    return {
        "member_id": member.id,
        "name": user.name if user else "",
        "email": user.email if user else "",
        "role": member.role,
        "status": member.status,
        "balance": account.balance,
        "min_balance": account.min_balance,
        "max_balance": account.max_balance,
    }
