"""Youth court jobs: the reminder mail the day before a sitting.

Enqueued by the scheduler once per scheme and local day (its marker); the job
itself is idempotent too: each sitting is locked and stamped ``reminded_at``
in the unit of work that queues its mails, so a rerun reminds nobody twice.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from timebank.platform import tenancy
from timebank.platform.db import db, run_atomic, utcnow
from timebank.platform.jobs import job
from timebank.platform.schemes.models import Scheme
from timebank.tenants.courts import sittings
from timebank.tenants.marketplace import notices
from timebank.tenants.policy.services import current_policy


@job
def send_sitting_reminders(scheme_id: int, as_of: str) -> int:
    """Mail everyone on the rota of the sittings held the day after ``as_of`` (YYYY-MM-DD)."""
    scheme = db.session.get(Scheme, scheme_id)
    if scheme is None or scheme.is_suspended:
        return 0
    with tenancy.scheme_context(scheme.id):
        if not current_policy(scheme)["sittings"]["enabled"]:
            return 0
        return run_atomic(lambda: remind(scheme, date.fromisoformat(as_of)))


def remind(scheme: Scheme, as_of: date) -> int:
    """Remind the rota of each sitting on the local day after ``as_of``; how many sittings."""
    zone = ZoneInfo(scheme.timezone)
    start = datetime.combine(as_of + timedelta(days=1), time.min, zone)
    end = datetime.combine(as_of + timedelta(days=2), time.min, zone)
    due = sittings.due_for_reminder(start, end)
    for sitting in due:
        sitting.reminded_at = utcnow()
        roles = {role.id: role for role in sittings.roles_of(sitting.id)}
        rota = sittings.assignments_of(sitting.id)
        users = notices.member_users(a.member_id for a in rota)
        local = sittings.local_time(scheme, sitting.starts_at)
        for assignment in rota:
            user = users.get(assignment.member_id)
            role = roles[assignment.role_id]
            if user is None:
                continue
            where = f" at {sitting.place}" if sitting.place else ""
            notices.notify(
                [user],
                scheme,
                subject=f"Youth court tomorrow at {local:%H:%M}: you are {role.name}",
                lines=[
                    f"A reminder: {scheme.name} sits tomorrow, {local:%A %d %B}, "
                    f"at {local:%H:%M}{where}.",
                    f"Your role is {role.name}; it earns {role.minutes // 60}:"
                    f"{role.minutes % 60:02d} hours when you attend.",
                    "If you cannot come, tell a coordinator as soon as you can.",
                ],
                path="/court",
                link_text="See my sittings",
            )
    db.session.flush()
    return len(due)
