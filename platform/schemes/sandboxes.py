"""Sandbox schemes: a scheme to try with generated people and history.

A sandbox is an ordinary scheme with ``sandbox`` set. Its generated people are
users whose address ends in ``@sandbox.invalid`` (they can never receive mail
or sign in with a password anyone knows). The generator (people and a few
weeks of claims, transfers and redemptions through the real services) is
registered by :mod:`timebank.platform.sandbox` at start-up (it reuses the demo's
history, a layer above this one). ``wipe`` removes the generated people and the
whole history, keeping the rules (policy versions), activities, rewards,
listing categories, the scheme accounts and the real coordinators; it is how a
sandbox is reset (wipe, then generate again) and turned live. A sandbox unused
for 30 days is deleted with everything in it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from timebank.platform import audit, tenancy
from timebank.platform.api.errors import RuleViolation
from timebank.platform.db import atomic, db, utcnow
from timebank.platform.identity.models import ApiToken, User
from timebank.platform.schemes.models import Scheme
from timebank.tenants.ledger.models import ZERO_HASH, Account
from timebank.tenants.memberships.models import Member

GENERATED_DOMAIN = "@sandbox.invalid"
UNUSED_DAYS = 30
# Tenant tables a sandbox keeps when it is reset or turned live.
KEPT = frozenset(
    {"activities", "rewards", "listing_categories", "policy_versions", "audit_events",
     "scheme_billing", "stripe_events", "accounts", "members", "partners", "partner_staff"}
)  # fmt: skip

Filler = Callable[[Scheme, User], None]
_fillers: list[Filler] = []


def register_sandbox_filler(filler: Filler) -> None:
    """The generator of a sandbox's people and history (registered at start-up)."""
    _fillers[:] = [filler]


def fill(scheme: Scheme, coordinator: User) -> None:
    for filler in _fillers:
        filler(scheme, coordinator)


def generated_email(scheme_id: int, n: int) -> str:
    return f"sandbox-{scheme_id}-{n}{GENERATED_DOMAIN}"


def is_generated(email: str) -> bool:
    return email.lower().endswith(GENERATED_DOMAIN)


def touch(scheme: Scheme) -> None:
    """Note that a sandbox was used now (its 30 days start again)."""
    if scheme.sandbox:
        scheme.last_used_at = utcnow()


def _generated_user_ids(scheme_id: int) -> list[int]:
    with tenancy.scheme_context(scheme_id):
        return list(
            db.session.execute(
                select(User.id)
                .join(Member, Member.user_id == User.id)
                .where(User.email.like(f"%{GENERATED_DOMAIN}"))
            ).scalars()
        )


def wipe(scheme: Scheme) -> None:
    """Remove the generated people and all history of a sandbox (inside a unit of work).

    Raises 422 ``not_a_sandbox`` for a live scheme: its people and ledger are real.
    """
    if not scheme.sandbox:
        raise RuleViolation(f"{scheme.name} is a live scheme, not a sandbox.", code="not_a_sandbox")
    users = _generated_user_ids(scheme.id)
    with tenancy.scheme_context(scheme.id):
        generated = list(
            db.session.execute(select(Member.id).where(Member.user_id.in_(users))).scalars()
        )
        for table in reversed(db.metadata.sorted_tables):
            if "scheme_id" in table.c and table.name not in KEPT:
                db.session.execute(delete(table).where(table.c.scheme_id == scheme.id))
        accounts = Account.__table__
        db.session.execute(
            delete(accounts).where(
                accounts.c.scheme_id == scheme.id, accounts.c.member_id.in_(generated)
            )
        )
        db.session.execute(
            update(accounts)
            .where(accounts.c.scheme_id == scheme.id)
            .values(balance=0, version=0, head_hash=ZERO_HASH)
        )
        events = audit.AuditEvent.__table__
        db.session.execute(
            delete(events).where(events.c.scheme_id == scheme.id, events.c.actor_user_id.in_(users))
        )
        members = Member.__table__
        db.session.execute(
            delete(members).where(members.c.scheme_id == scheme.id, members.c.id.in_(generated))
        )
    _delete_users(users)
    db.session.expire_all()


def _delete_users(user_ids: list[int]) -> None:
    if not user_ids:
        return
    # A generated person belongs to one sandbox only: nothing else refers to them.
    db.session.execute(delete(ApiToken).where(ApiToken.user_id.in_(user_ids)))
    db.session.execute(delete(User).where(User.id.in_(user_ids)))


@atomic
def go_live(scheme: Scheme, *, actor: User) -> Scheme:
    """Turn a sandbox into a live scheme: generated people and history removed."""
    db.session.refresh(scheme, with_for_update=True)
    wipe(scheme)
    scheme.sandbox = False
    scheme.last_used_at = None
    with tenancy.scheme_context(scheme.id):
        audit.record(scheme.id, "scheme.went_live", actor_user_id=actor.id,
                     target=f"scheme:{scheme.slug}", details={})  # fmt: skip
        db.session.flush()
    return scheme


@atomic
def _wipe_for_reset(scheme: Scheme) -> None:
    db.session.refresh(scheme, with_for_update=True)
    wipe(scheme)
    touch(scheme)


def reset(scheme: Scheme, *, actor: User) -> Scheme:
    """Fresh generated people and history in a sandbox (its rules kept)."""
    _wipe_for_reset(scheme)
    fill(scheme, actor)
    return scheme


@atomic
def delete_sandbox(scheme_id: int) -> None:
    scheme = db.session.get(Scheme, scheme_id)
    if scheme is None or not scheme.sandbox:
        return
    users = _generated_user_ids(scheme.id)
    with tenancy.scheme_context(scheme.id):
        for table in reversed(db.metadata.sorted_tables):
            if "scheme_id" in table.c:
                db.session.execute(delete(table).where(table.c.scheme_id == scheme.id))
    _delete_users(users)
    db.session.delete(scheme)
    db.session.flush()


def delete_unused(now: datetime | None = None) -> list[str]:
    """Delete every sandbox unused for 30 days (the scheduler, daily); their addresses."""
    cutoff = (now or utcnow()) - timedelta(days=UNUSED_DAYS)
    rows = db.session.execute(
        select(Scheme.id, Scheme.slug, Scheme.last_used_at, Scheme.created_at).where(
            Scheme.sandbox.is_(True)
        )
    ).all()
    db.session.rollback()
    gone = []
    for scheme_id, slug, last_used_at, created_at in rows:
        if (last_used_at or created_at) < cutoff:
            delete_sandbox(scheme_id)
            gone.append(slug)
    return gone
