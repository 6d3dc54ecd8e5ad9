"""Summary tables of the impact reports, kept by the daily job in :mod:`.summaries`.

One row per scheme and local day and kind or activity, and per member and
month, so that a report over any period of days reads a few thousand rows
instead of every posting. Distinct people are never summed across days: a
member has one ``report_member_months`` row per month with the days they took
part as bits, so "members active between two dates" is exact.

``report_progress`` says up to which local day a scheme is summarised; the
days after it are computed live from the ledger. No foreign keys to members
or activities: summaries must not stop a member's removal (erasure, a
sandbox going live), and they are rebuilt from the ledger on demand.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from timebank.platform.db import TenantScoped, db, utcnow_column


class ReportDay(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    """Minutes and transactions of one kind on one local day."""

    __tablename__ = "report_days"

    day: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(20))
    minutes: Mapped[int] = mapped_column(BigInteger)
    transactions: Mapped[int] = mapped_column(Integer)

    __table_args__ = (UniqueConstraint("scheme_id", "day", "kind"),)


class ReportMemberMonth(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    """A member's days in one calendar month (``month``: its first day), as bit masks: bit
    ``d - 1`` is set for day ``d``. ``active_days``: their account moved; ``helped_days``:
    they paid a member (payer of a transfer); ``helping_days``: a transfer paid them or an
    ``earn`` credited them. Exact distinct counts over any days: a member counts when a
    mask has a bit of the period's days (one row per member and month, never per day)."""

    __tablename__ = "report_member_months"

    month: Mapped[date] = mapped_column(Date)
    member_id: Mapped[int] = mapped_column(BigInteger)
    active_days: Mapped[int] = mapped_column(BigInteger)
    helped_days: Mapped[int] = mapped_column(BigInteger)
    helping_days: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (UniqueConstraint("scheme_id", "month", "member_id"),)


class ReportActivityDay(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    """Minutes credited for one activity on a local day (approved claims and awards)."""

    __tablename__ = "report_activity_days"

    day: Mapped[date] = mapped_column(Date)
    activity_id: Mapped[int] = mapped_column(BigInteger)
    minutes: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (UniqueConstraint("scheme_id", "day", "activity_id"),)


class ReportProgress(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    """The last local day whose summary rows are complete (one row per scheme)."""

    __tablename__ = "report_progress"

    summarised_through: Mapped[date] = mapped_column(Date)
    updated_at: Mapped[datetime] = utcnow_column()

    __table_args__ = (UniqueConstraint("scheme_id"),)


class ReportEarnDay(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    """Minutes credited to one member by ``earn`` transactions on a local day (for the
    breakdowns by group and age band: a member's groups and age are looked up when read)."""

    __tablename__ = "report_earn_days"

    day: Mapped[date] = mapped_column(Date)
    member_id: Mapped[int] = mapped_column(BigInteger)
    minutes: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (UniqueConstraint("scheme_id", "day", "member_id"),)


class ReportPartnerDay(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    """Minutes of ``spend`` transactions on a local day by their redemption's partner
    (``partner_id`` 0: the scheme's own rewards)."""

    __tablename__ = "report_partner_days"

    day: Mapped[date] = mapped_column(Date)
    partner_id: Mapped[int] = mapped_column(BigInteger)
    minutes: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (UniqueConstraint("scheme_id", "day", "partner_id"),)
