"""Sign-in rate limits (Flask-Limiter: memory by default, Redis when configured).

Failed sign-ins: 10 per e-mail and 100 per client address in 15 minutes;
successful ones: 600 a minute per address. Once over, even the right password
gets 429. ``RATELIMIT_ENABLED=false`` turns limiting off (load tests).

The limits are *shared*: every view decorated with :func:`limit_sign_in`
(``POST /api/v1/tokens`` and the web login) draws on the same buckets, so
alternating between them does not double the budget. A wrong current
password when changing it (:func:`limit_password_check`) is a failed sign-in
too. Password-reset mail has its own budget per address
(:func:`reset_mail_allowed`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, g, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import current_user
from limits import parse

limiter = Limiter(key_func=get_remote_address, default_limits=[])

FAILED_PER_EMAIL = "10 per 15 minutes"
FAILED_PER_ADDRESS = "100 per 15 minutes"
SUCCESS_PER_ADDRESS = "600 per minute"
RESET_MAILS_PER_ADDRESS = "3 per hour"


def init_app(app: Flask) -> None:
    app.config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
    limiter.init_app(app)


def _email_key() -> str:
    data = request.get_json(silent=True)
    email = data.get("email") if isinstance(data, dict) else None
    if not isinstance(email, str):
        email = request.form.get("email", "")
    return "email:" + email.strip().lower()


def _card_key() -> str:
    data = request.get_json(silent=True)
    code = data.get("card_code") if isinstance(data, dict) else None
    if not isinstance(code, str):
        code = request.form.get("card_code", "")
    return "card:" + "".join(ch for ch in code.upper() if ch.isalnum())


def _signed_in_email_key() -> str:
    if current_user.is_authenticated and current_user.email is None:
        return f"user:{current_user.id}"  # a managed member: no address to key by
    email = current_user.email if current_user.is_authenticated else ""
    return "email:" + email.strip().lower()


def _failed(response: Any) -> bool:
    return bool(response.status_code in (401, 422) or getattr(response, "_sign_in_failed", False))


def _succeeded(response: Any) -> bool:
    return not _failed(response) and response.status_code < 400


def limit_sign_in(view: Callable[..., Any]) -> Callable[..., Any]:
    """Apply the sign-in limits to a view (API token creation and the web login)."""
    view = limiter.shared_limit(SUCCESS_PER_ADDRESS, scope="sign-in-ok", deduct_when=_succeeded)(
        view
    )
    return _limit_failures(view, email_key=_email_key)


def limit_card_sign_in(view: Callable[..., Any]) -> Callable[..., Any]:
    """The sign-in limits for a card code and PIN (the shared tablet's page and
    ``POST /api/v1/card-tokens``): failures per card code instead of per address,
    on top of the card's own lock after ten wrong PINs."""
    view = limiter.shared_limit(SUCCESS_PER_ADDRESS, scope="sign-in-ok", deduct_when=_succeeded)(
        view
    )
    return _limit_failures(view, email_key=_card_key)


def limit_password_check(view: Callable[..., Any]) -> Callable[..., Any]:
    """Count a wrong current password (see :func:`note_wrong_password`) as a failed
    sign-in of the signed-in user's address and of the client's address: a stolen
    session cannot be used to guess the password faster than the login allows."""
    return _limit_failures(view, email_key=_signed_in_email_key, failed=_wrong_password)


def note_wrong_password() -> None:
    """Mark this request as a failed password check (for :func:`limit_password_check`)."""
    g.wrong_password = True


def _wrong_password(response: Any) -> bool:
    return bool(g.get("wrong_password"))


def _limit_failures(
    view: Callable[..., Any],
    *,
    email_key: Callable[[], str],
    failed: Callable[[Any], bool] = _failed,
) -> Callable[..., Any]:
    view = limiter.shared_limit(
        FAILED_PER_ADDRESS, scope="sign-in-failed-address", deduct_when=failed
    )(view)
    view = limiter.shared_limit(
        FAILED_PER_EMAIL, scope="sign-in-failed-email", key_func=email_key, deduct_when=failed
    )(view)
    return view


def reset_mail_allowed(email: str) -> bool:
    """Count one password-reset mail to ``email``; False once the hour's budget is spent."""
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return True
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX", "")
    return limiter.limiter.hit(
        parse(RESET_MAILS_PER_ADDRESS), prefix, "password-reset-mail", email.strip().lower()
    )
