"""Mail about listings and responses: one plain template, a few lines and a link.

Messages go out after the unit of work commits (``send_mail`` queues them);
nothing personal is logged. Names follow the scheme's directory setting as
the recipient would see it on the pages.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from timebank.platform import links
from timebank.platform.db import db
from timebank.platform.identity.models import User
from timebank.platform.mail import send_mail
from timebank.platform.schemes.models import Scheme
from timebank.tenants.memberships.models import Member


def link(scheme: Scheme, path: str) -> str:
    return links.link(f"/s/{scheme.slug}{path}", remembered=scheme.link_base)


def member_users(member_ids: Iterable[int]) -> dict[int, User]:
    """The users behind members (one query)."""
    ids = sorted(set(member_ids))
    if not ids:
        return {}
    rows = db.session.execute(
        select(Member.id, User).join(User, User.id == Member.user_id).where(Member.id.in_(ids))
    ).all()
    return {member_id: user for member_id, user in rows}


def coordinator_users() -> list[User]:
    return list(
        db.session.execute(
            select(User)
            .join(Member, Member.user_id == User.id)
            .where(Member.role == "coordinator", Member.status == "active")
            .order_by(Member.id)
        ).scalars()
    )


def notify(
    users: Iterable[User],
    scheme: Scheme,
    *,
    subject: str,
    lines: list[str],
    path: str,
    link_text: str,
) -> None:
    """Mail each user (disabled accounts are skipped) the same short notice."""
    for user in users:
        if user.is_disabled:
            continue
        send_mail(
            to=user.email,
            template="listing_notice",
            context={
                "subject": subject,
                "name": user.name,
                "scheme_name": scheme.name,
                "lines": lines,
                "link": link(scheme, path),
                "link_text": link_text,
            },
        )
