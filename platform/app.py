"""``create_app``: the only place that wires extensions and blueprints."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

from flask import Flask
from flask_migrate import Migrate
from flask_smorest.spec.plugins import integerconverter2paramschema
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from timebank.platform import blueprints, logs, monitoring, tenancy
from timebank.platform import config as config_module
from timebank.platform.api import errors, unavailable
from timebank.platform.api.converters import BoundedIntegerConverter
from timebank.platform.api.jsonbody import GuardedJSONProvider
from timebank.platform.api.openapi import ProblemApi, ProblemResponsesPlugin
from timebank.platform.api.text import check_request
from timebank.platform.db import db, install_row_level_scope, render_migration_item
from timebank.platform.identity import auth
from timebank.platform.identity.passwords import use_fast_hashing
from timebank.platform.jobs import pending_count, redis_connection
from timebank.platform.ratelimit import init_app as init_rate_limits
from timebank.platform.web import headers as security_headers

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = ROOT / "migrations"

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
    # Before any route is added: ids in URLs fit the database's 64 bits (else 404).
    app.url_map.converters["int"] = BoundedIntegerConverter
    app.json = GuardedJSONProvider(app)
    app.config.update(config_module.load(app.instance_path, config))
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies
        )
    logs.init_app(app)
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
    security_headers.init_app(app)
    errors.init_app(app)
    # Hostile text in a path segment, query parameter, form field or key: 422, first.
    app.before_request_funcs.setdefault(None, []).insert(0, check_request)
    unavailable.init_app(app)
    _register_models_and_provisioners()
    _register_routes(app)
    _register_health(app)
    monitoring.init_app(app)
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
    import timebank.platform.billing.customers
    import timebank.platform.demo_activity  # the sandboxes' generator
    import timebank.platform.exchange.models
    import timebank.platform.exchange.verify
    import timebank.tenants.courts.models
    import timebank.tenants.earning.models
    import timebank.tenants.earning.services
    import timebank.tenants.groups.models
    import timebank.tenants.marketplace.categories
    import timebank.tenants.marketplace.models
    import timebank.tenants.partners.models
    import timebank.tenants.partners.services
    import timebank.tenants.provisioning
    import timebank.tenants.referrals.models
    import timebank.tenants.referrals.services
    import timebank.tenants.spending.models
    import timebank.tenants.spending.services  # noqa: F401


def _register_routes(app: Flask) -> None:
    api = ProblemApi(
        app,
        spec_kwargs={
            "extra_plugins": [ProblemResponsesPlugin()],
            "info": {"description": "Timebank: time-credit schemes. Amounts are minutes."},
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearer": []}],
        },
    )
    api.register_converter(BoundedIntegerConverter, integerconverter2paramschema)
    blueprints.register(app, api, csrf)
    # flask-smorest installs its own JSON error handler; ours speaks problem+json.
    errors.init_app(app)


def _register_health(app: Flask) -> None:
    @app.get("/healthz")
    def healthz() -> tuple[dict[str, str], int]:
        return {"status": "ok"}, 200

    @app.get("/readyz")
    def readyz() -> tuple[dict[str, Any], int]:
        """Whether this process can serve its core work: the database.

        Redis carries only jobs (mail, reports) and rate-limit counters: when
        it is down, actions still commit and their jobs wait in the outbox, so
        the answer stays 200 with ``status: "degraded"`` and a load balancer
        keeps the site up while only mail is delayed.
        """
        checks: dict[str, Any] = {}
        status = "ok"
        try:
            db.session.execute(text("SELECT 1"))
            checks["database"] = "ok"
            if app.config.get("REDIS_URL"):
                checks["jobs_waiting"] = pending_count()
            db.session.rollback()
        except Exception as error:  # readiness reports any failure
            checks["database"] = f"error: {type(error).__name__}"
            status = "unavailable"
            db.session.remove()
        if app.config.get("REDIS_URL"):
            try:
                redis_connection(fail_fast=True).ping()
                checks["redis"] = "ok"
            except Exception as error:
                checks["redis"] = f"error: {type(error).__name__}"
                if status == "ok":
                    status = "degraded"
        return {"status": status, "checks": checks}, (503 if status == "unavailable" else 200)

    csrf.exempt(healthz)
    csrf.exempt(readyz)
