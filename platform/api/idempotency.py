"""``Idempotency-Key`` for every POST that moves credits.

A key is scoped to the calling user within the scheme. The key is claimed by
inserting its row in the same database transaction as the ledger change, so a
request either commits both or neither. A concurrent duplicate blocks on the
unique index until the first commits, then replays its stored response; a
retry with the same key and body replays the original status and body; a
different body is refused with 422 ``idempotency_key_reused``. Refusals (4xx)
are stored too; a 5xx is not, so a retry runs again.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Response, request
from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    delete,
    insert,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.exceptions import HTTPException

from timebank.platform import tenancy
from timebank.platform.api.errors import ApiError, problem
from timebank.platform.db import (
    TenantScoped,
    atomic,
    db,
    next_ids,
    run_atomic,
    utcnow,
    utcnow_column,
)

HEADER = "Idempotency-Key"
FORM_FIELD = "idempotency_key"
# A stored redirect (a page's answer to a form) keeps its target as the body.
REDIRECT = "text/uri-list"
MAX_KEY_LENGTH = 255
KEEP_FOR = timedelta(hours=48)


class IdempotencyKey(TenantScoped, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "idempotency_keys"

    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[Any] = utcnow_column()

    __table_args__ = (UniqueConstraint("scheme_id", "user_id", "key"),)


class _Refused(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def _fingerprint() -> str:
    body = request.get_data(cache=True)
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = body
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.path}\n".encode())
    digest.update(canonical)
    return digest.hexdigest()


def _replay(row: IdempotencyKey, fingerprint: str) -> Response:
    if row.request_hash != fingerprint:
        return problem(
            422,
            "idempotency_key_reused",
            "This Idempotency-Key was already used for a different request.",
        )
    if row.content_type == REDIRECT:
        response = Response(status=row.status_code, headers={"Location": row.response_body})
    else:
        response = Response(row.response_body, status=row.status_code, mimetype=row.content_type)
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _find(user_id: int, key: str) -> IdempotencyKey | None:
    return db.session.execute(
        select(IdempotencyKey).where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
    ).scalar_one_or_none()


def idempotent(view: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a view that moves credits. The view must resolve the scheme first thing."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(HEADER)
        # Pages: every form carries a fresh key (the csrf() macro), so a
        # double-click or a re-sent POST pays once and shows the same result.
        from_form = key is None and request.method == "POST" and bool(request.form.get(FORM_FIELD))
        if from_form:
            key = request.form[FORM_FIELD]
        if key is None:
            return view(*args, **kwargs)
        if not key or len(key) > MAX_KEY_LENGTH:
            return problem(
                422,
                "validation_error",
                f"{HEADER} must be 1–{MAX_KEY_LENGTH} characters.",
                errors={HEADER: [f"Must be 1–{MAX_KEY_LENGTH} characters."]},
            )
        fingerprint = _fingerprint()
        state: dict[str, Any] = {}

        def claim_and_run() -> Response:
            response = _as_response(view, args, kwargs)  # resolves the scheme and user
            if response.status_code >= 400:
                raise _Refused(response)  # roll the view's work back; store below
            _store(key, fingerprint, response)
            return response

        for _attempt in range(3):
            try:
                return run_atomic(claim_and_run)
            except _Refused as refused:
                state["refused"] = refused.response
            except _KeyTaken:
                pass  # replay the stored response below
            refused_response = state.pop("refused", None)
            if refused_response is not None:
                if refused_response.status_code >= 500:
                    return refused_response
                try:
                    return _store_refusal(key, fingerprint, refused_response)
                except _KeyTaken:
                    pass
            user_id = _current_user_id()
            if user_id is not None and tenancy.current().scheme_id is not None:
                row = _find(user_id, key)
                if row is not None and from_form and row.request_hash != fingerprint:
                    return view(*args, **kwargs)  # an old form sent again with other values
                if row is not None:
                    return _replay(row, fingerprint)
        return problem(
            409, "request_in_progress", "A request with this Idempotency-Key is still running."
        )

    return wrapper


class _KeyTaken(Exception):
    """The key's row exists already (committed by an earlier or concurrent request)."""


def _current_user_id() -> int | None:
    from flask_login import current_user

    return current_user.id if current_user.is_authenticated else None


def _as_response(view: Callable[..., Any], args: Any, kwargs: Any) -> Response:
    from flask import current_app, make_response

    try:
        return make_response(view(*args, **kwargs))
    except (ApiError, HTTPException) as error:
        # The app's own handlers: problem+json for the API, a page for people.
        return make_response(current_app.handle_user_exception(error))


def _store(key: str, fingerprint: str, response: Response) -> None:
    """Claim the key in the current unit of work, with the response to replay."""
    user_id = _current_user_id()
    scheme_id = tenancy.current().scheme_id
    if user_id is None or scheme_id is None:
        return  # 401/404 before the scheme resolved: nothing to key
    # No look-up first: the unique index decides, and a concurrent request
    # with the same key blocks on it until the first commits. Core, not the
    # unit of work: one INSERT, no object to track.
    redirect = 300 <= response.status_code < 400 and bool(response.location)
    values = {
        "scheme_id": scheme_id,
        "user_id": user_id,
        "key": key,
        "request_hash": fingerprint,
        "status_code": response.status_code,
        "response_body": response.location if redirect else response.get_data(as_text=True),
        "content_type": REDIRECT if redirect else response.mimetype or "application/json",
        "created_at": utcnow(),
    }
    session = db.session()
    session.flush()
    if session.get_bind().dialect.name != "postgresql":
        values["id"] = next_ids(session, IdempotencyKey.__tablename__, 1)[0]
    try:
        session.connection().execute(insert(IdempotencyKey.__table__), values)
    except IntegrityError as error:
        if "idempotency_keys" in str(error.orig):
            raise _KeyTaken() from error
        raise


def _store_refusal(key: str, fingerprint: str, response: Response) -> Response:
    run_atomic(lambda: _store(key, fingerprint, response))
    return response


@atomic
def purge_expired(now: datetime | None = None) -> int:
    """Forget keys older than the retention window (kept at least 24 hours)."""
    cutoff = (now or datetime.now(UTC)) - KEEP_FOR
    with tenancy.all_schemes():
        result = db.session.execute(
            delete(IdempotencyKey)
            .where(IdempotencyKey.created_at < cutoff)
            .execution_options(synchronize_session=False)
        )
    return int(result.rowcount)  # type: ignore[attr-defined]
