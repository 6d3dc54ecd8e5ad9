"""Sign-in rate limits (Flask-Limiter: memory by default, Redis when configured).

Failed sign-ins: 10 per e-mail and 100 per client address in 15 minutes;
successful ones: 600 a minute per address. Once over, even the right password
gets 429. ``RATELIMIT_ENABLED=false`` turns limiting off (load tests).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

limiter = Limiter(key_func=get_remote_address, default_limits=[])

FAILED_PER_EMAIL = "10 per 15 minutes"
FAILED_PER_ADDRESS = "100 per 15 minutes"
SUCCESS_PER_ADDRESS = "600 per minute"


def init_app(app: Flask) -> None:
    app.config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
    limiter.init_app(app)


def _email_key() -> str:
    data = request.get_json(silent=True)
    email = data.get("email") if isinstance(data, dict) else None
    if not isinstance(email, str):
        email = request.form.get("email", "")
    return "email:" + email.strip().lower()


def _failed(response: Any) -> bool:
    return bool(response.status_code in (401, 422) or getattr(response, "_sign_in_failed", False))


def _succeeded(response: Any) -> bool:
    return not _failed(response) and response.status_code < 400


def limit_sign_in(view: Callable[..., Any]) -> Callable[..., Any]:
    """Apply the sign-in limits to a view (API token creation and the web login)."""
    view = limiter.limit(SUCCESS_PER_ADDRESS, deduct_when=_succeeded, scope="sign-in-ok")(view)
    view = limiter.limit(FAILED_PER_ADDRESS, deduct_when=_failed, scope="sign-in-failed-address")(
        view
    )
    view = limiter.limit(
        FAILED_PER_EMAIL, key_func=_email_key, deduct_when=_failed, scope="sign-in-failed-email"
    )(view)
    return view
