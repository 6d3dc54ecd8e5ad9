"""Wellbeing surveys: record a member's answers (or their skip), list them, say when the
next is due, and the change between first and latest answers for reports.

Who sees what: a member their own responses; a coordinator every member's. A
report uses only responses given with ``consent_to_report`` and shows only
aggregates (means and shares), never one person's answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select

from timebank.platform import audit
from timebank.platform.api.errors import FieldError, Forbidden
from timebank.platform.db import atomic, db, utcnow
from timebank.platform.schemes.models import Scheme
from timebank.tenants.access import get_member
from timebank.tenants.memberships.models import Member
from timebank.tenants.policy.services import current_policy
from timebank.tenants.wellbeing import scales
from timebank.tenants.wellbeing.models import SurveyResponse


def local_today(scheme: Scheme) -> date:
    return utcnow().astimezone(ZoneInfo(scheme.timezone)).date()


def settings(scheme: Scheme) -> dict[str, Any]:
    """The policy's ``wellbeing`` section: ``{scale, every_months}``."""
    return dict(current_policy(scheme)["wellbeing"])


def scale_in_use(scheme: Scheme) -> scales.Scale | None:
    return scales.SCALES.get(settings(scheme)["scale"])


def _subject(member: Member, member_id: int | None, *, is_coordinator: bool) -> int:
    """Whose response this is: the caller's own, or any member's for a coordinator."""
    if member_id is None or member_id == member.id:
        return member.id
    if not is_coordinator:
        raise Forbidden(
            "Only coordinators may enter answers for another member.", code="coordinator_only"
        )
    return get_member(member_id).id


@atomic
def record_response(
    scheme: Scheme,
    member: Member,
    *,
    scale: str,
    answers: Any,
    consent_to_report: bool,
    member_id: int | None = None,
    is_coordinator: bool,
    actor_user_id: int,
) -> SurveyResponse:
    """Store a complete set of answers with its scores (422 on ``answers`` or ``scale``)."""
    in_use = scale_in_use(scheme)
    if in_use is None or in_use.name != scale:
        raise FieldError(
            "scale",
            "This scheme does not ask this wellbeing scale."
            if in_use is None
            else f"This scheme asks {in_use.name}.",
        )
    scores = scales.score(scale, answers)
    subject = _subject(member, member_id, is_coordinator=is_coordinator)
    response = SurveyResponse(
        scheme_id=scheme.id,
        member_id=subject,
        scale=scale,
        answers=list(answers),
        scores=scores,
        consent_to_report=consent_to_report,
        skipped=False,
        taken_on=local_today(scheme),
        entered_by=actor_user_id,
    )
    db.session.add(response)
    db.session.flush()
    if subject != member.id:
        # Who entered whose answers; never the answers themselves.
        audit.record(
            scheme.id,
            "survey.entered",
            actor_user_id=actor_user_id,
            target=f"member:{subject}",
            details={"scale": scale, "response_id": response.id},
        )
    return response


@atomic
def skip(scheme: Scheme, member: Member, *, actor_user_id: int) -> SurveyResponse | None:
    """Record that the member chose not to answer this time (asked again after N months)."""
    in_use = scale_in_use(scheme)
    if in_use is None:
        return None
    response = SurveyResponse(
        scheme_id=scheme.id,
        member_id=member.id,
        scale=in_use.name,
        answers=[],
        scores={},
        consent_to_report=False,
        skipped=True,
        taken_on=local_today(scheme),
        entered_by=actor_user_id,
    )
    db.session.add(response)
    db.session.flush()
    return response


def responses_query(member_id: int | None) -> Select[Any]:
    """Answered responses, newest first; one member's, or everyone's (``None``)."""
    query = select(SurveyResponse).where(SurveyResponse.skipped.is_(False))
    if member_id is not None:
        query = query.where(SurveyResponse.member_id == member_id)
    return query


def history(member_id: int) -> list[SurveyResponse]:
    return list(
        db.session.execute(
            responses_query(member_id).order_by(
                SurveyResponse.taken_on.desc(), SurveyResponse.id.desc()
            )
        ).scalars()
    )


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = index // 12, index % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)  # pragma: no cover


def is_due(scheme: Scheme, member_id: int, today: date | None = None) -> bool:
    """Whether to ask now: a scale is on, and the member has never been asked (joining),
    or last answered or skipped ``every_months`` months ago or more."""
    policy = settings(scheme)
    if policy["scale"] not in scales.SCALES:
        return False
    last = db.session.execute(
        select(SurveyResponse.taken_on)
        .where(SurveyResponse.member_id == member_id)
        .order_by(SurveyResponse.taken_on.desc())
        .limit(1)
    ).scalar()
    if last is None:
        return True
    return (today or local_today(scheme)) >= _add_months(last, int(policy["every_months"]))


@dataclass
class Change:
    scale: str
    members: int = 0
    mean_first: float | None = None
    mean_latest: float | None = None
    share_improved: float | None = None
    measures: list[dict[str, Any]] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "scale": self.scale,
            "members": self.members,
            "mean_first": self.mean_first,
            "mean_latest": self.mean_latest,
            "share_improved": self.share_improved,
            "measures": self.measures or [],
        }


def _measure(name: str, pairs: list[tuple[float, float]]) -> dict[str, Any]:
    count = len(pairs)
    return {
        "measure": name,
        "mean_first": round(sum(first for first, _ in pairs) / count, 2),
        "mean_latest": round(sum(latest for _, latest in pairs) / count, 2),
        "share_improved": round(
            sum(1 for first, latest in pairs if scales.improved(name, first, latest)) / count, 4
        ),
        "lower_is_better": name in scales.LOWER_IS_BETTER,
    }


def change(scheme: Scheme, first_day: date, last_day: date, scale: str | None = None) -> Change:
    """First → latest over members with two or more consented responses (taken on or
    before ``last_day``) whose latest falls in ``first_day``…``last_day``."""
    chosen = scale or settings(scheme)["scale"]
    if chosen not in scales.SCALES:
        chosen = "swemwbs"
    rows = db.session.execute(
        select(SurveyResponse.member_id, SurveyResponse.taken_on, SurveyResponse.scores)
        .where(
            SurveyResponse.scale == chosen,
            SurveyResponse.skipped.is_(False),
            SurveyResponse.consent_to_report.is_(True),
            SurveyResponse.taken_on <= last_day,
        )
        .order_by(SurveyResponse.member_id, SurveyResponse.taken_on, SurveyResponse.id)
    ).all()
    by_member: dict[int, list[dict[str, Any]]] = {}
    latest_day: dict[int, date] = {}
    for member_id, taken_on, scores in rows:
        by_member.setdefault(int(member_id), []).append(scores)
        latest_day[int(member_id)] = taken_on
    pairs = [
        (answers[0], answers[-1])
        for member_id, answers in by_member.items()
        if len(answers) >= 2 and latest_day[member_id] >= first_day
    ]
    result = Change(scale=chosen, members=len(pairs))
    if not pairs:
        return result
    names = scales.ONS4_MEASURES if chosen == "ons4" else ("metric",)
    result.measures = [
        _measure(name, [(float(a[name]), float(b[name])) for a, b in pairs]) for name in names
    ]
    headline = result.measures[0]
    result.mean_first = headline["mean_first"]
    result.mean_latest = headline["mean_latest"]
    result.share_improved = headline["share_improved"]
    return result
