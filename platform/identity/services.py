"""Sign-up, sign-in and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from timebank.platform.api.errors import Conflict, Unauthorized
from timebank.platform.db import atomic, db
from timebank.platform.identity.models import ApiToken, User
from timebank.platform.identity.passwords import hash_password, needs_rehash, verify_password


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


def load_user_from_session(session_id: str) -> User | None:
    user_id, _, version = session_id.partition(":")
    if not user_id.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or str(user.session_version) != version or user.is_disabled:
        return None
    return user
