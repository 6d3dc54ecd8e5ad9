"""Users and API tokens (platform tables: a user may belong to many schemes)."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from timebank.platform.db import UTCDateTime, db, utcnow_column


class User(UserMixin, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(db.Integer, "sqlite"), primary_key=True
    )
    # ``None``: a managed member's user (a scheme's member with no e-mail and no password,
    # who can never sign in with one; see tenants/memberships/managed.py).
    email: Mapped[str | None] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_operator: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    is_disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # Bumped on password change so that old sessions stop working.
    session_version: Mapped[int] = mapped_column(default=1, server_default="1")
    created_at: Mapped[datetime] = utcnow_column()

    __table_args__ = (Index("uq_users_email_lower", func.lower(email), unique=True),)

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return not self.is_disabled


class ApiToken(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(db.Integer, "sqlite"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = utcnow_column()
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
