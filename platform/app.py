"""``create_app``: the only place that wires extensions and blueprints."""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path
from typing import Any

from flask import Flask, request
from flask_migrate import Migrate
from flask_smorest import Api
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from timebank.platform import config as config_module
from timebank.platform import tenancy
from timebank.platform.api import errors
from timebank.platform.db import db, install_row_level_scope, render_migration_item
from timebank.platform.identity import auth
from timebank.platform.identity.passwords import use_fast_hashing
from timebank.platform.ratelimit import init_app as init_rate_limits

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = ROOT / "migrations"

# API routes anyone may call; every other /api/ route needs credentials (401).
PUBLIC_API_ENDPOINTS = {"identity.create_user", "identity.create_token", "api-docs.openapi_json"}

migrate = Migrate()
csrf = CSRFProtect()


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(
        "timebank",
        root_path=str(Path(__file__).resolve().parent),
        template_folder="web/templates",
        static_folder="web/static",
        instance_path=os.environ.get("TIMEBANK_INSTANCE") or str(ROOT / "instance"),
        instance_relative_config=True,
    )
    app.config.update(config_module.load(app.instance_path, config))
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies
        )
    logging.basicConfig(level=app.config.get("LOG_LEVEL", "INFO"))
    if app.config.get("FAST_PASSWORD_HASHING"):
        use_fast_hashing()

    db.init_app(app)
    migrate.init_app(
        app,
        db,
        directory=str(MIGRATIONS),
        render_as_batch=True,
        compare_type=True,
        render_item=render_migration_item,
    )
    with app.app_context():
        _configure_engine(db.engine)
    auth.init_app(app)
    init_rate_limits(app)
    csrf.init_app(app)
    errors.init_app(app)
    _register_models_and_provisioners()
    _register_api(app)
    _register_web(app)
    _register_health(app)
    from timebank.tenants.ledger.services import format_minutes

    app.jinja_env.filters["hours"] = format_minutes
    # Each rendered form gets a fresh key: see platform/api/idempotency.py.
    app.jinja_env.globals["new_form_key"] = lambda: uuid.uuid4().hex

    @app.teardown_request
    def _leave_scheme(_error: BaseException | None) -> None:
        tenancy.reset_request_scheme()

    from timebank.platform.cli import register_commands

    register_commands(app)
    return app


def _configure_engine(engine: Engine) -> None:
    install_row_level_scope(engine)
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.close()


def _register_models_and_provisioners() -> None:
    # Importing the packages registers their models, provisioners and verifiers.
    import timebank.platform.api.idempotency
    import timebank.platform.audit
    import timebank.platform.billing.services
    import timebank.platform.exchange.models
    import timebank.platform.exchange.verify
    import timebank.tenants.earning.models
    import timebank.tenants.earning.services
    import timebank.tenants.marketplace.categories
    import timebank.tenants.marketplace.models
    import timebank.tenants.provisioning
    import timebank.tenants.spending.models
    import timebank.tenants.spending.services  # noqa: F401


def _register_api(app: Flask) -> None:
    from timebank.platform.billing.routes import api_blp as billing
    from timebank.platform.exchange.routes import blp as exchange
    from timebank.platform.identity.routes import blp as identity
    from timebank.platform.operators.routes import blp as operators
    from timebank.platform.schemes.routes import blp as schemes
    from timebank.tenants.earning.routes import blp as earning
    from timebank.tenants.ledger.routes import blp as ledger
    from timebank.tenants.marketplace.routes import blp as marketplace
    from timebank.tenants.memberships.import_routes import blp as member_imports
    from timebank.tenants.memberships.routes import blp as members
    from timebank.tenants.memberships.routes import invitations_blp
    from timebank.tenants.memberships.services import resolve_scheme_from_url
    from timebank.tenants.policy.routes import blp as policy
    from timebank.tenants.spending.routes import blp as spending
    from timebank.worker.routes import blp as jobs

    api = Api(
        app,
        spec_kwargs={
            "info": {"description": "Timebank: time-credit schemes. Amounts are minutes."},
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearer": []}],
        },
    )
    for blueprint in (
        identity,
        schemes,
        policy,
        members,
        invitations_blp,
        ledger,
        earning,
        spending,
        marketplace,
        exchange,
        operators,
        member_imports,
        jobs,
        billing,
    ):
        api.register_blueprint(blueprint)
        csrf.exempt(blueprint)
    # flask-smorest installs its own JSON error handler; ours speaks problem+json.
    errors.init_app(app)

    @app.before_request
    def _require_credentials() -> None:
        if not request.path.startswith("/api/"):
            return
        if request.endpoint in PUBLIC_API_ENDPOINTS or request.endpoint is None:
            return
        if "slug" in (request.view_args or {}) and resolve_scheme_from_url in (
            app.before_request_funcs.get(request.blueprint or "", ())
        ):
            return  # the scheme blueprint checks the caller with the membership, next
        auth.require_user()


def _register_web(app: Flask) -> None:
    from timebank.platform.web.routes import bp as web

    app.register_blueprint(web)
    from timebank.platform.billing.routes import register as register_billing

    register_billing(app)


def _register_health(app: Flask) -> None:
    @app.get("/healthz")
    def healthz() -> tuple[dict[str, str], int]:
        return {"status": "ok"}, 200

    @app.get("/readyz")
    def readyz() -> tuple[dict[str, Any], int]:
        checks: dict[str, str] = {}
        healthy = True
        try:
            db.session.execute(text("SELECT 1"))
            db.session.rollback()
            checks["database"] = "ok"
        except Exception as error:  # readiness reports any failure
            checks["database"] = f"error: {type(error).__name__}"
            healthy = False
        if app.config.get("REDIS_URL"):
            try:
                from timebank.worker.queues import redis_connection

                redis_connection().ping()
                checks["redis"] = "ok"
            except Exception as error:
                checks["redis"] = f"error: {type(error).__name__}"
                healthy = False
        return {"status": "ok" if healthy else "unavailable", "checks": checks}, (
            200 if healthy else 503
        )

    csrf.exempt(healthz)
    csrf.exempt(readyz)
