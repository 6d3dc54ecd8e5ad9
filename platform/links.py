"""The address that links in mail point at.

``BASE_URL`` set: always that. Unset: the address the request came in on
(scheme and host, as the proxies named in ``TRUSTED_PROXIES`` report them),
but only when its host is one of ``TRUSTED_HOSTS`` — a forged ``Host`` header
must never steer a password-reset link to another site. A job has no request:
:func:`timebank.platform.jobs.enqueue` stores the address of the request (or
job) that enqueued it, and the worker restores it around the job
(:func:`job_base`). Scheduled work that no request caused uses the address
remembered for the scheme when it was started (``schemes.link_base``), and
failing all of these the development address :data:`FALLBACK`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

from flask import current_app, has_app_context, has_request_context, request
from werkzeug.sansio.utils import host_is_trusted

FALLBACK = "http://127.0.0.1:5000"

_job_base: ContextVar[str | None] = ContextVar("timebank_link_base", default=None)


def _configured() -> str | None:
    if not has_app_context():
        return None
    value = current_app.config.get("BASE_URL")
    return str(value).rstrip("/") if value else None


def request_base() -> str | None:
    """The request's own address when its host is trusted, else ``None``."""
    if not has_request_context():
        return None
    trusted = [host for host in current_app.config.get("LINK_TRUSTED_HOSTS") or () if host]
    if not trusted:  # werkzeug treats an empty list as "any host": never here
        return None
    host = request.host
    if not host_is_trusted(host, trusted):
        return None
    return f"{request.scheme}://{host}"


def enqueued_base() -> str | None:
    """The address a job enqueued now should use later (``None``: ``BASE_URL`` decides)."""
    if _configured():
        return None
    return request_base() or _job_base.get()


def base_url(*, remembered: str | None = None) -> str:
    """The address links in a mail written now start with (no trailing slash)."""
    chosen = _configured() or request_base() or _job_base.get() or remembered or FALLBACK
    return chosen.rstrip("/")


def link(path: str, *, remembered: str | None = None) -> str:
    """An absolute link to ``path`` (which starts with ``/``)."""
    return base_url(remembered=remembered) + path


def stored_job_scope() -> contextlib.AbstractContextManager[None]:
    """Around a job: links use the address stored with the RQ job running now, if any."""
    from rq import get_current_job

    current = get_current_job()
    value = (current.meta or {}).get("link_base") if current is not None else None
    return job_base(str(value)) if value else contextlib.nullcontext()


@contextlib.contextmanager
def job_base(value: str | None) -> Iterator[None]:
    """Within the block, links use ``value`` (a job's stored address) unless ``BASE_URL`` is set."""
    token = _job_base.set(value or None)
    try:
        yield
    finally:
        _job_base.reset(token)
