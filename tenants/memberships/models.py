"""Members of a scheme (one user, many schemes) and invitations to join."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Connection,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    func,
    select,
    text,
)
from sqlalchemy.orm import Mapped, Mapper, mapped_column, object_session

from timebank.platform.db import TenantScoped, UTCDateTime, db, tenant_fk, utcnow_column

ROLES = ("member", "coordinator")
# Who an invitation may make of its addressee: a member or coordinator (a membership), or one
# of the roles that are not members of the scheme: a partner's staff (``partner_id``), a
# child's guardian (``member_id``, the child) or a surgery's referrer.
INVITATION_ROLES = ("member", "coordinator", "partner_staff", "guardian", "referrer")
MEMBER_STATUSES = ("active", "suspended", "left")
AGE_BANDS = ("under_11", "11_15", "16_17", "adult")
IMPORT_STATUSES = ("pending", "running", "done", "failed")


class Member(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "members"

    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"), index=True)
    role: Mapped[str] = mapped_column(String(20), default="member")
    status: Mapped[str] = mapped_column(String(20), default="active")
    joined_at: Mapped[datetime] = utcnow_column()
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A child's age: the date of birth, or only a band when that is all the scheme records.
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    age_band: Mapped[str | None] = mapped_column(String(10))
    # 1, 2, 3 … in join order within the scheme: what people are shown (ids stay in the API).
    # Given on insert (:func:`_number_new_member`).
    number: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        UniqueConstraint("scheme_id", "user_id"),
        # A unique index (not a constraint) so SQLite adds it in place (migration 0007).
        Index("uq_members_scheme_id_number", "scheme_id", "number", unique=True),
        CheckConstraint("role IN ('member', 'coordinator')", name="role"),
        CheckConstraint("status IN ('active', 'suspended', 'left')", name="status"),
        CheckConstraint("age_band IN ('under_11', '11_15', '16_17', 'adult')", name="age_band"),
    )

    @property
    def is_coordinator(self) -> bool:
        return self.role == "coordinator" and self.status == "active"


# A number per scheme, safe under concurrent joins: on PostgreSQL a transaction-scoped
# advisory lock per scheme serialises the "highest number + 1" of two joins (the second
# reads after the first commits, READ COMMITTED); SQLite has one writer at a time. The
# unique key (scheme_id, number) backs both. Members inserted in one flush count on from
# the session's last number.
NUMBER_LOCK_CLASS = 160716


@event.listens_for(Member, "before_insert")
def _number_new_member(mapper: Mapper[Any], connection: Connection, member: Member) -> None:
    if member.number is not None:
        return
    if connection.dialect.name == "postgresql":
        connection.execute(
            text("SELECT pg_advisory_xact_lock(:lock_class, CAST(:scheme_id % 2147483647 AS int))"),
            {"lock_class": NUMBER_LOCK_CLASS, "scheme_id": member.scheme_id},
        )
    highest = connection.execute(
        select(func.coalesce(func.max(Member.number), 0)).where(
            Member.scheme_id == member.scheme_id
        )
    ).scalar_one()
    session = object_session(member)
    transaction = session.get_transaction() if session is not None else None
    cache = session.info.get("member_numbers") if session is not None else None
    if cache is None or cache[0] is not transaction:
        cache = (transaction, {})
        if session is not None:
            session.info["member_numbers"] = cache
    given: dict[int, int] = cache[1]
    member.number = max(int(highest), given.get(member.scheme_id, 0)) + 1
    given[member.scheme_id] = member.number


class MailSettings(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    """Which mails a member wants about credits they receive (no row: all on)."""

    __tablename__ = "member_mail_settings"

    member_id: Mapped[int] = mapped_column(BigInteger)
    paid: Mapped[bool] = mapped_column(Boolean, default=True)
    awarded: Mapped[bool] = mapped_column(Boolean, default=True)
    gifted: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = utcnow_column()

    __table_args__ = (
        tenant_fk(["member_id"], "members"),
        UniqueConstraint("scheme_id", "member_id"),
    )


class Invitation(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "invitations"

    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(20))
    # Unique across schemes: the link is looked up by it before its scheme is known (a random
    # token's hash tells nobody about another scheme). Read by tests/test_schema_guards.py.
    token_hash: Mapped[str] = mapped_column(
        String(64), unique=True, info={"unique_across_schemes": "a random invitation token"}
    )
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    invited_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    created_at: Mapped[datetime] = utcnow_column()
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    accepted_member_id: Mapped[int | None] = mapped_column(BigInteger)
    # The partner whose staff the addressee becomes (role ``partner_staff``).
    partner_id: Mapped[int | None] = mapped_column(BigInteger)
    # The membership the invitation is about: the child of a ``guardian``, or a managed member
    # whose membership a ``member`` invitation attaches to the accepting user.
    member_id: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        CheckConstraint(
            "role IN ('member', 'coordinator', 'partner_staff', 'guardian', 'referrer')",
            name="role",
        ),
    )


class MemberImport(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    """A coordinator's CSV of people to invite, processed by a job with progress."""

    __tablename__ = "member_imports"

    filename: Mapped[str] = mapped_column(String(255))
    content: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    invited: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    # [{"row": 3, "field": "email", "message": "..."}]
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_by: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    created_at: Mapped[datetime] = utcnow_column()
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'running', 'done', 'failed')", name="status"),
        CheckConstraint("done >= 0 AND done <= total", name="progress"),
    )


class MemberCard(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    """A printed sign-in card of a managed member: a short code and a PIN (hashed).

    A new card revokes the member's previous one; ten wrong PINs lock it.
    """

    __tablename__ = "member_cards"

    member_id: Mapped[int] = mapped_column(BigInteger)
    # Looked up before its scheme is known, like an invitation's token.
    code_hash: Mapped[str] = mapped_column(
        String(64), unique=True, info={"unique_across_schemes": "a random card code"}
    )
    pin_hash: Mapped[str] = mapped_column(String(255))
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    created_at: Mapped[datetime] = utcnow_column()

    __table_args__ = (tenant_fk(["member_id"], "members"),)


class Guardian(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    """A user who is a child's guardian in a scheme (not a member of it)."""

    __tablename__ = "guardians"

    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"), index=True)
    member_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = utcnow_column()

    __table_args__ = (
        tenant_fk(["member_id"], "members"),
        UniqueConstraint("scheme_id", "user_id", "member_id"),
    )


class GuardianConsent(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    """Consent given or withdrawn by a guardian: the latest row for a child counts."""

    __tablename__ = "guardian_consents"

    member_id: Mapped[int] = mapped_column(BigInteger)
    guardian_id: Mapped[int] = mapped_column(BigInteger)
    given: Mapped[bool] = mapped_column(Boolean)
    wording_version: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = utcnow_column()

    __table_args__ = (
        tenant_fk(["member_id"], "members"),
        tenant_fk(["guardian_id"], "guardians"),
    )


class SafeguardingCheck(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    """An adult's safeguarding check (e.g. DBS): kind, number, expiry. One per member."""

    __tablename__ = "safeguarding_checks"

    member_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(60))
    number: Mapped[str] = mapped_column(String(60))
    expires_on: Mapped[date] = mapped_column(Date)
    recorded_by: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    updated_at: Mapped[datetime] = utcnow_column()

    __table_args__ = (
        tenant_fk(["member_id"], "members"),
        UniqueConstraint("scheme_id", "member_id"),
    )
