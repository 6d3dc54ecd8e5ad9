"""Who may touch a scheme's referrals: its coordinators, and its referrers (their own only).

A referrer is not a member, so the scheme gate (:func:`timebank.tenants.access.scheme_access`)
answers 404 to them on every other route of the scheme, API and pages, as to a stranger.
The referral routes resolve the caller here instead: a coordinator, or an active referrer;
a member who is neither gets 403 ``coordinator_only``; anyone else 404.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import g
from sqlalchemy import select

from timebank.platform import tenancy
from timebank.platform.api.errors import Forbidden, NotFound
from timebank.platform.db import db
from timebank.platform.identity.auth import require_user
from timebank.platform.identity.models import User
from timebank.platform.schemes.models import Scheme
from timebank.tenants.access import SCHEME_NOT_FOUND, ensure_writable, find_scheme
from timebank.tenants.memberships.models import Member
from timebank.tenants.referrals.models import Referrer


@dataclass
class ReferralAccess:
    scheme: Scheme
    user: User
    member: Member | None
    referrer: Referrer | None

    @property
    def is_coordinator(self) -> bool:
        return self.member is not None and self.member.is_coordinator


def referral_access(slug: str, *, write: bool = False, coordinator: bool = False) -> ReferralAccess:
    """The caller as a coordinator or a referrer of the scheme in the URL.

    401 without credentials; 404 for anyone who is neither a member nor an active
    referrer (the same as a missing scheme); 403 ``coordinator_only`` for a member who is
    not a coordinator, and for a referrer on a coordinator's route (``coordinator``).
    """
    access: ReferralAccess | None = g.get("referral_access")
    if access is None or access.scheme.slug != slug:
        access = _resolve(slug)
        g.referral_access = access
    if coordinator and not access.is_coordinator:
        if access.member is None:
            raise NotFound(SCHEME_NOT_FOUND)  # a referrer: nothing but their own referrals
        raise Forbidden("Only a coordinator of this scheme may do this.", code="coordinator_only")
    if write:
        ensure_writable(access.scheme)
    return access


def _resolve(slug: str) -> ReferralAccess:
    user = require_user()
    scheme = find_scheme(slug)
    if scheme is None:
        raise NotFound(SCHEME_NOT_FOUND)
    tenancy.set_request_scheme(scheme.id)
    member = db.session.execute(
        select(Member).where(Member.user_id == user.id, Member.status != "left")
    ).scalar_one_or_none()
    referrer = db.session.execute(
        select(Referrer).where(Referrer.user_id == user.id, Referrer.status == "active")
    ).scalar_one_or_none()
    access = ReferralAccess(scheme=scheme, user=user, member=member, referrer=referrer)
    if access.is_coordinator or referrer is not None:
        return access
    if member is not None:
        raise Forbidden("Only a coordinator of this scheme may do this.", code="coordinator_only")
    raise NotFound(SCHEME_NOT_FOUND)
