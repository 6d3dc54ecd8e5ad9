"""Sign-up, sign-in and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from timebank.platform.api.errors import Conflict, FieldError, Unauthorized
from timebank.platform.db import atomic, db
from timebank.platform.identity.models import ApiToken, User
from timebank.platform.identity.passwords import hash_password, needs_rehash, verify_password
from timebank.platform.identity.schemas import password_problem
from timebank.platform.ratelimit import note_wrong_password


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalise_email(email: str) -> str:
    return email.strip()


def find_user_by_email(email: str) -> User | None:
    return db.session.execute(
        select(User).where(func.lower(User.email) == normalise_email(email).lower())
    ).scalar_one_or_none()


@atomic
def register_user(*, email: str, password: str, name: str, is_operator: bool = False) -> User:
    """Create a user; raises ``Conflict(email_taken)`` whatever the letter case."""
    email = normalise_email(email)
    if find_user_by_email(email) is not None:
        raise Conflict("An account with this e-mail address already exists.", code="email_taken")
    user = User(
        email=email,
        name=name.strip(),
        password_hash=hash_password(password),
        is_operator=is_operator,
    )
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError as error:  # a concurrent sign-up with the same address
        raise Conflict(
            "An account with this e-mail address already exists.", code="email_taken"
        ) from error
    return user


def authenticate(email: str, password: str) -> User:
    """Return the user with these credentials or raise ``Unauthorized(invalid_credentials)``."""
    user = find_user_by_email(email)
    if user is None or user.is_disabled or not verify_password(user.password_hash, password):
        if user is None:
            verify_password(None, password)  # same cost as a wrong password
        raise Unauthorized(
            "The e-mail address or password is not right.", code="invalid_credentials"
        )
    if needs_rehash(user.password_hash):
        _rehash(user.id, password)
    return user


@atomic
def _rehash(user_id: int, password: str) -> None:
    db.session.execute(
        update(User).where(User.id == user_id).values(password_hash=hash_password(password))
    )


@atomic
def issue_token(user: User) -> tuple[str, datetime]:
    """Create an API token; only its hash is stored."""
    token = "tb_" + secrets.token_urlsafe(32)
    expires_at = datetime.now(UTC) + timedelta(days=current_app.config["TOKEN_LIFETIME_DAYS"])
    db.session.add(ApiToken(user_id=user.id, token_hash=hash_token(token), expires_at=expires_at))
    return token, expires_at


def user_for_token(token: str) -> User | None:
    row = db.session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == hash_token(token))
    ).first()
    if row is None:
        return None
    api_token, user = row
    return user if token_admits(user, api_token.expires_at, api_token.revoked_at) else None


def token_admits(user: User, expires_at: datetime, revoked_at: datetime | None) -> bool:
    """Whether a token found for ``user`` still lets them in."""
    if expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    return revoked_at is None and expires_at > datetime.now(UTC) and not user.is_disabled


@atomic
def revoke_token(token: str) -> bool:
    result = db.session.execute(
        update(ApiToken)
        .where(ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


@atomic
def revoke_all_tokens(user_id: int) -> int:
    """Revoke every API token of the user that still works; return how many."""
    result = db.session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


@atomic
def end_web_sessions(user: User) -> User:
    """End every web session of the user (each cookie carries the session version)."""
    db.session.refresh(user, with_for_update=True)
    user.session_version += 1
    return user


@atomic
def sign_out_everywhere(user: User) -> User:
    """End every web session and revoke every API token of the user."""
    end_web_sessions(user)
    revoke_all_tokens(user.id)
    return user


@atomic
def set_password(user: User, password: str) -> User:
    """Store a new password; every web session and API token of the user ends with it.

    The caller signs the current browser in again if it should stay signed in.
    """
    problem = password_problem(password)
    if problem is not None:
        raise FieldError("password", problem)
    sign_out_everywhere(user)
    user.password_hash = hash_password(password)
    return user


@atomic
def change_password(user: User, *, current_password: str, password: str) -> User:
    """Change the password of a signed-in user who knows the current one.

    Raises a 422 on ``current_password`` when it is not right (the sign-in
    limits count it as a failed sign-in), on ``password`` when it is too short
    or too long.
    """
    if not verify_password(user.password_hash, current_password):
        note_wrong_password()
        raise FieldError("current_password", "This is not your current password.")
    return set_password(user, password)


def load_user_from_session(session_id: str) -> User | None:
    user_id, _, version = session_id.partition(":")
    if not user_id.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or str(user.session_version) != version or user.is_disabled:
        return None
    return user
