"""Referrals: a referrer, a referral link or a coordinator refers a patient; the queue.

Each referral is worked through ``referred → contacted → joined → first_exchange
→ active`` (``active`` only three months — 91 days — after joining), or closed as
``declined`` or ``lost`` (with the coordinator's reason in ``note``) from any
open stage; any other change is 422 ``invalid_transition``. The date each stage
was reached is kept, so the funnel of a period counts how far the referrals
made in it got. Audit entries name the referral and the stages, never the
person's name, contact or the note. When a referral joins, its referrer is mailed.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select

from timebank.platform import audit, tenancy
from timebank.platform.api.errors import ApiError, Conflict, FieldError, Gone, NotFound
from timebank.platform.db import atomic, db, utcnow
from timebank.platform.identity.models import User
from timebank.platform.identity.services import hash_token
from timebank.platform.mail import send_mail
from timebank.platform.schemes.models import Scheme
from timebank.tenants.memberships.models import Invitation
from timebank.tenants.memberships.services import register_invitation_acceptor
from timebank.tenants.policy.services import current_policy
from timebank.tenants.referrals.models import REASONS, Referral, ReferralLink, Referrer

STAGES = ("referred", "contacted", "joined", "first_exchange", "active")
CLOSED = ("declined", "lost")
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "referred": ("contacted", "declined", "lost"),
    "contacted": ("joined", "declined", "lost"),
    "joined": ("first_exchange", "lost"),
    "first_exchange": ("active", "lost"),
    "active": (),
    "declined": (),
    "lost": (),
}
ACTIVE_AFTER = timedelta(days=91)
STAMP = {
    "contacted": "contacted_at",
    "joined": "joined_at",
    "first_exchange": "first_exchange_at",
    "active": "active_at",
    "declined": "closed_at",
    "lost": "closed_at",
}
REASON_LABELS = {
    "loneliness": "Loneliness or isolation",
    "low_mood": "Low mood or anxiety",
    "long_term_condition": "Living with a long-term condition",
    "carer_support": "Support for a carer",
    "bereavement": "Bereavement",
    "physical_activity": "Getting more active",
    "practical_help": "Practical help at home",
    "other": "Something else",
}
STATUS_LABELS = {
    "referred": "Referred",
    "contacted": "Contacted",
    "joined": "Joined",
    "first_exchange": "First exchange",
    "active": "Active",
    "declined": "Declined",
    "lost": "Lost touch",
}
assert set(REASON_LABELS) == set(REASONS)


def ensure_enabled(scheme: Scheme) -> None:
    if not current_policy(scheme)["referrals"]["enabled"]:
        raise ApiError(
            "Referrals are switched off in this scheme's rules (referrals.enabled).",
            code="referrals_disabled",
            status=403,
        )


# --- referrers --------------------------------------------------------------------------


def _accept_referrer(scheme: Scheme, invitation: Invitation, user: User) -> dict[str, Any]:
    """Accepting a ``referrer`` invitation: a referrer row (never a membership)."""
    referrer = db.session.execute(
        select(Referrer).where(Referrer.user_id == user.id).with_for_update()
    ).scalar_one_or_none()
    if referrer is not None and referrer.status == "active":
        raise Conflict(f"You are a referrer of {scheme.name} already.", code="already_referrer")
    if referrer is None:
        referrer = Referrer(scheme_id=scheme.id, user_id=user.id, invited_by=invitation.invited_by)
        db.session.add(referrer)
    referrer.status = "active"
    db.session.flush()
    audit.record(
        scheme.id,
        "referrer.joined",
        actor_user_id=user.id,
        target=f"referrer:{referrer.id}",
        details={"invitation_id": invitation.id},
    )
    return {
        "referrer_id": referrer.id,
        "scheme": scheme.slug,
        "role": "referrer",
        "status": "active",
    }


register_invitation_acceptor("referrer", _accept_referrer)


def schemes_referred_to(user_id: int) -> list[Scheme]:
    """The schemes a user is an active referrer of (their home page links to them)."""
    with tenancy.all_schemes():
        return list(
            db.session.execute(
                select(Scheme)
                .join(Referrer, Referrer.scheme_id == Scheme.id)
                .where(Referrer.user_id == user_id, Referrer.status == "active")
                .order_by(Scheme.name)
            ).scalars()
        )


def referrers() -> list[dict[str, Any]]:
    rows = db.session.execute(
        select(Referrer, User.name, User.email)
        .join(User, User.id == Referrer.user_id)
        .order_by(Referrer.id)
    ).all()
    return [
        {
            "id": r.id,
            "name": name,
            "email": email,
            "status": r.status,
            "created_at": r.created_at,
        }
        for r, name, email in rows
    ]


@atomic
def remove_referrer(scheme: Scheme, referrer_id: int, *, actor_user_id: int) -> None:
    """A referrer no longer refers (their past referrals stay in the queue)."""
    referrer = db.session.execute(
        select(Referrer).where(Referrer.id == referrer_id)
    ).scalar_one_or_none()
    if referrer is None:
        raise NotFound("No referrer with this id in this scheme.")
    if referrer.status != "removed":
        referrer.status = "removed"
        audit.record(
            scheme.id,
            "referrer.removed",
            actor_user_id=actor_user_id,
            target=f"referrer:{referrer.id}",
        )


# --- referral links ---------------------------------------------------------------------


def link_url(token: str) -> str:
    return f"{current_app.config['BASE_URL']}/refer/{token}"


@atomic
def create_link(scheme: Scheme, *, label: str, actor_user_id: int) -> tuple[str, ReferralLink]:
    """A new referral link (only its hash is kept: the token is shown once)."""
    ensure_enabled(scheme)
    token = secrets.token_urlsafe(24)
    link = ReferralLink(
        scheme_id=scheme.id,
        label=label.strip(),
        token_hash=hash_token(token),
        created_by=actor_user_id,
    )
    db.session.add(link)
    db.session.flush()
    audit.record(
        scheme.id,
        "referral_link.created",
        actor_user_id=actor_user_id,
        target=f"referral_link:{link.id}",
    )
    return token, link


def links() -> list[ReferralLink]:
    return list(db.session.execute(select(ReferralLink).order_by(ReferralLink.id.desc())).scalars())


@atomic
def revoke_link(scheme: Scheme, link_id: int, *, actor_user_id: int) -> ReferralLink:
    link = db.session.execute(
        select(ReferralLink).where(ReferralLink.id == link_id)
    ).scalar_one_or_none()
    if link is None:
        raise NotFound("No referral link with this id in this scheme.")
    if link.revoked_at is None:
        link.revoked_at = utcnow()
        audit.record(
            scheme.id,
            "referral_link.revoked",
            actor_user_id=actor_user_id,
            target=f"referral_link:{link.id}",
        )
    return link


def link_for_token(token: str) -> tuple[ReferralLink, Scheme]:
    """The open link a token names, in its scheme's context; unknown or revoked → 410."""
    with tenancy.all_schemes():
        link = db.session.execute(
            select(ReferralLink).where(ReferralLink.token_hash == hash_token(token))
        ).scalar_one_or_none()
    scheme = db.session.get(Scheme, link.scheme_id) if link is not None else None
    if link is None or scheme is None or link.revoked_at is not None:
        raise Gone(
            "This referral link is not valid, or the practice has withdrawn it.",
            code="referral_link_invalid",
        )
    tenancy.set_request_scheme(scheme.id)
    if not current_policy(scheme)["referrals"]["enabled"]:
        raise Gone("This scheme takes no referrals at the moment.", code="referral_link_invalid")
    return link, scheme


# --- referrals --------------------------------------------------------------------------


@atomic
def create_referral(
    scheme: Scheme,
    *,
    name: str,
    contact: str,
    reason: str,
    consent: bool,
    referrer_id: int | None = None,
    link_id: int | None = None,
    actor_user_id: int | None = None,
) -> Referral:
    """Record a referral (status ``referred``); ``consent`` must be true (422 on it)."""
    ensure_enabled(scheme)
    if consent is not True:
        raise FieldError(
            "consent", "The person must agree to be referred: tick to confirm they have."
        )
    referral = Referral(
        scheme_id=scheme.id,
        name=" ".join(name.split()),
        contact=contact.strip(),
        reason=reason,
        consent=True,
        status="referred",
        referrer_id=referrer_id,
        link_id=link_id,
        created_by=actor_user_id,
    )
    db.session.add(referral)
    db.session.flush()
    via = "referrer" if referrer_id else "link" if link_id else "coordinator"
    audit.record(
        scheme.id,
        "referral.created",
        actor_user_id=actor_user_id,
        target=f"referral:{referral.id}",
        details={"reason": reason, "via": via},
    )
    return referral


def referrals_query(*, referrer_id: int | None, status: str | None = None) -> Any:
    """Referrals, every one (``referrer_id`` None: a coordinator) or one referrer's."""
    statement = select(Referral)
    if referrer_id is not None:
        statement = statement.where(Referral.referrer_id == referrer_id)
    if status is not None:
        statement = statement.where(Referral.status == status)
    return statement


def recent(
    *, referrer_id: int | None, status: str | None = None, limit: int = 200
) -> list[Referral]:
    """The newest referrals (a referrer's own, or all for ``referrer_id`` None)."""
    statement = referrals_query(referrer_id=referrer_id, status=status)
    return list(db.session.execute(statement.order_by(Referral.id.desc()).limit(limit)).scalars())


def get_referral(referral_id: int, *, referrer_id: int | None) -> Referral:
    """A referral of this scheme (a referrer's own only), or 404."""
    referral = db.session.execute(
        referrals_query(referrer_id=referrer_id).where(Referral.id == referral_id)
    ).scalar_one_or_none()
    if referral is None:
        raise NotFound("No referral with this id.")
    return referral


@atomic
def change_status(
    scheme: Scheme,
    referral_id: int,
    *,
    status: str,
    note: str | None,
    actor_user_id: int,
    now: datetime | None = None,
) -> Referral:
    """Move a referral to its next stage, or close it (``note`` required then).

    Not a next stage → 422 ``invalid_transition`` (``referral_status`` in the body);
    ``active`` before three months from joining → 422 ``too_early_for_active``.
    """
    ensure_enabled(scheme)
    referral = db.session.execute(
        select(Referral).where(Referral.id == referral_id).with_for_update()
    ).scalar_one_or_none()
    if referral is None:
        raise NotFound("No referral with this id.")
    now = now or utcnow()
    previous = referral.status
    if status not in TRANSITIONS[previous]:
        allowed = ", ".join(TRANSITIONS[previous]) or "nothing: it is closed"
        raise ApiError(
            f"A referral that is {STATUS_LABELS[previous].lower()} cannot become "
            f"{STATUS_LABELS[status].lower()}; next it can be: {allowed}.",
            code="invalid_transition",
            status=422,
            extra={"referral_status": previous},
        )
    if status in CLOSED and not (note and note.strip()):
        raise FieldError("note", "Say why the referral is closed (only coordinators see this).")
    if status == "active":
        joined = referral.joined_at
        assert joined is not None
        if joined.tzinfo is None:
            joined = joined.replace(tzinfo=UTC)
        if now < joined + ACTIVE_AFTER:
            ready = (joined + ACTIVE_AFTER).date()
            raise ApiError(
                f"A referral counts as active three months after joining: from {ready:%d %B %Y}.",
                code="too_early_for_active",
                status=422,
                extra={"active_from": ready.isoformat()},
            )
    referral.status = status
    setattr(referral, STAMP[status], now)
    if note is not None:
        referral.note = note.strip() or None
    audit.record(
        scheme.id,
        "referral.status_changed",
        actor_user_id=actor_user_id,
        target=f"referral:{referral.id}",
        details={"from": previous, "to": status},
    )
    if status == "joined" and referral.referrer_id is not None:
        _mail_referrer(scheme, referral)
    return referral


def _mail_referrer(scheme: Scheme, referral: Referral) -> None:
    row = db.session.execute(
        select(User.email, User.name)
        .join(Referrer, Referrer.user_id == User.id)
        .where(Referrer.id == referral.referrer_id, Referrer.status == "active")
    ).first()
    if row is None:
        return
    send_mail(
        to=row.email,
        template="referral_joined",
        context={
            "name": row.name,
            "scheme_name": scheme.name,
            "referral_id": referral.id,
            "referred_on": referral.created_at,
            "link": f"{current_app.config['BASE_URL']}/s/{scheme.slug}/referrals/",
        },
    )


def describe(referral: Referral, *, for_coordinator: bool) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": referral.id,
        "name": referral.name,
        "contact": referral.contact,
        "reason": referral.reason,
        "status": referral.status,
        "created_at": referral.created_at,
        "contacted_at": referral.contacted_at,
        "joined_at": referral.joined_at,
        "first_exchange_at": referral.first_exchange_at,
        "active_at": referral.active_at,
        "closed_at": referral.closed_at,
    }
    if for_coordinator:
        via = "referrer" if referral.referrer_id else "link" if referral.link_id else "coordinator"
        item.update(
            note=referral.note, referrer_id=referral.referrer_id, link_id=referral.link_id, via=via
        )
    return item


# --- the funnel -------------------------------------------------------------------------


@dataclass
class Funnel:
    start: date
    end: date
    counts: dict[str, int]


def funnel(scheme: Scheme, start: date, end: date) -> Funnel:
    """How far the referrals made from ``start`` to ``end`` (inclusive, the scheme's days) got:
    each stage counts those that reached it or beyond; ``declined`` and ``lost`` those closed."""
    zone = ZoneInfo(scheme.timezone)
    low = datetime.combine(start, time(), zone).astimezone(UTC)
    high = datetime.combine(end + timedelta(days=1), time(), zone).astimezone(UTC)
    rows = db.session.execute(
        select(Referral).where(Referral.created_at >= low, Referral.created_at < high)
    ).scalars()
    counts = dict.fromkeys((*STAGES, *CLOSED), 0)
    for referral in rows:
        counts["referred"] += 1
        for stage in STAGES[1:]:
            if getattr(referral, STAMP[stage]) is not None:
                counts[stage] += 1
        if referral.status in CLOSED:
            counts[referral.status] += 1
    return Funnel(start=start, end=end, counts=counts)
