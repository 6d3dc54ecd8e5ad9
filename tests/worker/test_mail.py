"""Mail over real SMTP (aiosmtpd started here): inline, from a worker, and retried while SMTP is down."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask

from tests.factories import World
from tests.worker.conftest import WorkerProcess, needs_redis, wait_for
from timebank.platform.jobs import get_queue


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage


@dataclass
class Inbox:
    received: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"


class SmtpServer:
    def __init__(self, port: int) -> None:
        self.port = port
        self.inbox = Inbox()
        self.controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port())
    yield server
    server.stop()


@pytest.fixture
def app_overrides(smtp: SmtpServer) -> dict[str, Any]:
    return {"SMTP_URL": smtp.url, "JOB_RETRY_BACKOFF": "1"}


def invite(world: World, email: str) -> str:
    api = world.api(world.a.coordinator)
    response = api.post(
        f"/api/v1/schemes/{world.a.slug}/invitations", {"email": email, "role": "member"}
    )
    assert response.status_code == 201, response.data
    return str(response.get_json()["token"])


def shape(received: Received, token: str) -> dict[str, Any]:
    """What a delivered invitation looks like, with its one-off token taken out."""
    text = received.message.get_body(("plain",))
    html = received.message.get_body(("html",))
    assert text is not None and html is not None
    plain = text.get_content()
    assert token in plain and token in html.get_content()
    return {
        "sender": received.sender,
        "recipients": received.recipients,
        "to": received.message["To"],
        "subject": received.message["Subject"],
        "parts": [part.get_content_type() for part in received.message.iter_parts()],
        "text": plain.replace(token, "TOKEN"),
    }


EXPECTED = {
    "sender": "no-reply@timebank.localhost",
    "recipients": ["newcomer@example.test"],
    "to": "newcomer@example.test",
    "subject": "You are invited to join Alpha Time Bank",
    "parts": ["text/plain", "text/html"],
}


def test_inline_mail_goes_out_over_smtp(world: World, smtp: SmtpServer) -> None:
    smtp.start()
    token = invite(world, "newcomer@example.test")
    (received,) = smtp.inbox.received
    delivered = shape(received, token)
    assert delivered | EXPECTED == delivered
    assert "Ada Coordinator has invited you to join Alpha Time Bank" in delivered["text"]


@needs_redis
def test_worker_delivers_the_same_mail_over_smtp(
    app: Flask,
    world: World,
    smtp: SmtpServer,
    redis_url: str,
    start_worker: Callable[..., WorkerProcess],
) -> None:
    smtp.start()
    token = invite(world, "newcomer@example.test")
    assert smtp.inbox.received == []  # queued, not sent
    with app.app_context():
        assert get_queue("mail").count == 1
    worker = start_worker("--burst", "--queues", "mail")
    assert worker.wait() == 0, worker.output()
    (received,) = smtp.inbox.received
    delivered = shape(received, token)
    assert delivered | EXPECTED == delivered
    assert "Ada Coordinator has invited you to join Alpha Time Bank" in delivered["text"]


@needs_redis
@pytest.mark.slow
def test_mail_is_retried_with_backoff_while_smtp_is_down(
    app: Flask,
    world: World,
    smtp: SmtpServer,
    redis_url: str,
    start_worker: Callable[..., WorkerProcess],
) -> None:
    token = invite(world, "newcomer@example.test")  # nothing listens on the port yet
    with app.app_context():
        (job_id,) = get_queue("mail").job_ids
        job = get_queue("mail").fetch_job(job_id)
        assert job is not None and job.retries_left == 3
    worker = start_worker("--queues", "mail", env={"TIMEBANK_JOB_RETRY_BACKOFF": "1"})
    with app.app_context():
        wait_for(lambda: (job.refresh() or job.retries_left) < 3, timeout=30)  # type: ignore[func-returns-value]
        assert job.get_status() in ("scheduled", "queued", "started")
    smtp.start()
    wait_for(lambda: smtp.inbox.received, timeout=30)
    (received,) = smtp.inbox.received
    assert shape(received, token)["recipients"] == ["newcomer@example.test"]
    with app.app_context():
        wait_for(lambda: job.get_status(refresh=True) == "finished", timeout=10)
        assert len(get_queue("mail").failed_job_registry) == 0
    assert "ConnectionRefusedError" in worker.output()
