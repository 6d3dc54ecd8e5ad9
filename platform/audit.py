"""The audit trail: who changed what in a scheme, and when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from timebank.platform.db import TenantScoped, db, utcnow_column


class AuditEvent(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "audit_events"

    actor_user_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(60))
    target: Mapped[str | None] = mapped_column(String(120))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = utcnow_column()


def record(
    scheme_id: int,
    action: str,
    *,
    actor_user_id: int | None,
    target: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit entry to the current unit of work."""
    event = AuditEvent(
        scheme_id=scheme_id,
        actor_user_id=actor_user_id,
        action=action,
        target=target,
        details=details or {},
    )
    db.session.add(event)
    return event
