"""Outgoing mail: templated text and HTML, to SMTP when ``SMTP_URL`` is set, else the outbox.

The outbox is a folder of ``.eml`` files (the embedded default), one per message,
named so that they sort in the order they were written.
"""

from __future__ import annotations

import smtplib
import time
import uuid
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from flask import current_app, render_template

from timebank.platform.db import after_commit

SUBJECTS = {
    "invitation": "You are invited to join {scheme_name}",
    "claim_decided": "Your hours for {activity} were {status}",
    "credits_expiring": "{minutes_text} of your time credits in {scheme_name} lapse soon",
    "digest": "{count} claims are waiting for you in {scheme_name}",
    "password_reset": "Reset your Timebank password",
    "dunning": "Payment for {scheme_name} failed",
}


def build_message(*, to: str, template: str, context: dict[str, Any]) -> EmailMessage:
    message = EmailMessage()
    message["From"] = current_app.config["MAIL_FROM"]
    message["To"] = to
    message["Subject"] = SUBJECTS[template].format(**context)
    message["Message-ID"] = f"<{uuid.uuid4()}@timebank>"
    message.set_content(render_template(f"mail/{template}.txt", **context))
    message.add_alternative(render_template(f"mail/{template}.html", **context), subtype="html")
    return message


def deliver(message: EmailMessage) -> None:
    """Send now: SMTP when configured, else write to the outbox folder."""
    smtp_url = current_app.config.get("SMTP_URL")
    if smtp_url:
        url = urlparse(smtp_url)
        with smtplib.SMTP(url.hostname or "localhost", url.port or 25, timeout=10) as smtp:
            if url.scheme == "smtp+starttls":
                smtp.starttls()
            if url.username:
                smtp.login(url.username, url.password or "")
            smtp.send_message(message)
        return
    outbox = Path(current_app.config["OUTBOX_DIR"])
    outbox.mkdir(parents=True, exist_ok=True)
    name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.eml"
    (outbox / name).write_bytes(bytes(message))


def send_mail(*, to: str, template: str, context: dict[str, Any]) -> None:
    """Queue a message to go out once the current unit of work commits."""
    message = build_message(to=to, template=template, context=context)
    from timebank.worker.queues import enqueue

    after_commit(lambda: enqueue("mail", "timebank.worker.mail.deliver_message", bytes(message)))
