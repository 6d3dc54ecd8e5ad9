"""Partners of a scheme and their staff: who may do what at which partner.

A partner is created by a coordinator and gets its own ledger account (kind
``partner``). Its staff are users invited by a coordinator (an invitation of
role ``partner_staff`` naming the partner); accepting one writes a
``partner_staff`` row, never a membership. :func:`partner_access` is the
staff's narrow gate: the partner must be of the scheme in the URL and the
caller its staff (or a coordinator), else 404 as for a stranger.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from timebank.platform import audit, tenancy
from timebank.platform.api.errors import Conflict, Forbidden, NotFound
from timebank.platform.db import atomic, db
from timebank.platform.identity.auth import require_user
from timebank.platform.identity.models import User
from timebank.platform.identity.services import hash_token
from timebank.platform.mail import send_mail
from timebank.platform.schemes.models import Scheme
from timebank.tenants.access import SCHEME_NOT_FOUND, ensure_writable, find_scheme
from timebank.tenants.ledger.services import open_partner_account
from timebank.tenants.memberships.models import Invitation, Member
from timebank.tenants.memberships.services import register_invitation_acceptor
from timebank.tenants.partners.models import Partner, PartnerStaff

PARTNER_NOT_FOUND = "No partner with this id in this scheme."
FIELDS = (
    "name",
    "description",
    "area",
    "address",
    "opening_hours",
    "logo_url",
    "contact_email",
    "contact_phone",
    "latitude",
    "longitude",
)


@dataclass
class PartnerAccess:
    """The caller at one partner of one scheme: its staff, a coordinator, or both."""

    scheme: Scheme
    partner: Partner
    user: User
    member: Member | None
    is_staff: bool

    @property
    def is_coordinator(self) -> bool:
        return self.member is not None and self.member.is_coordinator


def _caller_in(slug: str) -> tuple[Scheme, User, Member | None]:
    user = require_user()
    scheme = find_scheme(slug)
    if scheme is None:
        raise NotFound(SCHEME_NOT_FOUND)
    tenancy.set_request_scheme(scheme.id)
    member = db.session.execute(
        select(Member).where(Member.user_id == user.id, Member.status != "left")
    ).scalar_one_or_none()
    return scheme, user, member


def staff_partner_ids(user_id: int) -> list[int]:
    """The partners of the current scheme whose staff the user is."""
    return list(
        db.session.execute(
            select(PartnerStaff.partner_id).where(PartnerStaff.user_id == user_id)
        ).scalars()
    )


def scheme_caller(slug: str) -> tuple[Scheme, User, Member | None, list[int]]:
    """A member or a partner's staff in this scheme (404 for anyone else)."""
    scheme, user, member = _caller_in(slug)
    partner_ids = staff_partner_ids(user.id)
    if member is None and not partner_ids:
        raise NotFound(SCHEME_NOT_FOUND)
    return scheme, user, member, partner_ids


def coordinator_in(slug: str, *, write: bool = True) -> tuple[Scheme, User, Member]:
    """A coordinator of the scheme (404 for strangers and staff, 403 for members)."""
    scheme, user, member = _caller_in(slug)
    if member is None:
        raise NotFound(SCHEME_NOT_FOUND)
    if not member.is_coordinator:
        raise Forbidden("Only a coordinator of this scheme may do this.", code="coordinator_only")
    if write:
        ensure_writable(scheme)
    return scheme, user, member


def partner_access(
    slug: str, partner_id: int, *, write: bool = False, coordinator: bool = False
) -> PartnerAccess:
    """The caller at a partner: its staff or the scheme's coordinator; 404 for anyone
    else (members, other partners' staff, strangers), as for a missing partner."""
    scheme, user, member = _caller_in(slug)
    partner = db.session.execute(
        select(Partner).where(Partner.id == partner_id)
    ).scalar_one_or_none()
    is_staff = partner is not None and partner.id in staff_partner_ids(user.id)
    access = PartnerAccess(scheme, partner, user, member, is_staff)  # type: ignore[arg-type]
    if partner is None or not (is_staff or access.is_coordinator):
        if member is None and not staff_partner_ids(user.id):
            raise NotFound(SCHEME_NOT_FOUND)
        raise NotFound(PARTNER_NOT_FOUND)
    if coordinator and not access.is_coordinator:
        raise Forbidden("Only a coordinator of this scheme may do this.", code="coordinator_only")
    if write:
        ensure_writable(scheme)
    return access


def partner_gate(slug: str, partner_id: int | None) -> None:
    """The partners API's gate, before a body is parsed: a member or a partner's staff of
    the scheme; with a partner in the path, its staff or a coordinator (else 404)."""
    if partner_id is None:
        scheme_caller(slug)
    else:
        partner_access(slug, partner_id)


def require_active(partner: Partner) -> None:
    if partner.status != "active":
        raise Forbidden(
            f"{partner.name} is {partner.status}: it cannot accept credits now.",
            code="partner_inactive",
        )


# --- partners -------------------------------------------------------------------


def _apply(partner: Partner, fields: dict[str, Any]) -> None:
    for name in FIELDS:
        if name in fields:
            setattr(partner, name, fields[name])
    if "categories" in fields:
        categories = sorted({c.strip().lower() for c in fields["categories"] or [] if c.strip()})
        partner.categories = ",".join(categories) or None
    if "status" in fields:
        partner.status = fields["status"]


@atomic
def create_partner(scheme: Scheme, fields: dict[str, Any], *, actor_user_id: int) -> Partner:
    """Add a partner organisation and open its account."""
    partner = Partner(scheme_id=scheme.id, status="active")
    _apply(partner, fields)
    db.session.add(partner)
    db.session.flush()
    open_partner_account(scheme.id, partner.id)
    audit.record(
        scheme.id,
        "partner.created",
        actor_user_id=actor_user_id,
        target=f"partner:{partner.id}",
        details={"name": partner.name},
    )
    return partner


@atomic
def update_partner(
    scheme: Scheme, partner_id: int, changes: dict[str, Any], *, actor_user_id: int
) -> Partner:
    partner = get_partner(partner_id, lock=True)
    before = partner.status
    _apply(partner, changes)
    audit.record(
        scheme.id,
        "partner.updated",
        actor_user_id=actor_user_id,
        target=f"partner:{partner.id}",
        details={"fields": sorted(changes), "status": [before, partner.status]},
    )
    return partner


def get_partner(partner_id: int, *, lock: bool = False) -> Partner:
    statement = select(Partner).where(Partner.id == partner_id)
    if lock:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    partner = db.session.execute(statement).scalar_one_or_none()
    if partner is None:
        raise NotFound(PARTNER_NOT_FOUND)
    return partner


def partners_query(*, everyone: bool, area: str | None = None, category: str | None = None) -> Any:
    statement = select(Partner)
    if not everyone:
        statement = statement.where(Partner.status == "active")
    if area:
        statement = statement.where(func.lower(Partner.area) == area.strip().lower())
    if category:
        # Categories are stored as a comma-separated list: match a whole entry.
        wrapped = "," + func.coalesce(Partner.categories, "") + ","
        statement = statement.where(wrapped.contains(f",{category.strip().lower()},"))
    return statement


def list_partners(
    *, everyone: bool, area: str | None = None, category: str | None = None
) -> list[Partner]:
    """Partners by name (the pages' directory and lists)."""
    statement = partners_query(everyone=everyone, area=area, category=category)
    return list(db.session.execute(statement.order_by(Partner.name)).scalars())


def describe_partner(partner: Partner) -> dict[str, Any]:
    return {
        "id": partner.id,
        "name": partner.name,
        "description": partner.description,
        "area": partner.area,
        "address": partner.address,
        "opening_hours": partner.opening_hours,
        "categories": partner.categories.split(",") if partner.categories else [],
        "logo_url": partner.logo_url,
        "contact_email": partner.contact_email,
        "contact_phone": partner.contact_phone,
        "latitude": partner.latitude,
        "longitude": partner.longitude,
        "status": partner.status,
        "created_at": partner.created_at,
    }


# --- staff ----------------------------------------------------------------------


@atomic
def invite_staff(
    scheme: Scheme, partner_id: int, *, email: str, actor: User
) -> tuple[str, Invitation]:
    """Invite someone to work at a partner's counter (mailed; only the token's hash is kept)."""
    partner = get_partner(partner_id)
    address = email.strip()
    already = db.session.execute(
        select(PartnerStaff.id)
        .join(User, User.id == PartnerStaff.user_id)
        .where(PartnerStaff.partner_id == partner.id, func.lower(User.email) == address.lower())
    ).first()
    if already is not None:
        raise Conflict(f"{address} is already staff of {partner.name}.", code="already_staff")
    token = secrets.token_urlsafe(24)
    lifetime = timedelta(days=current_app.config["INVITATION_LIFETIME_DAYS"])
    invitation = Invitation(
        scheme_id=scheme.id,
        email=address,
        role="partner_staff",
        partner_id=partner.id,
        token_hash=hash_token(token),
        expires_at=datetime.now(UTC) + lifetime,
        invited_by=actor.id,
    )
    db.session.add(invitation)
    db.session.flush()
    audit.record(
        scheme.id,
        "partner.staff_invited",
        actor_user_id=actor.id,
        target=f"partner:{partner.id}",
        details={"invitation_id": invitation.id},
    )
    send_mail(
        to=address,
        template="invitation",
        context={
            "scheme_name": scheme.name,
            "inviter": actor.name,
            "role": f"member of staff at {partner.name}",
            "link": f"{current_app.config['BASE_URL']}/invitations/{token}",
            "expires_at": invitation.expires_at,
        },
    )
    return token, invitation


def accept_staff_invitation(scheme: Scheme, invitation: Invitation, user: User) -> dict[str, Any]:
    """Become staff of the invitation's partner (no membership), inside the accept's unit
    of work (which checked the invitation and marks it used); already staff: no change."""
    partner = get_partner(invitation.partner_id or 0)
    existing = db.session.execute(
        select(PartnerStaff).where(
            PartnerStaff.partner_id == partner.id, PartnerStaff.user_id == user.id
        )
    ).scalar_one_or_none()
    if existing is None:
        db.session.add(
            PartnerStaff(
                scheme_id=scheme.id,
                partner_id=partner.id,
                user_id=user.id,
                invitation_id=invitation.id,
            )
        )
    audit.record(
        scheme.id,
        "partner.staff_joined",
        actor_user_id=user.id,
        target=f"partner:{partner.id}",
        details={"user_id": user.id},
    )
    return {
        "scheme": scheme.slug,
        "partner_id": partner.id,
        "partner_name": partner.name,
        "role": "partner_staff",
        "status": "active",
    }


register_invitation_acceptor("partner_staff", accept_staff_invitation)


def partners_of(user: User) -> list[dict[str, Any]]:
    """Every partner, in every scheme, whose staff the user is (``GET /me``)."""
    with tenancy.all_schemes():
        rows = db.session.execute(
            select(Scheme.slug, Scheme.name, Partner.id, Partner.name, Partner.status)
            .select_from(PartnerStaff)
            .join(
                Partner,
                (Partner.scheme_id == PartnerStaff.scheme_id)
                & (Partner.id == PartnerStaff.partner_id),
            )
            .join(Scheme, Scheme.id == PartnerStaff.scheme_id)
            .where(PartnerStaff.user_id == user.id)
            .order_by(Scheme.name, Partner.name)
        ).all()
    return [
        {
            "scheme": slug,
            "scheme_name": scheme_name,
            "partner_id": partner_id,
            "name": name,
            "status": status,
        }
        for slug, scheme_name, partner_id, name, status in rows
    ]


def first_name(name: str) -> str:
    """All that partner staff ever see of a member."""
    return (name.split() or ["A member"])[0]
