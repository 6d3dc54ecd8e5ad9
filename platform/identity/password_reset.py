"""Password reset by e-mail: a signed link that expires and works once.

The link carries ``(user id, fingerprint)`` signed with the app's secret
(``itsdangerous``, which Flask ships) and timestamped; it is good for
``PASSWORD_RESET_MINUTES`` (default 60). The fingerprint is a hash of the
user's current password hash and session version, so once the password has
been changed (by this link or any other way) the link stops working. Asking
for a link never tells whether an account exists. Using it ends every web
session and API token of the user.
"""

from __future__ import annotations

import hashlib

from flask import current_app, url_for
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from timebank.platform import links
from timebank.platform.api.errors import Gone
from timebank.platform.db import atomic, db
from timebank.platform.identity.models import User
from timebank.platform.identity.services import find_user_by_email, set_password
from timebank.platform.mail import send_mail
from timebank.platform.ratelimit import reset_mail_allowed

SALT = "timebank.password-reset"
DEFAULT_MINUTES = 60
INVALID = "This reset link has expired or has already been used. Ask for a new one."


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def _lifetime_minutes() -> int:
    return int(current_app.config.get("PASSWORD_RESET_MINUTES") or DEFAULT_MINUTES)


def _fingerprint(user: User) -> str:
    material = f"{user.password_hash}:{user.session_version}".encode()
    return hashlib.sha256(material).hexdigest()[:24]


def reset_token(user: User) -> str:
    return _serializer().dumps({"user": user.id, "fingerprint": _fingerprint(user)})


def request_password_reset(email: str) -> None:
    """Mail a reset link if an active account has this address (silently nothing if not).

    At most ``RESET_MAILS_PER_ADDRESS`` links go to one address an hour; the
    rest are dropped just as silently, so nobody can flood a mailbox.
    """
    if not reset_mail_allowed(email):
        return
    user = find_user_by_email(email)
    if user is None or user.is_disabled:
        return
    link = links.link(url_for("account.reset_password", token=reset_token(user)))
    send_mail(
        to=user.email,
        template="password_reset",
        context={"name": user.name, "link": link, "minutes": _lifetime_minutes()},
    )


def user_for_reset_token(token: str) -> User:
    """The user a still-valid link is for; 410 ``reset_link_invalid`` otherwise."""
    try:
        data = _serializer().loads(token, max_age=_lifetime_minutes() * 60)
    except (SignatureExpired, BadSignature) as error:
        raise Gone(INVALID, code="reset_link_invalid") from error
    if not isinstance(data, dict) or not isinstance(data.get("user"), int):
        raise Gone(INVALID, code="reset_link_invalid")
    user = db.session.execute(select(User).where(User.id == data["user"])).scalar_one_or_none()
    if user is None or user.is_disabled or data.get("fingerprint") != _fingerprint(user):
        raise Gone(INVALID, code="reset_link_invalid")
    return user


@atomic
def reset_password(token: str, password: str) -> User:
    """Set a new password through a reset link.

    Every web session and every API token of the user ends: whoever else got
    in (a stolen password, or someone who registered the address first) is
    out. Raises 410 ``reset_link_invalid`` for a used, expired or forged link,
    a 422 on ``password`` for a too short or too long one.
    """
    user = user_for_reset_token(token)
    db.session.refresh(user, with_for_update=True)
    # Checked again under the row lock: two uses of one link cannot both pass.
    user_for_reset_token(token)
    return set_password(user, password)
