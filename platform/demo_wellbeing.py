"""Demo wellbeing answers: each demo scheme asks SWEMWBS, and each member answered it when
the history began and again last week (with consent), so the funder pack has results.

Through the real services (the policy, then answers entered by the coordinator); skipped
for a scheme that already has answers, so ``timebank demo`` can run twice.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from timebank.platform import tenancy
from timebank.platform.db import clock_at, db
from timebank.platform.schemes.models import Scheme
from timebank.tenants.memberships.models import Member
from timebank.tenants.policy.services import policy_document, update_policy
from timebank.tenants.wellbeing import services as surveys
from timebank.tenants.wellbeing.models import SurveyResponse

# First and latest answers (1-5 for each of the seven statements), member by member.
FIRST = [2, 3, 2, 3, 3, 2, 3]
LATEST = ([3, 4, 3, 3, 4, 4, 4], [3, 3, 2, 3, 3, 3, 3], [4, 4, 3, 4, 4, 3, 4])


def seed_wellbeing() -> None:
    for scheme in db.session.execute(select(Scheme).order_by(Scheme.id)).scalars().all():
        with tenancy.scheme_context(scheme.id):
            if db.session.execute(select(SurveyResponse.id).limit(1)).first():
                continue
            _seed_scheme(scheme)
            db.session.commit()


def _seed_scheme(scheme: Scheme) -> None:
    members = list(
        db.session.execute(
            select(Member).where(Member.status == "active").order_by(Member.id)
        ).scalars()
    )
    coordinator = next(member for member in members if member.role == "coordinator")
    document = policy_document(scheme)
    document.pop("version", None)
    document["wellbeing"] = {"scale": "swemwbs", "every_months": 3}
    update_policy(scheme, document, actor_user_id=coordinator.user_id)
    now = datetime.now(UTC)
    for index, member in enumerate(members):
        for answers, weeks_ago in ((FIRST, 11), (LATEST[index % len(LATEST)], 1)):
            with clock_at(now - timedelta(weeks=weeks_ago)):
                surveys.record_response(
                    scheme,
                    coordinator,
                    scale="swemwbs",
                    answers=answers,
                    consent_to_report=True,
                    member_id=member.id,
                    is_coordinator=True,
                    actor_user_id=coordinator.user_id,
                )
