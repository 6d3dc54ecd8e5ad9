"""Groups: a school's classes and houses (any scheme may switch them on in its policy).

A coordinator names a group, sets who is in it, and awards to it in one action:
the group's members at that moment go through the bulk-award path
(:func:`timebank.tenants.earning.awards.award`), one ``earn`` each, all or none,
so one member who cannot receive credits (suspended, or their account closed)
credits nobody. Group totals count the minutes earned (``earn`` postings) by
the group's current members; the league table ranks groups by them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, func, select

from timebank.platform import audit
from timebank.platform.api.errors import ApiError, Conflict, Forbidden, NotFound
from timebank.platform.db import atomic, db
from timebank.platform.identity.models import User
from timebank.platform.schemes.models import Scheme
from timebank.tenants.earning import awards
from timebank.tenants.groups.models import Group, GroupMember
from timebank.tenants.ledger.models import Account, Posting, Transaction
from timebank.tenants.memberships.models import Member
from timebank.tenants.policy.services import current_policy


def ensure_enabled(scheme: Scheme) -> None:
    """403 ``groups_disabled`` unless the scheme's policy switches groups on."""
    if not current_policy(scheme)["groups"]["enabled"]:
        raise Forbidden(
            "Groups are switched off in this scheme's rules (groups.enabled).",
            code="groups_disabled",
        )


def league_shown(scheme: Scheme) -> bool:
    groups = current_policy(scheme)["groups"]
    return bool(groups["enabled"] and groups["league_table"])


def get_group(group_id: int) -> Group:
    """A group of the current scheme, or 404 (also for another scheme's)."""
    group = db.session.execute(select(Group).where(Group.id == group_id)).scalar_one_or_none()
    if group is None:
        raise NotFound("No group with this id in this scheme.")
    return group


@atomic
def create_group(scheme: Scheme, *, name: str, kind: str, actor_user_id: int) -> Group:
    """Add a named group; a name used already (any letter case) → 409 ``group_exists``."""
    ensure_enabled(scheme)
    name = " ".join(name.split())
    taken = db.session.execute(
        select(Group.id).where(func.lower(Group.name) == name.lower())
    ).first()
    if taken is not None:
        raise Conflict(f"There is a group called {name} already.", code="group_exists")
    group = Group(scheme_id=scheme.id, name=name, kind=kind, created_by=actor_user_id)
    db.session.add(group)
    db.session.flush()
    audit.record(
        scheme.id,
        "group.created",
        actor_user_id=actor_user_id,
        target=f"group:{group.id}",
        details={"kind": kind},
    )
    return group


def member_ids_of(group_id: int) -> list[int]:
    return list(
        db.session.execute(
            select(GroupMember.member_id)
            .where(GroupMember.group_id == group_id)
            .order_by(GroupMember.member_id)
        ).scalars()
    )


def members_of(group_id: int) -> list[dict[str, Any]]:
    """``[{member_id, name, status}]`` of the group, by name."""
    rows = db.session.execute(
        select(Member.id, User.name, Member.status)
        .join(GroupMember, GroupMember.member_id == Member.id)
        .join(User, User.id == Member.user_id)
        .where(GroupMember.group_id == group_id)
        .order_by(User.name, Member.id)
    ).all()
    return [{"member_id": m, "name": name, "status": status} for m, name, status in rows]


def describe(group: Group) -> dict[str, Any]:
    members = members_of(group.id)
    return {
        "id": group.id,
        "name": group.name,
        "kind": group.kind,
        "member_ids": [m["member_id"] for m in members],
        "members": members,
        "created_at": group.created_at,
    }


@atomic
def set_members(
    scheme: Scheme, group_id: int, member_ids: Sequence[int], *, actor_user_id: int
) -> Group:
    """Replace the group's members. An id listed twice, unknown or of someone who left
    → 422 on ``member_ids.<index>``, nothing changed."""
    group = get_group(group_id)
    ensure_enabled(scheme)
    known = {
        member_id
        for (member_id,) in db.session.execute(
            select(Member.id).where(Member.id.in_(list(member_ids)), Member.status != "left")
        )
    }
    errors: dict[str, list[str]] = {}
    seen: set[int] = set()
    for index, member_id in enumerate(member_ids):
        if member_id in seen:
            errors[f"member_ids.{index}"] = [f"Member {member_id} is listed twice."]
        elif member_id not in known:
            errors[f"member_ids.{index}"] = [f"No member with id {member_id} in this scheme."]
        seen.add(member_id)
    if errors:
        raise ApiError(
            "Nothing changed: " + " ".join(f"{k}: {v[0]}" for k, v in errors.items()),
            code="validation_error",
            status=422,
            errors=errors,
        )
    current = set(member_ids_of(group.id))
    for row in db.session.execute(
        select(GroupMember).where(
            GroupMember.group_id == group.id, GroupMember.member_id.not_in(seen)
        )
    ).scalars():
        db.session.delete(row)
    for member_id in sorted(seen - current):
        db.session.add(GroupMember(scheme_id=scheme.id, group_id=group.id, member_id=member_id))
    db.session.flush()
    audit.record(
        scheme.id,
        "group.members_set",
        actor_user_id=actor_user_id,
        target=f"group:{group.id}",
        details={
            "members": len(seen),
            "added": len(seen - current),
            "removed": len(current - seen),
        },
    )
    return group


@atomic
def award_group(
    scheme: Scheme,
    group_id: int,
    *,
    activity_id: int,
    minutes: int,
    note: str | None,
    actor_user_id: int,
) -> awards.AwardResult:
    """Credit every member of the group: one award through the bulk path, all or none.

    An empty group → 422 ``group_empty``; a member who cannot receive credits →
    422 ``group_member_unavailable`` (``member_ids`` names them) and nobody is credited.
    """
    group = get_group(group_id)
    ensure_enabled(scheme)
    member_ids = member_ids_of(group.id)
    if not member_ids:
        raise ApiError(
            f"{group.name} has no members yet: add some first.", code="group_empty", status=422
        )
    try:
        result = awards.award(
            scheme,
            activity_id=activity_id,
            minutes=minutes,
            member_ids=member_ids,
            note=note,
            actor_user_id=actor_user_id,
        )
    except ApiError as error:
        bad = [
            member_ids[int(key.rsplit(".", 1)[1])]
            for key in (error.errors or {})
            if key.startswith("member_ids.")
        ]
        if not bad:
            raise
        names = ", ".join(name for _id, name in sorted(_names(bad).items()))
        raise ApiError(
            f"Nobody was credited: {names} cannot receive credits at the moment "
            "(suspended or left). Take them out of the group or reactivate them, then award again.",
            code="group_member_unavailable",
            status=422,
            extra={"member_ids": bad},
        ) from error
    audit.record(
        scheme.id,
        "group.awarded",
        actor_user_id=actor_user_id,
        target=f"group:{group.id}",
        details={"award_id": result.award.id, "members": len(member_ids)},
    )
    return result


def _names(member_ids: list[int]) -> dict[int, str]:
    rows = db.session.execute(
        select(Member.id, User.name)
        .join(User, User.id == Member.user_id)
        .where(Member.id.in_(member_ids))
    )
    return {member_id: name for member_id, name in rows}


def groups_query() -> Any:
    return select(Group)


def league() -> list[dict[str, Any]]:
    """Every group with its member count and the minutes its current members earned,
    most first (``rank`` 1 is the top; equal totals share a rank)."""
    counts = dict(
        db.session.execute(
            select(GroupMember.group_id, func.count()).group_by(GroupMember.group_id)
        ).all()
    )
    earned = dict(
        db.session.execute(
            select(GroupMember.group_id, func.coalesce(func.sum(Posting.amount), 0))
            .join(
                Account,
                and_(
                    Account.scheme_id == GroupMember.scheme_id,
                    Account.member_id == GroupMember.member_id,
                ),
            )
            .join(
                Posting,
                and_(Posting.scheme_id == Account.scheme_id, Posting.account_id == Account.id),
            )
            .join(
                Transaction,
                and_(
                    Transaction.scheme_id == Posting.scheme_id,
                    Transaction.id == Posting.transaction_id,
                ),
            )
            .where(Transaction.kind == "earn")
            .group_by(GroupMember.group_id)
        ).all()
    )
    rows: list[dict[str, Any]] = []
    for group in db.session.execute(select(Group).order_by(Group.name)).scalars():
        members = int(counts.get(group.id, 0))
        total = int(earned.get(group.id, 0))
        rows.append(
            {
                "id": group.id,
                "name": group.name,
                "kind": group.kind,
                "member_count": members,
                "total_minutes": total,
                "minutes_per_member": round(total / members) if members else 0,
            }
        )
    rows.sort(key=lambda row: (-row["total_minutes"], row["name"]))
    previous: int | None = None
    rank = 0
    for position, row in enumerate(rows, start=1):
        if row["total_minutes"] != previous:
            rank, previous = position, row["total_minutes"]
        row["rank"] = rank
    return rows
