"""The scheme registry: self-service sign-up from a template, suspension, lookups.

Creating a scheme writes the platform row, then runs the *provisioners* that
the tenant packages register (policy, ledger accounts, the creator's
membership, activities, rewards) in one unit of work, so a scheme is either
fully set up or not there at all.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from timebank.platform import audit, links, tenancy
from timebank.platform.api.errors import Conflict, FieldError, NotFound
from timebank.platform.db import atomic, db
from timebank.platform.identity.models import User
from timebank.platform.schemes.models import Scheme
from timebank.tenants.templates import load_template

SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,38})[a-z0-9]$|^[a-z0-9]{3}$")
RESERVED_SLUGS = frozenset(
    {
        "about", "account", "admin", "api", "app", "assets", "billing", "blog", "dashboard",
        "docs", "healthz", "help", "home", "invitations", "login", "logout", "mail", "me",
        "new", "operator", "operators", "platform", "readyz", "root", "schemes", "settings",
        "signup", "sign-up", "static", "status", "support", "system", "timebank", "www",
    }
)  # fmt: skip

Provisioner = Callable[[Scheme, dict[str, Any], User], None]
_provisioners: list[tuple[int, str, Provisioner]] = []


def provisioner(order: int) -> Callable[[Provisioner], Provisioner]:
    """Register a step that sets up a new scheme from its template data."""

    def register(fn: Provisioner) -> Provisioner:
        name = f"{fn.__module__}.{fn.__qualname__}"
        if all(existing != name for _, existing, _ in _provisioners):
            _provisioners.append((order, name, fn))
            _provisioners.sort(key=lambda item: (item[0], item[1]))
        return fn

    return register


def slug_problem(slug: str) -> str | None:
    if not SLUG_PATTERN.fullmatch(slug):
        return "Use 3–40 lowercase letters, digits and hyphens, starting and ending with a letter or digit."
    if slug in RESERVED_SLUGS:
        return "This address is reserved; choose another."
    return None


def slug_taken(slug: str) -> bool:
    return db.session.execute(select(Scheme.id).where(Scheme.slug == slug)).first() is not None


def slug_from_name(name: str) -> str:
    """``"St Mary's Time-Bank!"`` → ``"st-marys-time-bank"`` (ASCII, at most 40 characters)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    words = re.sub(r"['’]", "", ascii_name.lower())
    slug = re.sub(r"[^a-z0-9]+", "-", words).strip("-")[:40].strip("-")
    return slug if len(slug) >= 3 else ""


def check_slug(slug: str) -> str | None:
    """Why this address cannot be had (the rule, reserved or taken), or None."""
    problem = slug_problem(slug)
    if problem is None and slug_taken(slug):
        problem = f"The address '{slug}' is already taken."
    return problem


def suggest_slug(name: str) -> str:
    """A free address made from the scheme's name: the name itself, else name-2, name-3 …"""
    base = slug_from_name(name)
    if not base:
        return ""
    for n in range(1, 50):
        candidate = base if n == 1 else f"{base[: 40 - len(str(n)) - 1].rstrip('-')}-{n}"
        if check_slug(candidate) is None:
            return candidate
    return ""


def timezone_problem(name: str) -> str | None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return "Not a known IANA time zone (for example Europe/London)."
    return None


@atomic
def create_scheme(
    *,
    name: str,
    slug: str,
    template: str,
    creator: User,
    timezone: str = "Europe/London",
    template_data: dict[str, Any] | None = None,
    sandbox: bool = False,
) -> Scheme:
    """Create a scheme from a sector template; the creator becomes its coordinator.

    A ``sandbox`` is created empty here; the caller generates its people and history
    (:func:`timebank.platform.schemes.sandboxes.fill`).
    """

    for field, problem in (("slug", slug_problem(slug)), ("timezone", timezone_problem(timezone))):
        if problem:
            raise FieldError(field, problem)
    if db.session.execute(select(Scheme.id).where(Scheme.slug == slug)).first():
        raise Conflict(f"The address '{slug}' is already taken.", code="slug_taken")
    scheme = Scheme(
        name=name.strip(),
        slug=slug,
        template=template,
        timezone=timezone,
        created_by=creator.id,
        link_base=links.enqueued_base(),
        sandbox=sandbox,
        last_used_at=datetime.now(UTC) if sandbox else None,
    )
    db.session.add(scheme)
    try:
        db.session.flush()
    except IntegrityError as error:
        raise Conflict(f"The address '{slug}' is already taken.", code="slug_taken") from error
    data = template_data or load_template(template)
    with tenancy.scheme_context(scheme.id):
        for _order, _name, step in _provisioners:
            step(scheme, data, creator)
        audit.record(
            scheme.id,
            "scheme.created",
            actor_user_id=creator.id,
            target=f"scheme:{scheme.slug}",
            details={"template": template, "timezone": timezone, "sandbox": sandbox},
        )
        db.session.flush()
    return scheme


@atomic
def set_scheme_status(slug: str, status: str, *, actor: User, reason: str | None = None) -> Scheme:
    """Suspend or reactivate a scheme (operators; billing's dunning)."""
    scheme = db.session.execute(
        select(Scheme).where(Scheme.slug == slug).with_for_update()
    ).scalar_one_or_none()
    if scheme is None:
        raise NotFound("No scheme with this address.")
    before = scheme.status
    scheme.status = status
    scheme.suspended_reason = reason if status == "suspended" else None
    scheme.suspended_at = datetime.now(UTC) if status == "suspended" else None
    with tenancy.scheme_context(scheme.id):
        audit.record(
            scheme.id,
            f"scheme.{'suspended' if status == 'suspended' else 'reactivated'}",
            actor_user_id=actor.id,
            target=f"scheme:{scheme.slug}",
            details={"before": before, "reason": reason},
        )
        db.session.flush()
    return scheme
