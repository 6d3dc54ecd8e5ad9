"""Platform operators: the tenants at a glance and platform-wide figures (cross-tenant reads)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from timebank.platform import links, tenancy
from timebank.platform.api.pagination import keyset_page
from timebank.platform.db import atomic, db
from timebank.platform.identity.models import User
from timebank.platform.mail import send_mail
from timebank.platform.schemes.models import Scheme
from timebank.platform.schemes.services import set_scheme_status
from timebank.tenants.ledger.models import (
    Account,
    Posting,
    Transaction,
    posting_account,
    posting_transaction,
)
from timebank.tenants.memberships.models import Member
from timebank.tenants.memberships.services import coordinators_to_mail


def scheme_page(limit: int, cursor: str | None) -> tuple[list[Scheme], str | None]:
    """One page of every scheme on the platform, oldest first (operators)."""

    return keyset_page(
        select(Scheme).where(Scheme.sandbox.is_(False)),  # sandboxes are nobody's business
        keys=[Scheme.id],
        limit=limit,
        cursor=cursor,
        descending=False,
        key_of=lambda scheme: [scheme.id],
    )


def describe_schemes(rows: list[Scheme]) -> list[dict[str, Any]]:
    """Schemes with their active member counts (one query for any number)."""

    ids = [scheme.id for scheme in rows]
    counts: dict[int, int] = {}
    if ids:
        with tenancy.all_schemes():
            counts = dict(
                db.session.execute(  # type: ignore[arg-type]
                    select(Member.scheme_id, func.count())
                    .where(Member.scheme_id.in_(ids), Member.status == "active")
                    .group_by(Member.scheme_id)
                ).all()
            )
    return [
        {
            "slug": scheme.slug,
            "name": scheme.name,
            "status": scheme.status,
            "plan": scheme.plan,
            "template": scheme.template,
            "members": counts.get(scheme.id, 0),
            "created_at": scheme.created_at,
            "suspended_reason": scheme.suspended_reason,
        }
        for scheme in rows
    ]


def platform_stats() -> dict[str, int]:

    # Sandboxes (generated people and history) are left out of every figure.
    live = select(Scheme.id).where(Scheme.sandbox.is_(False)).scalar_subquery()
    with tenancy.all_schemes():
        schemes = db.session.execute(
            select(func.count()).select_from(Scheme).where(Scheme.sandbox.is_(False))
        ).scalar_one()
        members = db.session.execute(
            select(func.count())
            .select_from(Member)
            .where(Member.status == "active", Member.scheme_id.in_(live))
        ).scalar_one()
        transactions = db.session.execute(
            select(func.count()).select_from(Transaction).where(Transaction.scheme_id.in_(live))
        ).scalar_one()
        transferred = db.session.execute(
            select(func.coalesce(func.sum(Transaction.amount), 0)).where(
                Transaction.kind == "transfer", Transaction.scheme_id.in_(live)
            )
        ).scalar_one()
        # The paying leg of an exchange is the one that debits a member account.
        paid_across = db.session.execute(
            select(func.coalesce(func.sum(-Posting.amount), 0))
            .join(Transaction, posting_transaction())
            .join(Account, posting_account())
            .where(
                Transaction.kind == "exchange",
                Account.kind == "member",
                Posting.amount < 0,
                Posting.scheme_id.in_(live),
            )
        ).scalar_one()
    return {
        "schemes": int(schemes),
        "members": int(members),
        "transactions": int(transactions),
        "minutes_exchanged": int(transferred) + int(paid_across),
    }


@atomic
def change_scheme_status(slug: str, status: str, *, actor: User, reason: str | None) -> Scheme:
    """An operator suspends or reactivates a scheme; its coordinators are told by mail.

    The mails are queued in the same unit of work (nothing goes out if it
    fails) and only when the status really changes.
    """
    before = db.session.execute(select(Scheme.status).where(Scheme.slug == slug)).scalar()
    scheme = set_scheme_status(slug, status, actor=actor, reason=reason)
    if before != scheme.status:
        mail_coordinators_of_status(scheme)
    return scheme


def mail_coordinators_of_status(scheme: Scheme) -> None:
    people = coordinators_to_mail(scheme.id)
    link = links.link(f"/s/{scheme.slug}/manage/", remembered=scheme.link_base)
    for email, name in people:
        send_mail(
            to=email,
            template="scheme_status",
            context={
                "scheme_name": scheme.name,
                "name": name,
                "suspended": scheme.status == "suspended",
                "status_text": "suspended" if scheme.status == "suspended" else "active again",
                "reason": scheme.suspended_reason,
                "link": link,
            },
        )
