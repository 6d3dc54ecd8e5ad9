"""A member's answers to a wellbeing scale, or their choice to skip it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from timebank.platform.db import TenantScoped, db, tenant_fk, utcnow_column

SCALES = ("ons4", "swemwbs")


class SurveyResponse(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    """``answers`` as given (empty when ``skipped``); ``scores`` worked out when it was taken.

    Seen only by the member and the scheme's coordinators; reports use only the
    responses with ``consent_to_report``.
    """

    __tablename__ = "survey_responses"

    member_id: Mapped[int] = mapped_column(BigInteger)
    scale: Mapped[str] = mapped_column(String(10))
    answers: Mapped[list[int]] = mapped_column(JSON, default=list)
    scores: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    consent_to_report: Mapped[bool] = mapped_column(Boolean, default=False)
    skipped: Mapped[bool] = mapped_column(Boolean, default=False)
    taken_on: Mapped[date] = mapped_column(Date)
    entered_by: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    created_at: Mapped[datetime] = utcnow_column()

    __table_args__ = (
        tenant_fk(["member_id"], "members"),
        CheckConstraint("scale IN ('ons4', 'swemwbs')", name="scale"),
        Index("ix_survey_responses_member", "scheme_id", "member_id", "taken_on"),
    )
