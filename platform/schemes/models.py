"""The scheme registry (a platform table: one row per tenant)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column

from timebank.platform.db import UTCDateTime, db, utcnow_column

TEMPLATES = ("surgery", "school", "youth_court", "community")
STATUSES = ("active", "suspended")


class Scheme(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "schemes"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    template: Mapped[str] = mapped_column(String(20))
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/London")
    status: Mapped[str] = mapped_column(String(20), default="active", server_default="active")
    suspended_reason: Mapped[str | None] = mapped_column(String(500))
    plan: Mapped[str] = mapped_column(String(20), default="free", server_default="free")
    policy_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = utcnow_column()
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The address the scheme was started from (trusted hosts only, platform/links.py):
    # links in mails that scheduled work sends for it, when BASE_URL is unset.
    link_base: Mapped[str | None] = mapped_column(String(300))
    # A sandbox: generated people and history, mail only to its coordinator, never
    # billed, left out of operator figures; deleted after 30 days unused.
    sandbox: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        CheckConstraint("status IN ('active', 'suspended')", name="status"),
        CheckConstraint(
            "template IN ('surgery', 'school', 'youth_court', 'community')", name="template"
        ),
    )

    @property
    def is_suspended(self) -> bool:
        return self.status == "suspended"
