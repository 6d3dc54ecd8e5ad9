"""Youth court sittings: schedule, rota, attendance, and one credit for everyone present.

A coordinator schedules a sitting with roles (each with the minutes it earns
and its number of places; the policy's ``sittings.roles`` are the defaults),
puts members into roles (``role_full`` when a role has no place left), or
members take open places themselves when ``sittings.self_signup`` is on.
After the sitting the coordinator records who was present, then credits them:
one ``earn`` per present member at their role's minutes, written by the
bulk-award path in one unit of work (all or none). The sitting row is locked
and marked ``credited`` in that same unit of work, so a second credit — a
retry with a new key, a double click, a second coordinator — finds it
credited and answers 422 ``already_credited``, crediting nobody twice.
A sitting marked ``with_children`` takes no adult without a valid safeguarding
check on its rota, nor credits one (422 ``check_expired``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from timebank.platform import audit
from timebank.platform.api.errors import FieldError, Forbidden, NotFound, RuleViolation
from timebank.platform.db import atomic, db, utcnow
from timebank.platform.schemes.models import Scheme
from timebank.tenants.courts.models import Sitting, SittingAssignment, SittingRole
from timebank.tenants.earning import awards
from timebank.tenants.ledger.services import member_names
from timebank.tenants.memberships.models import Member
from timebank.tenants.policy import minors
from timebank.tenants.policy.services import current_policy


def require_sittings(scheme: Scheme) -> dict[str, Any]:
    """The scheme's ``sittings`` policy; 403 ``sittings_disabled`` when it does not use them."""
    policy: dict[str, Any] = current_policy(scheme)["sittings"]
    if not policy["enabled"]:
        raise Forbidden(
            f"{scheme.name} does not hold court sittings (turn them on in the rules).",
            code="sittings_disabled",
        )
    return policy


def local_time(scheme: Scheme, moment: datetime) -> datetime:
    return moment.astimezone(ZoneInfo(scheme.timezone))


def to_utc(scheme: Scheme, moment: datetime) -> datetime:
    """A naive time is the scheme's local time; an aware one is taken as given."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(scheme.timezone))
    return moment.astimezone(ZoneInfo("UTC"))


# --- schedule ---------------------------------------------------------------------------


@atomic
def schedule_sitting(
    scheme: Scheme,
    *,
    starts_at: datetime,
    place: str | None,
    roles: Sequence[dict[str, Any]] | None,
    actor_user_id: int,
    with_children: bool = False,
) -> Sitting:
    """Schedule a sitting; ``roles`` default to the policy's. 422 on ``roles.N.name`` for a repeat."""
    policy = require_sittings(scheme)
    chosen = list(roles) if roles else [dict(role) for role in policy["roles"]]
    if not chosen:
        raise FieldError("roles", "Give the sitting at least one role.")
    seen: set[str] = set()
    for index, role in enumerate(chosen):
        key = role["name"].strip().casefold()
        if not key:
            raise FieldError(f"roles.{index}.name", "Give the role a name.")
        if key in seen:
            raise FieldError(f"roles.{index}.name", f"The role “{role['name']}” is listed twice.")
        seen.add(key)
    sitting = Sitting(
        scheme_id=scheme.id,
        starts_at=to_utc(scheme, starts_at),
        place=place,
        status="scheduled",
        with_children=with_children,
        created_by=actor_user_id,
    )
    db.session.add(sitting)
    db.session.flush()
    for position, role in enumerate(chosen):
        db.session.add(
            SittingRole(
                scheme_id=scheme.id,
                sitting_id=sitting.id,
                name=role["name"].strip(),
                minutes=role["minutes"],
                places=role["places"],
                position=position,
            )
        )
    db.session.flush()
    audit.record(
        scheme.id,
        "sitting.scheduled",
        actor_user_id=actor_user_id,
        target=f"sitting:{sitting.id}",
        details={"roles": len(chosen)},
    )
    return sitting


def get_sitting(sitting_id: int, *, lock: bool = False) -> Sitting:
    """A sitting of the current scheme, or 404 (also another scheme's)."""
    statement = select(Sitting).where(Sitting.id == sitting_id)
    if lock:
        statement = statement.with_for_update()
    sitting = db.session.execute(statement).scalar_one_or_none()
    if sitting is None:
        raise NotFound("No sitting with this id in this scheme.")
    return sitting


def roles_of(sitting_id: int) -> list[SittingRole]:
    return list(
        db.session.execute(
            select(SittingRole)
            .where(SittingRole.sitting_id == sitting_id)
            .order_by(SittingRole.position, SittingRole.id)
        ).scalars()
    )


def assignments_of(sitting_id: int) -> list[SittingAssignment]:
    return list(
        db.session.execute(
            select(SittingAssignment)
            .where(SittingAssignment.sitting_id == sitting_id)
            .order_by(SittingAssignment.id)
        ).scalars()
    )


def sittings_query(*, upcoming_from: datetime | None = None, member_id: int | None = None) -> Any:
    """Sittings, optionally only those from a moment on, or only a member's."""
    statement = select(Sitting)
    if upcoming_from is not None:
        statement = statement.where(
            Sitting.starts_at >= upcoming_from, Sitting.status == "scheduled"
        )
    if member_id is not None:
        statement = statement.where(
            Sitting.id.in_(
                select(SittingAssignment.sitting_id).where(SittingAssignment.member_id == member_id)
            )
        )
    return statement


def start_of_today(scheme: Scheme) -> datetime:
    """Midnight today in the scheme's time zone (a sitting earlier today is still upcoming)."""
    zone = ZoneInfo(scheme.timezone)
    today = utcnow().astimezone(zone).date()
    return datetime.combine(today, time.min, zone)


# --- the rota ---------------------------------------------------------------------------


_WITH_CHILDREN = "This sitting is done with children"


def _open_for_changes(sitting: Sitting) -> None:
    if sitting.status == "credited":
        raise RuleViolation("This sitting has been credited already.", code="already_credited")
    if sitting.status != "scheduled":
        raise RuleViolation("This sitting was cancelled.", code="sitting_cancelled")


def _assign(
    scheme: Scheme,
    sitting: Sitting,
    *,
    member_id: int,
    role_id: int,
    actor_user_id: int,
    signed_up: bool,
) -> SittingAssignment:
    _open_for_changes(sitting)
    role = db.session.execute(
        select(SittingRole).where(SittingRole.id == role_id, SittingRole.sitting_id == sitting.id)
    ).scalar_one_or_none()
    if role is None:
        raise FieldError("role_id", f"No role with id {role_id} in this sitting.")
    status = db.session.execute(
        select(Member.status).where(Member.id == member_id)
    ).scalar_one_or_none()
    if status is None or status == "left":
        raise FieldError("member_id", f"No member with id {member_id} in this scheme.")
    if status != "active":
        raise FieldError("member_id", f"Member {member_id} is suspended.")
    if sitting.with_children:
        day = local_time(scheme, sitting.starts_at).date()
        minors.check_may_work_with_children([member_id], day, what=_WITH_CHILDREN)
    taken = db.session.execute(
        select(SittingAssignment.role_id).where(
            SittingAssignment.sitting_id == sitting.id, SittingAssignment.member_id == member_id
        )
    ).scalar_one_or_none()
    if taken is not None:
        raise RuleViolation(
            "This member already has a role in this sitting.",
            code="already_assigned",
            errors={"member_id": ["Already has a role in this sitting."]},
        )
    filled = db.session.execute(
        select(func.count()).where(SittingAssignment.role_id == role.id)
    ).scalar_one()
    if filled >= role.places:
        raise RuleViolation(
            f"Every place for {role.name} is taken ({role.places}).", code="role_full"
        )
    assignment = SittingAssignment(
        scheme_id=scheme.id,
        sitting_id=sitting.id,
        role_id=role.id,
        member_id=member_id,
        signed_up=signed_up,
        created_by=actor_user_id,
    )
    db.session.add(assignment)
    db.session.flush()
    audit.record(
        scheme.id,
        "sitting.signed_up" if signed_up else "sitting.assigned",
        actor_user_id=actor_user_id,
        target=f"sitting:{sitting.id}",
        details={"member_id": member_id, "role_id": role.id},
    )
    return assignment


@atomic
def assign(
    scheme: Scheme, sitting_id: int, *, member_id: int, role_id: int, actor_user_id: int
) -> SittingAssignment:
    """Put a member in a role: 422 ``role_full``, ``already_assigned``, or on a field."""
    require_sittings(scheme)
    sitting = get_sitting(sitting_id, lock=True)
    return _assign(
        scheme,
        sitting,
        member_id=member_id,
        role_id=role_id,
        actor_user_id=actor_user_id,
        signed_up=False,
    )


@atomic
def sign_up(scheme: Scheme, member: Member, sitting_id: int, *, role_id: int) -> SittingAssignment:
    """A member takes an open place: 403 ``self_signup_disabled`` unless the scheme allows it."""
    policy = require_sittings(scheme)
    if not policy["self_signup"]:
        raise Forbidden(
            "In this scheme a coordinator draws up the rota; ask them for a place.",
            code="self_signup_disabled",
        )
    sitting = get_sitting(sitting_id, lock=True)
    if sitting.starts_at <= utcnow():
        raise RuleViolation("This sitting has started already.", code="sitting_started")
    return _assign(
        scheme,
        sitting,
        member_id=member.id,
        role_id=role_id,
        actor_user_id=member.user_id,
        signed_up=True,
    )


@atomic
def unassign(
    scheme: Scheme, sitting_id: int, *, member_id: int, actor_user_id: int, own: bool = False
) -> None:
    """Take a member off the rota (before credit); 404 when they were not on it."""
    require_sittings(scheme)
    sitting = get_sitting(sitting_id, lock=True)
    _open_for_changes(sitting)
    if own and sitting.starts_at <= utcnow():
        raise RuleViolation("This sitting has started already.", code="sitting_started")
    assignment = db.session.execute(
        select(SittingAssignment).where(
            SittingAssignment.sitting_id == sitting.id, SittingAssignment.member_id == member_id
        )
    ).scalar_one_or_none()
    if assignment is None:
        raise NotFound("This member has no role in this sitting.")
    db.session.delete(assignment)
    db.session.flush()
    audit.record(
        scheme.id,
        "sitting.withdrawn" if own else "sitting.unassigned",
        actor_user_id=actor_user_id,
        target=f"sitting:{sitting.id}",
        details={"member_id": member_id},
    )


@atomic
def cancel_sitting(scheme: Scheme, sitting_id: int, *, actor_user_id: int) -> Sitting:
    """Call a sitting off: no reminders, no credit; 422 ``already_credited`` once credited."""
    require_sittings(scheme)
    sitting = get_sitting(sitting_id, lock=True)
    _open_for_changes(sitting)
    sitting.status = "cancelled"
    db.session.flush()
    audit.record(
        scheme.id, "sitting.cancelled", actor_user_id=actor_user_id, target=f"sitting:{sitting.id}"
    )
    return sitting


# --- attendance and credit --------------------------------------------------------------


@atomic
def record_attendance(
    scheme: Scheme, sitting_id: int, *, present: Sequence[int], actor_user_id: int
) -> Sitting:
    """Mark who came: everyone on the rota not in ``present`` is absent.

    422 on ``present.N`` for an id not on the rota (or listed twice);
    ``already_credited`` once the sitting is credited.
    """
    require_sittings(scheme)
    sitting = get_sitting(sitting_id, lock=True)
    _open_for_changes(sitting)
    assignments = {a.member_id: a for a in assignments_of(sitting.id)}
    errors: dict[str, list[str]] = {}
    seen: set[int] = set()
    for index, member_id in enumerate(present):
        if member_id in seen:
            errors[f"present.{index}"] = [f"Member {member_id} is listed twice."]
        elif member_id not in assignments:
            errors[f"present.{index}"] = [f"Member {member_id} has no role in this sitting."]
        seen.add(member_id)
    if errors:
        raise RuleViolation(
            "Attendance was not recorded: " + " ".join(m[0] for m in errors.values()),
            code="validation_error",
            errors=errors,
        )
    for member_id, assignment in assignments.items():
        assignment.present = member_id in seen
    sitting.attendance_at = utcnow()
    db.session.flush()
    audit.record(
        scheme.id,
        "sitting.attendance",
        actor_user_id=actor_user_id,
        target=f"sitting:{sitting.id}",
        details={"present": len(seen), "absent": len(assignments) - len(seen)},
    )
    return sitting


@atomic
def credit_sitting(scheme: Scheme, sitting_id: int, *, actor_user_id: int) -> list[dict[str, Any]]:
    """Credit everyone present at their role's minutes: one ``earn`` each, all or none.

    422 ``already_credited`` the second time, ``attendance_not_recorded``
    before attendance, ``nobody_present`` when everyone was absent.
    """
    require_sittings(scheme)
    sitting = get_sitting(sitting_id, lock=True)
    _open_for_changes(sitting)
    if sitting.attendance_at is None:
        raise RuleViolation(
            "Record who was present before crediting the sitting.",
            code="attendance_not_recorded",
        )
    minutes = {role.id: role.minutes for role in roles_of(sitting.id)}
    present = [a for a in assignments_of(sitting.id) if a.present]
    if not present:
        raise RuleViolation("Nobody was present at this sitting.", code="nobody_present")
    day = local_time(scheme, sitting.starts_at)
    if sitting.with_children:
        ids = [a.member_id for a in present]
        minors.check_may_work_with_children(ids, day.date(), what=_WITH_CHILDREN, field="present")
    transactions = awards.award_each(
        scheme,
        credits=[(a.member_id, minutes[a.role_id]) for a in present],
        memo=f"Youth court sitting, {day:%a %d %b %Y}",
        actor_user_id=actor_user_id,
        target=f"sitting:{sitting.id}",
    )
    for assignment, transaction in zip(present, transactions, strict=True):
        assignment.transaction_id = transaction["id"]
    sitting.status = "credited"
    sitting.credited_at = utcnow()
    sitting.credited_by = actor_user_id
    db.session.flush()
    audit.record(
        scheme.id,
        "sitting.credited",
        actor_user_id=actor_user_id,
        target=f"sitting:{sitting.id}",
        details={"members": len(present), "minutes": sum(minutes[a.role_id] for a in present)},
    )
    return transactions


# --- reading ----------------------------------------------------------------------------


def describe(
    scheme: Scheme, sitting: Sitting, *, member_id: int | None, full: bool
) -> dict[str, Any]:
    """A sitting with its roles (places taken); the rota itself only when ``full``."""
    roles = roles_of(sitting.id)
    assignments = assignments_of(sitting.id)
    names = member_names(a.member_id for a in assignments) if full else {}
    taken: dict[int, int] = {}
    for assignment in assignments:
        taken[assignment.role_id] = taken.get(assignment.role_id, 0) + 1
    mine = next((a for a in assignments if a.member_id == member_id), None)
    role_names = {role.id: role.name for role in roles}
    return {
        "id": sitting.id,
        "starts_at": sitting.starts_at,
        "local_start": local_time(scheme, sitting.starts_at),
        "place": sitting.place,
        "status": sitting.status,
        "with_children": sitting.with_children,
        "attendance_recorded": sitting.attendance_at is not None,
        "credited_at": sitting.credited_at,
        "roles": [
            {
                "id": role.id,
                "name": role.name,
                "minutes": role.minutes,
                "places": role.places,
                "taken": taken.get(role.id, 0),
            }
            for role in roles
        ],
        "my_role_id": mine.role_id if mine else None,
        "my_role": role_names.get(mine.role_id) if mine else None,
        "assignments": [
            {
                "id": a.id,
                "member_id": a.member_id,
                "name": names.get(a.member_id, "a member"),
                "role_id": a.role_id,
                "role": role_names.get(a.role_id),
                "signed_up": a.signed_up,
                "present": a.present,
                "transaction_id": a.transaction_id,
            }
            for a in assignments
        ]
        if full
        else [],
    }


def due_for_reminder(start: datetime, end: datetime) -> list[Sitting]:
    """Scheduled sittings starting in ``[start, end)`` not reminded yet (locked)."""
    return list(
        db.session.execute(
            select(Sitting)
            .where(
                Sitting.status == "scheduled",
                Sitting.reminded_at.is_(None),
                Sitting.starts_at >= start,
                Sitting.starts_at < end,
            )
            .order_by(Sitting.id)
            .with_for_update()
        ).scalars()
    )
