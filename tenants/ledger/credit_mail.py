"""Mails to members who receive credits: paid, given an award, given a gift.

Each is switchable in the member's settings (``member_mail_settings``; no row:
all on). A notice is recorded in the unit of work that moved the credits
(``credit_notices``) and mailed in it too (through the job outbox), unless the
member already had ``CREDIT_MAIL_BURST`` (default 3) single credit mails in the
last hour: then it waits, and the worker's scheduler sends each member one
digest of everything waiting, every hour (:func:`send_credit_digests`); that
run also forgets notices mailed more than a week ago.

What a mail says: how much, and from whom — another member named as the
scheme's ``privacy.member_directory`` shows names to members (full, first
name, "a member" when hidden), "a member of <scheme>" for a payment from a
partner scheme, the activity for an award. Never the payer's message or a
coordinator's note (free text of other people). Members without an e-mail
address (managed members) get no mail.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import aliased

from timebank.platform import links, tenancy
from timebank.platform.db import atomic, db, utcnow
from timebank.platform.identity.models import User
from timebank.platform.jobs import job
from timebank.platform.mail import send_mail
from timebank.platform.schemes.models import Scheme
from timebank.tenants.earning.models import Activity
from timebank.tenants.ledger.models import CreditNotice
from timebank.tenants.ledger.posting import format_minutes
from timebank.tenants.memberships.models import MailSettings, Member
from timebank.tenants.policy.services import current_policy

WINDOW = timedelta(hours=1)
KEEP_MAILED = timedelta(days=7)
SETTINGS = ("paid", "awarded", "gifted")


def burst_limit() -> int:
    """Single credit mails a member gets in an hour before the rest wait for the digest."""
    return int(current_app.config.get("CREDIT_MAIL_BURST", 3))


def mail_settings(member_id: int) -> dict[str, bool]:
    """A member's credit-mail switches (all on unless they turned one off)."""
    row = db.session.execute(
        select(MailSettings).where(MailSettings.member_id == member_id)
    ).scalar_one_or_none()
    if row is None:
        return dict.fromkeys(SETTINGS, True)
    return {kind: bool(getattr(row, kind)) for kind in SETTINGS}


@atomic
def set_mail_settings(scheme: Scheme, member_id: int, changes: dict[str, bool]) -> dict[str, bool]:
    """Switch some of a member's credit mails on or off; the settings after."""
    row = db.session.execute(
        select(MailSettings).where(MailSettings.member_id == member_id)
    ).scalar_one_or_none()
    if row is None:
        row = MailSettings(scheme_id=scheme.id, member_id=member_id)
        for kind in SETTINGS:
            setattr(row, kind, True)
        db.session.add(row)
    for kind, value in changes.items():
        if kind in SETTINGS:
            setattr(row, kind, bool(value))
    row.updated_at = utcnow()
    db.session.flush()
    return {kind: bool(getattr(row, kind)) for kind in SETTINGS}


def _recipient(member_id: int) -> tuple[str, str] | None:
    """The member's address and name, or ``None`` (no address, or not an active member)."""
    row = db.session.execute(
        select(User.email, User.name)
        .join(Member, Member.user_id == User.id)
        .where(Member.id == member_id, Member.status == "active")
    ).first()
    if row is None or not (row.email or "").strip():
        return None
    return row.email, row.name


def notify_credit(
    scheme: Scheme,
    *,
    member_id: int,
    kind: str,
    amount: int,
    transaction_id: int,
    from_member_id: int | None = None,
    from_scheme_id: int | None = None,
    activity_id: int | None = None,
) -> None:
    """Record that ``member_id`` received ``amount``; mail it now or leave it for the digest.

    Call inside the unit of work that posted ``transaction_id`` (in ``scheme``'s context).
    One read (the recipient, their switches, their recent mails, the payer's name) and
    one insert, whatever happens.
    """
    if amount <= 0 or kind not in SETTINGS:
        return
    now = utcnow()
    recent = (
        select(func.count())
        .select_from(CreditNotice)
        .where(
            CreditNotice.member_id == member_id,
            CreditNotice.in_digest.is_(False),
            CreditNotice.mailed_at >= now - WINDOW,
        )
        .scalar_subquery()
    )
    payer_member, payer_user = aliased(Member), aliased(User)
    payer_name = (
        select(payer_user.name)
        .join(payer_member, payer_member.user_id == payer_user.id)
        .where(payer_member.id == (from_member_id or 0))
        .scalar_subquery()
    )
    switch = getattr(MailSettings, kind)
    row = db.session.execute(
        select(User.email, User.name, switch, recent, payer_name)
        .select_from(Member)
        .join(User, User.id == Member.user_id)
        .outerjoin(
            MailSettings,
            (MailSettings.scheme_id == Member.scheme_id) & (MailSettings.member_id == Member.id),
        )
        .where(Member.id == member_id, Member.status == "active")
    ).first()
    if row is None or not (row[0] or "").strip() or row[2] is False:
        return  # not an active member, no address (a managed member), or switched off
    email, name, _wanted, recent_count, from_name = row
    notice = CreditNotice(
        scheme_id=scheme.id,
        member_id=member_id,
        kind=kind,
        amount=amount,
        transaction_id=transaction_id,
        from_member_id=from_member_id,
        from_scheme_id=from_scheme_id,
        activity_id=activity_id,
        link_base=links.enqueued_base(),
        in_digest=False,
    )
    if recent_count < burst_limit():
        notice.mailed_at = now
        known = {from_member_id: from_name} if from_member_id and from_name else {}
        line = describe([notice], scheme, names=known)[0]
        send_mail(
            to=email,
            template="credit_received",
            context={
                "name": name,
                "scheme_name": scheme.name,
                "subject": line["subject"],
                "line": line,
                "link": links.link(f"/s/{scheme.slug}/statement", remembered=scheme.link_base),
            },
        )
    db.session.add(notice)


def _who(
    scheme: Scheme, notices: list[CreditNotice], known: dict[int, str] | None = None
) -> dict[int, str]:
    """Other members' names as this scheme's directory shows them to members."""
    full = dict(known or {})
    ids = {n.from_member_id for n in notices if n.from_member_id is not None} - set(full)
    if ids:
        full.update(
            (member_id, name)
            for member_id, name in db.session.execute(
                select(Member.id, User.name)
                .join(User, User.id == Member.user_id)
                .where(Member.id.in_(ids))
            )
        )
    if not full:
        return {}
    mode = current_policy(scheme)["privacy"]["member_directory"]
    names: dict[int, str] = {}
    for member_id, name in full.items():
        if mode == "hidden" or not (name or "").strip():
            names[member_id] = "a member"
        elif mode == "first_names":
            names[member_id] = name.split()[0]
        else:
            names[member_id] = name
    return names


def describe(
    notices: list[CreditNotice], scheme: Scheme, *, names: dict[int, str] | None = None
) -> list[dict[str, Any]]:
    """One line per notice: ``{kind, amount_text, who, subject, text, at}`` (no free text).

    ``names``: full names of paying members already known (no query for those).
    """
    names = _who(scheme, notices, names)
    activity_ids = {n.activity_id for n in notices if n.activity_id is not None}
    activities = (
        {
            activity_id: name
            for activity_id, name in db.session.execute(
                select(Activity.id, Activity.name).where(Activity.id.in_(activity_ids))
            )
        }
        if activity_ids
        else {}
    )
    partner_ids = {n.from_scheme_id for n in notices if n.from_scheme_id is not None}
    partners = (
        {
            scheme_id: name
            for scheme_id, name in db.session.execute(
                select(Scheme.id, Scheme.name).where(Scheme.id.in_(partner_ids))
            )
        }
        if partner_ids
        else {}
    )
    lines = []
    for notice in notices:
        amount_text = format_minutes(notice.amount)
        if notice.from_scheme_id is not None:
            who = f"a member of {partners.get(notice.from_scheme_id, 'a partner scheme')}"
        elif notice.from_member_id is not None:
            who = names.get(notice.from_member_id, "a member")
        elif notice.kind == "awarded":
            who = scheme.name
        else:
            who = "the community pot"
        if notice.kind == "awarded":
            activity = activities.get(notice.activity_id or 0)
            subject = f"You were awarded {amount_text} in {scheme.name}"
            text = f"{who} awarded you {amount_text}" + (f" for {activity}" if activity else "")
        elif notice.kind == "gifted":
            subject = f"You were given {amount_text} in {scheme.name}"
            text = f"{who} gave you {amount_text}"
        else:
            subject = f"You were paid {amount_text} in {scheme.name}"
            text = f"{who} paid you {amount_text}"
        lines.append(
            {
                "kind": notice.kind,
                "amount_text": amount_text,
                "who": who,
                "subject": subject,
                "text": text[:1].upper() + text[1:] + ".",
                "at": notice.created_at,
            }
        )
    return lines


@job
def send_due_credit_digests(label: str) -> int:
    """The hourly run: every scheme with notices waiting mails its digests; how many mails."""
    with tenancy.all_schemes():
        scheme_ids = list(
            db.session.execute(
                select(CreditNotice.scheme_id).where(CreditNotice.mailed_at.is_(None)).distinct()
            ).scalars()
        )
    db.session.rollback()
    sent = sum(send_credit_digests(scheme_id, label) for scheme_id in sorted(scheme_ids))
    _purge_mailed()
    return sent


@atomic
def _purge_mailed() -> None:
    """Forget notices mailed more than :data:`KEEP_MAILED` ago (only the last hour counts)."""
    with tenancy.all_schemes():
        db.session.execute(
            delete(CreditNotice)
            .where(CreditNotice.mailed_at < utcnow() - KEEP_MAILED)
            .execution_options(synchronize_session=False)
        )


@job
def send_credit_digests(scheme_id: int, label: str) -> int:
    """Mail each member of the scheme one digest of their waiting credit notices; how many."""
    with tenancy.scheme_context(scheme_id):
        return _send_digests(scheme_id)


@atomic
def _send_digests(scheme_id: int) -> int:
    scheme = db.session.get(Scheme, scheme_id)
    if scheme is None:
        return 0
    waiting = (
        db.session.execute(
            select(CreditNotice)
            .where(CreditNotice.mailed_at.is_(None))
            .order_by(CreditNotice.member_id, CreditNotice.id)
            .with_for_update(skip_locked=True)
        )
        .scalars()
        .all()
    )
    by_member: dict[int, list[CreditNotice]] = defaultdict(list)
    for notice in waiting:
        by_member[notice.member_id].append(notice)
    now = utcnow()
    sent = 0
    for member_id, notices in by_member.items():
        recipient = _recipient(member_id)
        wanted = mail_settings(member_id)
        kept = [n for n in notices if wanted[n.kind]]
        if recipient is not None and kept:
            email, name = recipient
            lines = describe(kept, scheme)
            with links.job_base(kept[-1].link_base):
                link = links.link(f"/s/{scheme.slug}/statement", remembered=scheme.link_base)
            send_mail(
                to=email,
                template="credit_digest",
                context={
                    "name": name,
                    "scheme_name": scheme.name,
                    "count": len(lines),
                    "total_text": format_minutes(sum(n.amount for n in kept)),
                    "lines": lines,
                    "link": link,
                },
            )
            sent += 1
        db.session.execute(
            update(CreditNotice)
            .where(CreditNotice.id.in_([n.id for n in notices]))
            .values(mailed_at=now, in_digest=True)
            .execution_options(synchronize_session=False)
        )
    return sent
