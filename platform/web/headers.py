"""Security headers on every response (pages and API), through flask-talisman.

- ``Content-Security-Policy``: scripts, styles, images and fonts from our own
  origin only (no inline script or style attribute anywhere), plus Stripe.js
  and its frames and API on the billing page; ``frame-ancestors 'none'``.
- ``X-Frame-Options: DENY``, ``X-Content-Type-Options: nosniff``,
  ``Referrer-Policy: strict-origin-when-cross-origin``.
- ``Strict-Transport-Security`` in production (on HTTPS requests, the only
  ones a browser heeds it on), one year, subdomains included.

Map tiles of the partners' directory come from ``MAP_TILE_URL``'s origin
when one is configured; the counter page may use the camera (``camera=(self)``).

The Stripe origins follow ``STRIPE_JS_URL`` (and ``STRIPE_API_BASE`` when set:
localstripe in tests), so a self-hosted stand-in is allowed too.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from flask_talisman import Talisman

STRIPE_FRAMES = ["https://js.stripe.com", "https://hooks.stripe.com"]
STRIPE_API = "https://api.stripe.com"


def _origin(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def content_security_policy(config: dict[str, Any]) -> dict[str, str | list[str]]:
    """The policy for this deployment's configuration."""
    stripe_js = _origin(config.get("STRIPE_JS_URL")) or "https://js.stripe.com"
    stripe_api = _origin(config.get("STRIPE_API_BASE")) or STRIPE_API
    frames = sorted({stripe_js, *STRIPE_FRAMES})
    return {
        "default-src": "'self'",
        "script-src": ["'self'", stripe_js],
        "style-src": "'self'",
        "img-src": ["'self'", "data:", *filter(None, [_origin(config.get("MAP_TILE_URL"))])],
        "font-src": "'self'",
        "connect-src": sorted({"'self'", stripe_api, stripe_js}),
        "frame-src": frames,
        "frame-ancestors": "'none'",
        "form-action": "'self'",
        "base-uri": "'self'",
        "object-src": "'none'",
    }


def init_app(app: Flask) -> None:
    production = app.config.get("ENV") == "production"
    # One Talisman per app: it keeps its options on the instance.
    app.extensions["talisman"] = Talisman(
        app,
        force_https=False,  # the proxy in front terminates TLS and redirects
        strict_transport_security=production,
        strict_transport_security_include_subdomains=True,
        session_cookie_secure=bool(app.config.get("SESSION_COOKIE_SECURE")),
        content_security_policy=content_security_policy(app.config),
        frame_options="DENY",
        referrer_policy="strict-origin-when-cross-origin",
        x_content_type_options=True,
        # The camera for scanning codes at a partner's counter (our own pages only).
        permissions_policy={"camera": "(self)", "microphone": "()", "geolocation": "()"},
    )
