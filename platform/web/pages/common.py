"""What every scheme page shares: resolving the scheme from ``/s/<slug>/``, names, rendering.

Every page under ``/s/<slug>/`` resolves the scheme and the caller's membership
through :func:`timebank.tenants.access.scheme_access` before the
view runs (a ``before_request`` of each scheme blueprint), so another scheme's
pages are the same 404 as a missing one, and every query of the view runs in
the scheme's context.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, redirect, render_template, request, url_for
from flask_login import current_user

from timebank.tenants.access import Access, scheme_access
from timebank.tenants.policy.services import current_policy


def scheme_blueprint(name: str, url_prefix: str = "") -> Blueprint:
    """A blueprint of pages under ``/s/<slug>``: sign-in, then the scheme, before each view."""
    blueprint = Blueprint(name, __name__, url_prefix=f"/s/<slug>{url_prefix}")
    blueprint.before_request(enter_scheme)
    return blueprint


def enter_scheme() -> Any:
    if not current_user.is_authenticated:
        return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
    slug = (request.view_args or {}).get("slug")
    if slug is not None:
        scheme_access(slug)
    return None


def page_access(*, write: bool = False, coordinator: bool = False) -> Access:
    """The caller in the scheme of this page (resolved already by ``enter_scheme``)."""
    slug = (request.view_args or {})["slug"]
    return scheme_access(slug, write=write, coordinator=coordinator)


def policy() -> dict[str, Any]:
    return current_policy(page_access().scheme)


def render(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    access: Access | None = g.get("scheme_access")
    if access is not None:
        context.setdefault("access", access)
        context.setdefault("scheme", access.scheme)
    return render_template(template, **context), status
