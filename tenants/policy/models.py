"""Versioned policy documents: every change is a new row, old ones stay readable."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from timebank.platform.db import TenantScoped, db, utcnow_column


class PolicyVersion(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "policy_versions"

    version: Mapped[int] = mapped_column(Integer)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    changes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    created_at: Mapped[datetime] = utcnow_column()

    __table_args__ = (UniqueConstraint("scheme_id", "version"),)
