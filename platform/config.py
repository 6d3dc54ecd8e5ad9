"""Settings from the environment, with the embedded defaults.

Nothing set gives the embedded default: a SQLite file in the instance folder,
jobs run inline, billing off, mail written to an outbox folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

DEV_SECRET_KEY = "dev-only-secret-change-me"


class ConfigError(RuntimeError):
    """The environment describes a setup the platform refuses to run in."""


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs given in the common short forms."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def load(instance_path: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    env = os.environ
    overrides = overrides or {}
    instance = Path(instance_path)
    database_url = overrides.get("DATABASE_URL") or env.get("DATABASE_URL")
    if not database_url:
        database_url = f"sqlite:///{instance / 'timebank.sqlite3'}"
    database_url = normalise_database_url(database_url)
    environment = overrides.get("ENV") or env.get("TIMEBANK_ENV", "development")
    config: dict[str, Any] = {
        "ENV": environment,
        "SECRET_KEY": env.get("SECRET_KEY", DEV_SECRET_KEY),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "DATABASE_URL": database_url,
        "REDIS_URL": env.get("REDIS_URL") or None,
        "SMTP_URL": env.get("SMTP_URL") or None,
        "MAIL_FROM": env.get("MAIL_FROM", "Timebank <no-reply@timebank.localhost>"),
        "OUTBOX_DIR": env.get("OUTBOX_DIR", str(instance / "outbox")),
        "STRIPE_API_KEY": env.get("STRIPE_API_KEY") or None,
        "STRIPE_WEBHOOK_SECRET": env.get("STRIPE_WEBHOOK_SECRET") or None,
        "STRIPE_API_BASE": env.get("STRIPE_API_BASE") or None,
        "STRIPE_PUBLISHABLE_KEY": env.get("STRIPE_PUBLISHABLE_KEY") or None,
        "STRIPE_JS_URL": env.get("STRIPE_JS_URL", "https://js.stripe.com/v3/"),
        "STRIPE_PLAN_COMMUNITY": env.get("STRIPE_PLAN_COMMUNITY") or None,
        "STRIPE_PLAN_ORGANISATION": env.get("STRIPE_PLAN_ORGANISATION") or None,
        "BILLING_GRACE_DAYS": int(env.get("BILLING_GRACE_DAYS", "14")),
        "BILLING_FREE_MEMBER_LIMIT": int(env.get("BILLING_FREE_MEMBER_LIMIT", "30")),
        "RATELIMIT_ENABLED": _bool(env.get("RATELIMIT_ENABLED"), True),
        # Reverse proxies in front (nginx, a load balancer): their X-Forwarded-For/-Proto/
        # -Host are believed, so rate limits and logs see the client, not the proxy.
        "TRUSTED_PROXIES": int(env.get("TRUSTED_PROXIES", "0")),
        "RATELIMIT_STORAGE_URI": env.get("REDIS_URL") or "memory://",
        # Redis down must not turn sign-in into a 500: count in memory meanwhile,
        # and never wait long for a Redis that does not answer.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_STORAGE_OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        "RATELIMIT_HEADERS_ENABLED": True,
        # Logs: "text" (development) or "json" (one JSON object a line: platform/logs.py).
        "LOG_FORMAT": env.get("LOG_FORMAT", "text"),
        "LOG_LEVEL": env.get("LOG_LEVEL", "INFO"),
        # Networks that may read /metrics without an operator token (comma-separated).
        "METRICS_ALLOW": env.get("METRICS_ALLOW", ""),
        "TOKEN_LIFETIME_DAYS": int(env.get("TOKEN_LIFETIME_DAYS", "30")),
        "INVITATION_LIFETIME_DAYS": int(env.get("INVITATION_LIFETIME_DAYS", "14")),
        # Links in mail: BASE_URL when set, else the request's address when its host is
        # trusted (platform/links.py); a forged Host header never steers a link.
        "BASE_URL": env.get("BASE_URL") or None,
        "LINK_TRUSTED_HOSTS": [
            host.strip().lower()
            for host in env.get("TRUSTED_HOSTS", "localhost,127.0.0.1").split(",")
            if host.strip()
        ],
        # Mails about credits received: at most this many single mails a member an hour;
        # past it they wait for the hourly digest (tenants/ledger/credit_mail.py).
        "CREDIT_MAIL_BURST": int(env.get("CREDIT_MAIL_BURST", "3")),
        # Map tiles of the partners' directory, e.g. https://tile.example.org/{z}/{x}/{y}.png;
        # unset: the directory shows its list and places without map tiles.
        "MAP_TILE_URL": env.get("MAP_TILE_URL") or None,
        "MAP_TILE_ATTRIBUTION": env.get("MAP_TILE_ATTRIBUTION", ""),
        # Ed25519 private key (32 raw bytes, base64) signing the public feed of daily roots.
        "ROOT_SIGNING_KEY": env.get("TIMEBANK_ROOT_SIGNING_KEY") or None,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": environment == "production",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SECURE": environment == "production",
        "SESSION_PROTECTION": "strong",
        "WTF_CSRF_TIME_LIMIT": None,
        "MAX_CONTENT_LENGTH": 5 * 1024 * 1024,
        # flask-smorest / OpenAPI
        "API_TITLE": "Timebank API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
    }
    if database_url.startswith("postgresql"):
        # No pre-ping (a round trip per checkout); stale connections are recycled.
        config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_recycle": 1800, "pool_size": 10}
    else:
        config["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"timeout": 30}}
    config.update(overrides)
    if config["ENV"] == "production" and config["SECRET_KEY"] == DEV_SECRET_KEY:
        raise ConfigError("SECRET_KEY must be set in production (TIMEBANK_ENV=production)")
    return config
