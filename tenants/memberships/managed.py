"""Members without an e-mail address, and their sign-in cards.

A managed member is an ordinary membership whose user has no e-mail and no
password (``password_hash`` is ``!``, which no password ever matches): every
path that reads members (statements, lists, exports, expiry, billing counts,
claims and awards on their behalf) treats them as any member; mails to them are
not sent (``send_mail`` skips a missing address). Each managed user belongs to
exactly one scheme, so a session or token of theirs acts in that scheme only.

A sign-in card is a short code and a PIN set by a coordinator. The code is
looked up by its SHA-256 (before the scheme is known), the PIN is hashed with
argon2 like a password. A new card revokes the old one at once; ten wrong PINs
lock the card (423 ``card_locked``) until a coordinator issues a new one.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select, update

from timebank.platform import audit, tenancy
from timebank.platform.api.errors import ApiError, FieldError, RuleViolation, Unauthorized
from timebank.platform.db import atomic, db
from timebank.platform.identity.models import User
from timebank.platform.identity.passwords import hash_password, verify_password
from timebank.platform.identity.services import hash_token, issue_token
from timebank.platform.schemes.models import Scheme
from timebank.tenants.access import ensure_writable, get_member
from timebank.tenants.memberships.attach import is_managed
from timebank.tenants.memberships.models import AGE_BANDS, Invitation, Member, MemberCard
from timebank.tenants.memberships.services import invite, invite_guards, join_scheme

NO_PASSWORD = "!"  # not an argon2 hash: verify_password is always False
MAX_WRONG_PINS = 10
# No 0/O, 1/I/L: read off a card by a child or an elderly patient.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8


@atomic
def add_managed_member(
    scheme: Scheme,
    *,
    name: str,
    actor: User,
    date_of_birth: date | None = None,
    age_band: str | None = None,
) -> Member:
    """A member with a name and no e-mail: a user who can never sign in by password."""
    ensure_writable(scheme)
    for guard in invite_guards:
        guard(scheme)  # billing: 403 plan_limit_reached over the plan's member limit
    user = User(email=None, name=name.strip(), password_hash=NO_PASSWORD)
    db.session.add(user)
    db.session.flush()
    member = join_scheme(scheme, user, role="member", actor_user_id=actor.id)
    member.date_of_birth = date_of_birth
    member.age_band = age_band
    audit.record(
        scheme.id,
        "member.added_without_email",
        actor_user_id=actor.id,
        target=f"member:{member.id}",
        details={"age_band": age_band, "date_of_birth_given": date_of_birth is not None},
    )
    return member


@atomic
def enrol_managed_member(
    scheme: Scheme,
    *,
    name: str,
    actor: User,
    date_of_birth: date | None = None,
    age_band: str | None = None,
    guardian_email: str | None = None,
) -> tuple[Member, tuple[str, Invitation] | None]:
    """Add a managed member and, when named, invite their guardian in the same unit of work."""
    member = add_managed_member(
        scheme, name=name, actor=actor, date_of_birth=date_of_birth, age_band=age_band
    )
    if not guardian_email:
        return member, None
    invitation = invite(
        scheme, email=guardian_email, role="guardian", actor=actor, member_id=member.id
    )
    return member, invitation


def managed_row_problems(
    *, name: str, role: str, date_of_birth: str, age_band: str
) -> list[tuple[str, str]]:
    """An import row without e-mail (``(field, message)`` pairs): a name, a member (not coordinator), one valid age at most."""
    problems: list[tuple[str, str]] = []
    if not name:
        problems.append(
            ("name", "No e-mail and no name: a member without e-mail needs at least a name.")
        )
    if role == "coordinator":
        problems.append(("role", "A coordinator needs an e-mail address to sign in."))
    if date_of_birth:
        try:
            born = date.fromisoformat(date_of_birth)
            if born > date.today():
                problems.append(("date_of_birth", "Must be a date in the past."))
        except ValueError:
            problems.append(("date_of_birth", "Must be a date written YYYY-MM-DD."))
    if age_band and age_band not in AGE_BANDS:
        problems.append(("age_band", f"Must be one of: {', '.join(AGE_BANDS)}."))
    if date_of_birth and age_band:
        problems.append(("age_band", "Give a date of birth or an age band, not both."))
    return problems


def managed_names(names: list[str]) -> set[str]:
    """Of these (lower-case) names, those of current members without an e-mail address."""
    if not names:
        return set()
    return set(
        db.session.execute(
            select(func.lower(User.name))
            .join(Member, Member.user_id == User.id)
            .where(
                Member.status != "left",
                User.email.is_(None),
                func.lower(User.name).in_(names),
            )
        ).scalars()
    )


def managed_member(member_id: int) -> Member:
    """A managed member of the current scheme; 404, or 422 ``not_managed``."""
    member = get_member(member_id)
    if member.status == "left":
        raise FieldError("member_id", "This member has left the scheme.")
    if not is_managed(member):
        raise RuleViolation(
            "This member signs in with their own e-mail address; cards are for members "
            "without one.",
            code="not_managed",
        )
    return member


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


@atomic
def issue_card(scheme: Scheme, member_id: int, *, pin: str, actor: User) -> str:
    """A new card (its code, shown once) for a managed member; the old card stops working."""
    ensure_writable(scheme)
    member = managed_member(member_id)
    now = datetime.now(UTC)
    db.session.execute(
        update(MemberCard)
        .where(MemberCard.member_id == member.id, MemberCard.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    code = _new_code()
    db.session.add(
        MemberCard(
            scheme_id=scheme.id,
            member_id=member.id,
            code_hash=hash_token(code),
            pin_hash=hash_password(pin),
            failed_attempts=0,
            created_by=actor.id,
        )
    )
    db.session.flush()
    audit.record(
        scheme.id, "member.card_issued", actor_user_id=actor.id, target=f"member:{member.id}"
    )
    return code


class CardLocked(ApiError):
    status = 423
    code = "card_locked"


def _wrong() -> Unauthorized:
    return Unauthorized("The card code or PIN is not right.", code="invalid_credentials")


def card_user(code: str, pin: str) -> tuple[User, Scheme]:
    """The managed user a card and PIN sign in as. 401 ``invalid_credentials``, 423
    ``card_locked``; a wrong PIN is counted (committed even though the call fails)."""
    with tenancy.all_schemes():
        card = db.session.execute(
            select(MemberCard).where(MemberCard.code_hash == hash_token(normalise_code(code)))
        ).scalar_one_or_none()
    if card is None or card.revoked_at is not None:
        verify_password(None, pin)  # same cost as a wrong PIN
        raise _wrong()
    if card.locked_at is not None:
        raise CardLocked(
            "This card is locked after too many wrong PINs; a coordinator can print a new one."
        )
    with tenancy.scheme_context(card.scheme_id):
        if not verify_password(card.pin_hash, pin):
            locked = _count_wrong_pin(card.scheme_id, card.id)
            if locked:
                raise CardLocked(
                    "Too many wrong PINs: this card is now locked; a coordinator can print "
                    "a new one."
                )
            raise _wrong()
        member = db.session.get(Member, (card.scheme_id, card.member_id))
        scheme = db.session.get(Scheme, card.scheme_id)
        user = db.session.get(User, member.user_id) if member else None
        if member is None or scheme is None or user is None or user.is_disabled:
            raise _wrong()
        if member.status == "left" or user.email is not None:
            raise _wrong()
        _reset_wrong_pins(card.scheme_id, card.id)
    return user, scheme


@atomic
def _count_wrong_pin(scheme_id: int, card_id: int) -> bool:
    card = db.session.execute(
        select(MemberCard).where(MemberCard.id == card_id).with_for_update()
    ).scalar_one()
    card.failed_attempts += 1
    if card.failed_attempts >= MAX_WRONG_PINS and card.locked_at is None:
        card.locked_at = datetime.now(UTC)
    return card.locked_at is not None


@atomic
def _reset_wrong_pins(scheme_id: int, card_id: int) -> None:
    db.session.execute(
        update(MemberCard)
        .where(MemberCard.id == card_id, MemberCard.failed_attempts > 0)
        .values(failed_attempts=0)
    )


def card_token(code: str, pin: str) -> tuple[str, datetime]:
    """An API token acting as the card's member (in that scheme only: it is their only one)."""
    user, _scheme = card_user(code, pin)
    return issue_token(user)


def card_state(member_id: int) -> dict[str, Any] | None:
    """The member's current card (never its code): issued, locked; ``None`` without one."""
    card = db.session.execute(
        select(MemberCard)
        .where(MemberCard.member_id == member_id, MemberCard.revoked_at.is_(None))
        .order_by(MemberCard.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if card is None:
        return None
    return {"issued_at": card.created_at, "locked": card.locked_at is not None}


def link_email(
    scheme: Scheme, member_id: int, *, email: str, actor: User
) -> tuple[str, Invitation]:
    """Invite an address to take over a managed membership, with its history."""
    ensure_writable(scheme)
    member = managed_member(member_id)
    return invite(scheme, email=email, role="member", actor=actor, member_id=member.id)
