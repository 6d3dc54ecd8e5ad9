"""Mail delivery jobs (queue ``mail``)."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr

from timebank.platform.jobs import job
from timebank.platform.mail import deliver_raw


@job
def deliver_message(
    raw: bytes, recipients: list[str] | None = None, sender: str | None = None
) -> None:
    """Send one prepared message as it is (SMTP errors raise, so RQ retries with backoff)."""
    if recipients is None or sender is None:
        # Queued by an older release: read the envelope from the headers.
        message = message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        sender = parseaddr(str(message["From"]))[1]
        recipients = [address for _, address in getaddresses([str(message["To"])]) if address]
    deliver_raw(raw, sender=sender, recipients=recipients)
