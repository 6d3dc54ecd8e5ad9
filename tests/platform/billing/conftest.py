"""Billing fixtures: a real localstripe server (session), and the app pointed at it.

localstripe is a stateful Stripe-compatible server: customers, plans,
subscriptions, SetupIntents and payment methods behave as in Stripe's test
mode (4242… pays; 4000 0000 0000 0341 attaches but fails to charge). It also
serves a Stripe.js stand-in at ``/js.stripe.com/v3/``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.conftest import Database, test_config

API_KEY = "sk_test_timebank"
PUBLISHABLE_KEY = "pk_test_timebank"
WEBHOOK_SECRET = "whsec_test_timebank"
PLAN_COMMUNITY = "plan_timebank_community"
PLAN_ORGANISATION = "plan_timebank_organisation"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _executable() -> str:
    beside = Path(sys.executable).with_name("localstripe")
    return str(beside) if beside.exists() else (shutil.which("localstripe") or "localstripe")


@pytest.fixture(scope="session")
def localstripe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start ``localstripe --port N``; its base URL, with the two plans created."""
    port = free_port()
    log = tmp_path_factory.mktemp("localstripe") / "localstripe.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [_executable(), "--port", str(port), "--from-scratch"],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=log.parent,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{base}/js.stripe.com/v3/", timeout=1).read()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"localstripe did not start: {log.read_text()}") from None
                time.sleep(0.1)
        import stripe

        stripe.api_key, stripe.api_base = API_KEY, base
        for plan_id, name, amount in (
            (PLAN_COMMUNITY, "Community", 100),
            (PLAN_ORGANISATION, "Organisation", 300),
        ):
            stripe.Plan.create(
                id=plan_id,
                amount=amount,
                currency="gbp",
                interval="month",
                product={"name": name},
            )
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def billing_config(base: str) -> dict[str, Any]:
    return {
        "STRIPE_API_KEY": API_KEY,
        "STRIPE_PUBLISHABLE_KEY": PUBLISHABLE_KEY,
        "STRIPE_API_BASE": base,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_JS_URL": f"{base}/js.stripe.com/v3/",
        "STRIPE_PLAN_COMMUNITY": PLAN_COMMUNITY,
        "STRIPE_PLAN_ORGANISATION": PLAN_ORGANISATION,
        "BILLING_FREE_MEMBER_LIMIT": 3,
    }


@pytest.fixture
def app(database: Database, tmp_path: Path, localstripe: str) -> Iterator[Flask]:
    """The app with billing on, against localstripe (free plan: up to 3 members here)."""
    from timebank.platform.app import create_app
    from timebank.platform.db import db

    app = create_app(test_config(database, tmp_path, **billing_config(localstripe)))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    database.reset()


def sign(payload: bytes, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header, computed as Stripe does (HMAC-SHA256 of ``t.payload``)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def event(kind: str, obj: dict[str, Any], event_id: str | None = None) -> bytes:
    body = {
        "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "type": kind,
        "created": int(time.time()),
        "livemode": False,
        "api_version": "2020-08-27",
        "data": {"object": obj},
    }
    return json.dumps(body).encode()


def confirm_card(base: str, client_secret: str, number: str) -> dict[str, Any]:
    """Confirm a SetupIntent with a card, as the Stripe.js stand-in does in the browser."""
    intent = client_secret.split("_secret_")[0]
    request = urllib.request.Request(
        f"{base}/v1/setup_intents/{intent}/confirm",
        data=json.dumps(
            {
                "key": PUBLISHABLE_KEY,
                "use_stripe_sdk": True,
                "client_secret": client_secret,
                "payment_method_data": {
                    "type": "card",
                    "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
                },
            }
        ).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}"
