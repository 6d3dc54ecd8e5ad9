"""Problem details (RFC 9457) for every API error, and the domain errors.

Services raise the errors below; the handlers registered by :func:`init_app`
turn them — and every HTTP error of Flask, webargs and flask-smorest — into
``application/problem+json`` with ``type``, ``title``, ``status``, ``detail``
and ``code``. Validation errors add ``errors`` keyed by dotted field names.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, json, request
from markupsafe import escape
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from timebank.platform import metrics

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    410: "Gone",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Unprocessable request",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}

DEFAULT_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


class ApiError(Exception):
    """An error with an HTTP status and a machine-readable code."""

    status = 400
    code = "bad_request"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        status: int | None = None,
        errors: dict[str, list[str]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code
        if status:
            self.status = status
        self.errors = errors
        self.extra = extra or {}


class NotFound(ApiError):
    status = 404
    code = "not_found"

    def __init__(self, detail: str = "The requested resource was not found.", **kw: Any) -> None:
        super().__init__(detail, **kw)


class Unauthorized(ApiError):
    status = 401
    code = "unauthorized"


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class Conflict(ApiError):
    status = 409
    code = "conflict"


class Gone(ApiError):
    status = 410
    code = "gone"


class RuleViolation(ApiError):
    """A ledger or policy rule refused the operation (422, ``code`` names the rule)."""

    status = 422


class FieldError(ApiError):
    """Validation of one or more fields failed (422 ``validation_error``)."""

    status = 422
    code = "validation_error"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", errors={field: [message]})


def flatten_messages(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Turn marshmallow's nested messages into ``{"a.b.2": [...]}``."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if key == "_schema" and prefix:
                name = prefix
            elif key == "_schema":
                name = "_schema"
            for sub, msgs in flatten_messages(value, name).items():
                flat.setdefault(sub, []).extend(msgs)
    elif isinstance(messages, list | tuple):
        if all(isinstance(m, str) for m in messages):
            flat[prefix or "_schema"] = [str(m) for m in messages]
        else:
            for item in messages:
                for sub, msgs in flatten_messages(item, prefix).items():
                    flat.setdefault(sub, []).extend(msgs)
    else:
        flat[prefix or "_schema"] = [str(messages)]
    return flat


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    title: str | None = None,
    errors: dict[str, list[str]] | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": f"https://timebank.example/problems/{code.replace('_', '-')}",
        "title": title or TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
    }
    if errors is not None:
        body["errors"] = errors
    if extra:
        body.update(extra)
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def api_error_response(error: ApiError) -> Response:
    return problem(error.status, error.code, error.detail, errors=error.errors, extra=error.extra)


def _validation_detail(errors: dict[str, list[str]]) -> str:
    parts = [f"{field}: {'; '.join(msgs)}" for field, msgs in errors.items()]
    return "Some fields are not valid. " + " ".join(parts)


def http_error_response(error: HTTPException) -> Response:
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    messages = data.get("messages")
    headers = dict(data.get("headers") or {})
    if status == 400 and messages and "json" in messages and isinstance(messages["json"], list):
        return problem(400, "malformed_json", "The request body is not valid JSON.")
    if status == 422 and messages is not None:
        errors: dict[str, list[str]] = {}
        for _location, location_messages in messages.items():
            errors.update(flatten_messages(location_messages))
        return problem(422, "validation_error", _validation_detail(errors), errors=errors)
    if status == 429:
        retry_after = headers.get("Retry-After") or _retry_after(error)
        return problem(
            429,
            "rate_limited",
            "Too many attempts. Wait a while before trying again.",
            headers={"Retry-After": str(retry_after)},
        )
    response = problem(
        status,
        DEFAULT_CODES.get(status, "error"),
        error.description or TITLES.get(status, "Error"),
    )
    if status == 405 and error.get_response().headers.get("Allow"):
        response.headers["Allow"] = error.get_response().headers["Allow"]
    return response


def _retry_after(error: HTTPException) -> int:
    limit = getattr(error, "limit", None)
    if limit is not None:
        try:
            return int(limit.limit.get_expiry())
        except Exception:  # pragma: no cover - depends on limiter internals
            pass
    return 60


# People get an HTML page instead of problem+json; the pages (a layer above)
# register how to draw it at start-up. Until they do, a plain page.
PageRenderer = Callable[[int, str], Any]


def _plain_page(status: int, detail: str) -> tuple[str, int]:
    return f"<!doctype html><title>Error {status}</title><p>{escape(detail)}</p>", status


_page_renderers: list[PageRenderer] = [_plain_page]


def register_page_renderer(renderer: PageRenderer) -> None:
    _page_renderers[:] = [renderer]


def render_page(status: int, detail: str) -> Any:
    """The error page a person sees, as the registered renderer draws it."""
    return _page_renderers[0](status, detail)


def wants_problem_json() -> bool:
    return request.path.startswith("/api/") or request.path.startswith("/billing/")


def init_app(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(error: ApiError) -> Any:
        if isinstance(error, RuleViolation):
            metrics.refused(error.code)
        if wants_problem_json():
            return api_error_response(error)
        return render_page(error.status, error.detail)

    @app.errorhandler(ValidationError)
    def _marshmallow_error(error: ValidationError) -> Response:
        errors = flatten_messages(error.messages)
        return problem(422, "validation_error", _validation_detail(errors), errors=errors)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Any:
        if wants_problem_json():
            return http_error_response(error)
        if error.code == 429:
            return render_page(429, "Too many attempts. Please wait a while and try again.")
        return render_page(error.code or 500, error.description or "")

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Any:
        if isinstance(error, HTTPException):
            return _http_error(error)
        log.exception("unhandled error on %s %s", request.method, request.path)
        if wants_problem_json():
            return problem(500, "internal_error", "Something went wrong on our side.")
        return render_page(500, "Something went wrong on our side. Please try again.")
