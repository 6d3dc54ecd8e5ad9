"""Mail delivery jobs."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

from timebank.platform.mail import deliver
from timebank.worker.queues import job


@job
def deliver_message(raw: bytes) -> None:
    """Send one prepared message (SMTP errors raise, so RQ retries with backoff)."""
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    deliver(message)
