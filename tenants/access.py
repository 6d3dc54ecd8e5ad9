"""The scheme gate: which scheme a request is about, and who the caller is in it.

Every scheme route passes through :func:`scheme_access` (the API's
``before_request`` and each page): it resolves the scheme from the URL, the
caller (session or bearer token) and their membership — in one query on the
hot path — and answers 401, 404 (a scheme the caller does not belong to looks
missing) or 403 (``coordinator_only``, ``member_suspended``,
``scheme_suspended``). :func:`readable_member` is the one rule for whose
records a read may show; :func:`read_subject` adds a child's guardian (not a
member: their one way in, for the routes that name them). Low in the layers:
it knows memberships only as rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import g, request, session
from sqlalchemy import and_, bindparam, select, update

from timebank.platform import tenancy
from timebank.platform.api.errors import Forbidden, NotFound
from timebank.platform.db import db, utcnow
from timebank.platform.identity.auth import adopt_user, bearer_token, require_user, user_pending
from timebank.platform.identity.models import ApiToken, User
from timebank.platform.identity.services import hash_token, token_admits
from timebank.platform.schemes.models import Scheme
from timebank.tenants.memberships.models import Guardian, Member

SCHEME_NOT_FOUND = "No scheme with this address, or you are not a member of it."


@dataclass
class Access:
    """The caller inside one scheme: who they are and in what role."""

    scheme: Scheme
    member: Member
    user: User
    # In a sandbox, a coordinator looking at the member pages as one of its
    # generated members: the coordinator's name (the pages show a banner).
    acting_for: str | None = None

    @property
    def is_coordinator(self) -> bool:
        return self.member.is_coordinator


def find_scheme(slug: str) -> Scheme | None:
    return db.session.execute(select(Scheme).where(Scheme.slug == slug)).scalar_one_or_none()


def scheme_access(slug: str, *, write: bool = False, coordinator: bool = False) -> Access:
    """Resolve the scheme from the URL and the caller's membership of it.

    Raises 401 with no credentials, 404 for a scheme the caller does not
    belong to (the same as a missing one), 403 ``coordinator_only``,
    ``member_suspended`` or ``scheme_suspended``. Resolved once per request.
    """
    access: Access | None = g.get("scheme_access")
    if access is None or access.scheme.slug != slug:
        access = _resolve(slug)
        g.scheme_access = access
    if coordinator and not access.is_coordinator:
        raise Forbidden("Only a coordinator of this scheme may do this.", code="coordinator_only")
    if write:
        ensure_writable(access.scheme)
        if access.member.status != "active":
            raise Forbidden(
                "Your membership of this scheme is suspended; ask a coordinator.",
                code="member_suspended",
            )
    return access


def _resolve(slug: str) -> Access:
    access = _resolve_with_token(slug)
    if access is not None:
        return access
    user = require_user()
    scheme = find_scheme(slug)
    if scheme is None:
        raise NotFound(SCHEME_NOT_FOUND)
    _scheme_ids[_scheme_key(slug)] = scheme.id
    tenancy.set_request_scheme(scheme.id)
    member = db.session.execute(
        select(Member).where(Member.user_id == user.id)
    ).scalar_one_or_none()
    access = _access(scheme, member, user)
    return _acting_as(access) or access


ACT_AS_KEY = "act_as"  # session: {slug: member id}
GENERATED_DOMAIN = "@sandbox.invalid"


def _acting_as(access: Access) -> Access | None:
    """A sandbox's coordinator seeing the pages as a generated member (signed-in pages
    only: never with a token, never in a live scheme)."""
    wanted = session.get(ACT_AS_KEY, {}).get(access.scheme.slug)
    if wanted is None or not access.scheme.sandbox or not access.is_coordinator:
        return None
    if bearer_token(request) is not None:
        return None
    row = db.session.execute(
        select(Member, User).join(User, User.id == Member.user_id).where(Member.id == wanted)
    ).first()
    if (
        row is None
        or not row.User.email.endswith(GENERATED_DOMAIN)
        or row.Member.status != "active"
    ):
        return None
    return Access(
        scheme=access.scheme, member=row.Member, user=row.User, acting_for=access.user.name
    )


def touch_sandbox(scheme: Scheme) -> None:
    """A sandbox in use: its 30 days start again (written at most hourly, on its own)."""
    if not scheme.sandbox:
        return
    now = utcnow()
    if scheme.last_used_at is not None and now - scheme.last_used_at < timedelta(hours=1):
        return
    with db.engine.begin() as connection:
        connection.execute(
            update(Scheme.__table__)
            .where(Scheme.__table__.c.id == scheme.id)
            .values(last_used_at=now)
        )


def _access(scheme: Scheme, member: Member | None, user: User) -> Access:
    """The caller inside the scheme; 404 (as for a missing scheme) unless a member."""
    if member is None or member.status == "left":
        raise NotFound(SCHEME_NOT_FOUND)
    touch_sandbox(scheme)
    return Access(scheme=scheme, member=member, user=user)


# slug → scheme id, learnt per process. Slugs never change, but the pair is
# only a hint: the query below checks it, and falls back when it does not hold.
_scheme_ids: dict[tuple[str, str], int] = {}


def _scheme_key(slug: str) -> tuple[str, str]:
    return (str(db.engine.url), slug)


# Built once: composing the statement costs more Python than running it.
_BY_TOKEN = (
    select(User, Scheme, Member, ApiToken.expires_at, ApiToken.revoked_at)
    .join(ApiToken, ApiToken.user_id == User.id)
    .join(Scheme, and_(Scheme.id == bindparam("scheme_id"), Scheme.slug == bindparam("slug")))
    .outerjoin(Member, and_(Member.scheme_id == Scheme.id, Member.user_id == User.id))
    .where(ApiToken.token_hash == bindparam("token_hash"))
)


def _resolve_with_token(slug: str) -> Access | None:
    """An API call's token, user, scheme and membership in one query (the hot path
    of every scheme endpoint), when the scheme's id is known already. ``None``:
    resolve step by step instead (which also answers 401 and 404)."""
    scheme_id = _scheme_ids.get(_scheme_key(slug))
    if scheme_id is None or not user_pending():
        return None
    token = bearer_token(request)
    if token is None:
        return None
    tenancy.set_request_scheme(scheme_id)
    row = db.session.execute(
        _BY_TOKEN, {"scheme_id": scheme_id, "slug": slug, "token_hash": hash_token(token)}
    ).first()
    if row is None or not token_admits(row.User, row.expires_at, row.revoked_at):
        tenancy.reset_request_scheme()  # step by step, from a clean slate
        return None
    adopt_user(row.User)
    return _access(row.Scheme, row.Member, row.User)


def ensure_writable(scheme: Scheme) -> None:
    if scheme.is_suspended:
        reason = f" Reason: {scheme.suspended_reason}" if scheme.suspended_reason else ""
        raise Forbidden(
            f"{scheme.name} is suspended: nothing can be changed until it is reactivated.{reason}",
            code="scheme_suspended",
        )


def get_member(member_id: int) -> Member:
    """A member of the current scheme, or 404 (also for another scheme's member)."""
    member = db.session.execute(select(Member).where(Member.id == member_id)).scalar_one_or_none()
    if member is None:
        raise NotFound("No member with this id in this scheme.")
    return member


def readable_member(
    access: Access, member_id: int | None, *, what: str, all_for_coordinators: bool = False
) -> int | None:
    """Whose records a read may show: the caller's own; any member's for coordinators.

    With no ``member_id``: the caller's own, or everyone's (``None``) for a
    coordinator when ``all_for_coordinators``. Raises 403 ``coordinator_only``
    for a member asking about someone else, 404 for another scheme's member.
    """
    if member_id is None:
        return None if all_for_coordinators and access.is_coordinator else access.member.id
    if member_id == access.member.id:
        return member_id
    if not access.is_coordinator:
        raise Forbidden(
            f"Only coordinators may look at another member's {what}.", code="coordinator_only"
        )
    return get_member(member_id).id


# --- a child's guardian ---------------------------------------------------------


@dataclass
class ReadSubject:
    """Whose records a read shows, in which scheme."""

    scheme: Scheme
    member_id: int


def read_subject(slug: str, member_id: int | None, *, what: str) -> ReadSubject:
    """:func:`readable_member`'s rule, plus a guardian reading their child (``member_id``).

    A guardian who is not a member of the scheme gets 404 for anything but
    their own child, as a stranger would.
    """
    try:
        access = scheme_access(slug)
    except NotFound:
        return ReadSubject(scheme=guardian_scheme(slug, member_id), member_id=member_id or 0)
    if (
        member_id is not None
        and member_id != access.member.id
        and not access.is_coordinator
        and is_guardian_of(access.user.id, member_id)
    ):
        return ReadSubject(scheme=access.scheme, member_id=member_id)
    subject = readable_member(access, member_id, what=what)
    assert subject is not None
    return ReadSubject(scheme=access.scheme, member_id=subject)


def guardian_scheme(slug: str, member_id: int | None) -> Scheme:
    """The scheme, when the caller is the guardian of ``member_id`` in it; else 404."""
    user = require_user()
    scheme = find_scheme(slug)
    if scheme is None or member_id is None:
        raise NotFound(SCHEME_NOT_FOUND)
    tenancy.set_request_scheme(scheme.id)
    if not is_guardian_of(user.id, member_id):
        raise NotFound(SCHEME_NOT_FOUND)
    return scheme


def guardian_gate(slug: str) -> None:
    """The credential rule of routes a guardian may call: a member, or anyone's guardian
    in the scheme (the view then checks whose child). 404 otherwise."""
    try:
        scheme_access(slug)
    except NotFound:
        user = require_user()
        scheme = find_scheme(slug)
        if scheme is None:
            raise
        tenancy.set_request_scheme(scheme.id)
        found = db.session.execute(
            select(Guardian.id).where(Guardian.user_id == user.id).limit(1)
        ).first()
        if found is None:
            raise


def is_guardian_of(user_id: int, member_id: int) -> bool:
    return (
        db.session.execute(
            select(Guardian.id).where(Guardian.user_id == user_id, Guardian.member_id == member_id)
        ).first()
        is not None
    )
