"""Groups of members (a class, a house, any named group) and who is in each."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from timebank.platform.db import TenantScoped, db, tenant_fk, utcnow_column

GROUP_KINDS = ("class", "house", "other")


class Group(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "groups"

    name: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(10), default="other")
    created_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    created_at: Mapped[datetime] = utcnow_column()

    __table_args__ = (
        UniqueConstraint("scheme_id", "name"),
        CheckConstraint("kind IN ('class', 'house', 'other')", name="kind"),
    )


class GroupMember(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    """One member in one group (a member may be in a class and a house at once)."""

    __tablename__ = "group_members"

    group_id: Mapped[int] = mapped_column(BigInteger)
    member_id: Mapped[int] = mapped_column(BigInteger)
    added_at: Mapped[datetime] = utcnow_column()

    __table_args__ = (
        tenant_fk(["group_id"], "groups"),
        tenant_fk(["member_id"], "members"),
        UniqueConstraint("scheme_id", "group_id", "member_id"),
    )
