"""Outgoing mail: templated text and HTML, to SMTP when ``SMTP_URL`` is set, else the outbox.

The outbox is a folder of ``.eml`` files (the embedded default), one per message,
named so that they sort in the order they were written.
"""

from __future__ import annotations

import re
import smtplib
import time
import uuid
from email.charset import Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formatdate, getaddresses, parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from flask import current_app, render_template

SUBJECTS = {
    "invitation": "You are invited to join {scheme_name}",
    "claim_decided": "Your hours for {activity} were {status}",
    "credits_expiring": "{minutes_text} of your time credits in {scheme_name} lapse soon",
    "digest": "Claims waiting for you in {scheme_name}: {count}",
    "password_reset": "Reset your Timebank password",
    "dunning": "Payment for {scheme_name} failed",
}


# Bodies go out as 8-bit UTF-8: readable in the outbox and never folded, so a
# link stays whole. The legacy (compat32) message classes build a message many
# times faster than ``EmailMessage``'s header registry, which matters when an
# import mails thousands of invitations.
_BARE_LF = re.compile(rb"(?<!\r)\n")
_UTF8 = Charset("utf-8")
_UTF8.body_encoding = None  # type: ignore[assignment]


def build_message(*, to: str, template: str, context: dict[str, Any]) -> Message:
    """A multipart/alternative message (text and HTML) from ``mail/<template>.txt|.html``."""
    message = MIMEMultipart("alternative")
    subject = SUBJECTS[template].format(**context)
    message["From"] = current_app.config["MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject if subject.isascii() else Header(subject, "utf-8")  # type: ignore[assignment]
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = f"<{uuid.uuid4()}@timebank>"
    message.attach(MIMEText(render_template(f"mail/{template}.txt", **context), "plain", _UTF8))  # type: ignore[arg-type]
    message.attach(MIMEText(render_template(f"mail/{template}.html", **context), "html", _UTF8))  # type: ignore[arg-type]
    return message


def envelope(message: Message) -> tuple[str, list[str]]:
    """The SMTP envelope of a message: (sender address, recipient addresses)."""
    sender = parseaddr(str(message["From"]))[1]
    recipients = [address for _, address in getaddresses([str(message["To"])]) if address]
    return sender, recipients


def deliver(message: Message) -> None:
    """Send now: SMTP when configured, else write to the outbox folder."""
    sender, recipients = envelope(message)
    deliver_raw(bytes(message), sender=sender, recipients=recipients)


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


def send_mail(*, to: str, template: str, context: dict[str, Any]) -> None:
    """Queue a message to go out once the current unit of work commits."""
    message = build_message(to=to, template=template, context=context)
    sender, recipients = envelope(message)
    from timebank.worker.queues import enqueue

    enqueue("mail", "timebank.worker.mail.deliver_message", bytes(message), recipients, sender)
