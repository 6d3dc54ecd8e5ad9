"""Outgoing mail: templated text and HTML, to SMTP when ``SMTP_URL`` is set, else the outbox.

The outbox is a folder of ``.eml`` files (the embedded default), one per message,
named so that they sort in the order they were written.
"""

from __future__ import annotations

import re
import smtplib
import time
import uuid
from dataclasses import dataclass
from email.header import Header
from email.utils import formataddr, formatdate, getaddresses, parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from flask import current_app, render_template
from sqlalchemy import select

from timebank.platform import tenancy
from timebank.platform.db import db
from timebank.platform.identity.models import User
from timebank.platform.jobs import enqueue
from timebank.platform.schemes.models import Scheme

MAIL_JOB_TIMEOUT = 120

SUBJECTS = {
    "invitation": "You are invited to join {scheme_name}",
    "claim_decided": "Your hours for {activity} were {status}",
    "credits_expiring": "{minutes_text} of your time credits in {scheme_name} lapse soon",
    "digest": "Claims waiting for you in {scheme_name}: {count}",
    "password_reset": "Reset your Timebank password",
    "dunning": "Payment for {scheme_name} failed",
    "listing_notice": "{subject}",
    "scheme_status": "{scheme_name} is {status_text}",
    "agreement_changed": "{other_name} has {event} the agreement with {scheme_name}",
    "referral_joined": "Someone you referred has joined {scheme_name}",
    "credit_received": "{subject}",
    "credit_digest": "Time credits you received in {scheme_name}: {count}",
}


# A message is always the same shape: multipart/alternative with a text and
# an HTML part, bodies as 8-bit UTF-8 (readable in the outbox and never
# folded, so a link stays whole). It is written out directly: the email
# package's generator spends milliseconds per message folding headers, which
# dominated an import that mails thousands of invitations.
_BARE_LF = re.compile(rb"(?<!\r)\n")


@dataclass(frozen=True)
class Outgoing:
    """A serialised message and its SMTP envelope."""

    sender: str
    recipients: list[str]
    raw: bytes


def _header(name: str, value: str) -> str:
    value = " ".join(value.split())  # no CR/LF can smuggle in another header
    if value.isascii():
        return f"{name}: {value}"
    return f"{name}: {Header(value, 'utf-8', header_name=name).encode()}"


def _address(value: str) -> str:
    name, address = parseaddr(value)
    return formataddr((name, address), charset="utf-8") if name else address


def _part(content_type: str, body: str) -> str:
    return (
        f'Content-Type: {content_type}; charset="utf-8"\n'
        "Content-Transfer-Encoding: 8bit\n\n"
        f"{body.replace(chr(13), '')}\n"
    )


def build_message(*, to: str, template: str, context: dict[str, Any]) -> Outgoing:
    """Render ``mail/<template>.txt`` and ``.html`` into one text-and-HTML message."""
    subject = SUBJECTS[template].format(**context)
    sender = _address(current_app.config["MAIL_FROM"])
    recipient = _address(to)
    boundary = f"=_{uuid.uuid4().hex}"
    text = render_template(f"mail/{template}.txt", **context)
    html = render_template(f"mail/{template}.html", **context)
    lines = [
        _header("From", sender),
        _header("To", recipient),
        _header("Subject", subject),
        _header("Date", formatdate(usegmt=True)),
        _header("Message-ID", f"<{uuid.uuid4()}@timebank>"),
        "MIME-Version: 1.0",
        f'Content-Type: multipart/alternative; boundary="{boundary}"',
        "",
        f"--{boundary}",
        _part("text/plain", text),
        f"--{boundary}",
        _part("text/html", html),
        f"--{boundary}--",
        "",
    ]
    return Outgoing(
        sender=parseaddr(sender)[1],
        recipients=[address for _, address in getaddresses([recipient]) if address],
        raw="\n".join(lines).encode("utf-8"),
    )


def deliver_raw(raw: bytes, *, sender: str, recipients: list[str]) -> None:
    """Send a serialised message as it is (no parsing: SMTP errors raise, so jobs retry)."""
    smtp_url = current_app.config.get("SMTP_URL")
    if smtp_url:
        url = urlparse(smtp_url)
        with smtplib.SMTP(url.hostname or "localhost", url.port or 25, timeout=10) as smtp:
            if url.scheme == "smtp+starttls":
                smtp.starttls()
            if url.username:
                smtp.login(url.username, url.password or "")
            # SMTP speaks CRLF; the serialised message ends its lines with LF.
            smtp.sendmail(sender, recipients, _BARE_LF.sub(b"\r\n", raw))
        return
    outbox = Path(current_app.config["OUTBOX_DIR"])
    outbox.mkdir(parents=True, exist_ok=True)
    name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.eml"
    (outbox / name).write_bytes(raw)


def sandbox_allows(to: str) -> bool:
    """Whether mail may go to ``to`` from the scheme in context: a sandbox mails only
    the coordinator who made it (its generated people, nobody else)."""
    scheme_id = tenancy.current().scheme_id
    if scheme_id is None:
        return True
    row = db.session.execute(
        select(Scheme.sandbox, User.email)
        .outerjoin(User, User.id == Scheme.created_by)
        .where(Scheme.id == scheme_id)
    ).first()
    if row is None or not row.sandbox:
        return True
    recipient = parseaddr(to)[1].lower()
    return bool(row.email) and recipient == str(row.email).lower()


def send_mail(*, to: str | None, template: str, context: dict[str, Any]) -> None:
    """Queue a message to go out once the current unit of work commits.

    This is the one place mail leaves from. ``to=None`` (a managed member: no
    e-mail address) sends nothing; a sandbox's mail to anyone but its
    coordinator is dropped here.
    """
    if to is None or not sandbox_allows(to):
        return
    message = build_message(to=to, template=template, context=context)
    enqueue(
        "mail",
        "timebank.worker.mail.deliver_message",
        message.raw,
        message.recipients,
        message.sender,
        # One message takes seconds; RQ takes a job whose worker died for
        # abandoned only after its timeout, so a short one resends it sooner.
        timeout=MAIL_JOB_TIMEOUT,
    )
