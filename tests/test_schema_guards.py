"""Guards on the schema: every tenant table is isolated by the database itself.

A *tenant table* is any table with a ``scheme_id`` column, found in the live
catalogue and in the models, never in a hand-kept list, so a new table is
checked the day it is added. A platform table that only *refers* to a scheme
(billing: webhooks find rows by Stripe customer, across schemes) says so on
its model with ``info={"without_row_level_security": "<why>"}``; nothing else
is exempt. Likewise a column that must be unique across schemes (the hash of
a random token looked up before its scheme is known) says so with
``info={"unique_across_schemes": "<why>"}``.

- Row-level security (PostgreSQL only): enabled AND forced (so the tables'
  owner is checked too), with a policy for every command that filters on
  ``scheme_id``, read from ``pg_class`` and ``pg_policies`` after migrations.
- Keys: the primary key and every foreign key to a tenant table lead with
  ``scheme_id``; every unique constraint and unique index includes it (so no
  uniqueness can tell one scheme about another's rows). Read from the models'
  metadata AND from the migrated database.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Connection, MetaData, create_engine, inspect, text

from tests.conftest import Database

EXEMPTION = "without_row_level_security"
UNIQUE_ACROSS_SCHEMES = "unique_across_schemes"


def _metadata() -> MetaData:
    from timebank.platform.db import db

    return db.metadata


def exempt_tables() -> dict[str, str]:
    """Platform tables with a ``scheme_id`` column that say on their model why they are not tenant tables."""
    return {
        name: str(table.info[EXEMPTION])
        for name, table in _metadata().tables.items()
        if table.info.get(EXEMPTION)
    }


def unique_across_schemes() -> set[tuple[str, str]]:
    """(table, column) of columns whose model says they are unique across schemes, and why."""
    return {
        (name, column.name)
        for name, table in _metadata().tables.items()
        for column in table.columns
        if column.info.get(UNIQUE_ACROSS_SCHEMES)
    }


def _engine_url(app: Flask, database: Database) -> str:
    if database.postgres:
        return database.owner_url_string()
    return str(app.config["SQLALCHEMY_DATABASE_URI"])


# --- row-level security ---------------------------------------------------------------

RLS_STATE = text(
    """
    SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'scheme_id' AND NOT a.attisdropped
    WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
    ORDER BY c.relname
    """
)
POLICIES = text(
    """
    SELECT tablename, policyname, cmd, qual, with_check
    FROM pg_policies WHERE schemaname = current_schema()
    """
)


def rls_problems(connection: Connection, exempt: Iterable[str]) -> list[str]:
    """What is wrong with row-level security on the tables with a ``scheme_id`` column."""
    policies: dict[str, list[Any]] = {}
    for row in connection.execute(POLICIES):
        policies.setdefault(row.tablename, []).append(row)
    problems = []
    for name, enabled, forced in connection.execute(RLS_STATE):
        if name in exempt:
            continue
        if not enabled:
            problems.append(f"{name}: row-level security is not enabled")
        if not forced:
            problems.append(f"{name}: row-level security is not forced (its owner would bypass it)")
        isolating = [
            policy
            for policy in policies.get(name, [])
            if policy.cmd == "ALL"
            and "scheme_id" in (policy.qual or "")
            and "scheme_id" in (policy.with_check or policy.qual or "")
        ]
        if not isolating:
            problems.append(
                f"{name}: no policy for ALL commands filtering on scheme_id "
                f"(has: {[p.policyname for p in policies.get(name, [])] or 'none'})"
            )
    return problems


def _rls_hint(problems: list[str]) -> str:
    return (
        "Tables with a scheme_id column need row-level security like migration 0002's "
        "enable_rls() (ENABLE, FORCE, CREATE POLICY tenant_isolation), or, for a platform "
        f"table, info={{'{EXEMPTION}': '<why>'}} on the model:\n  " + "\n  ".join(problems)
    )


# Row-level security exists only on PostgreSQL: these run whenever DATABASE_URL names one
# (always in CI, .ci/run); on the embedded SQLite default there is no catalogue to read.
needs_postgres = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL"),
    reason="row-level security is a PostgreSQL property: runs when DATABASE_URL is set (CI)",
)


@needs_postgres
def test_every_table_with_scheme_id_has_forced_row_level_security(database: Database) -> None:
    with database.owner.connect() as connection:
        tables = [row.relname for row in connection.execute(RLS_STATE)]
        problems = rls_problems(connection, exempt_tables())
    assert len(tables) >= 15, f"found only {tables}: is the catalogue query right?"
    assert problems == [], _rls_hint(problems)


@needs_postgres
def test_the_row_level_security_guard_sees_a_new_table_without_it(database: Database) -> None:
    """The guard is not vacuous: a table created with a scheme_id column and no RLS is reported."""
    with database.owner.connect() as connection:
        transaction = connection.begin()
        try:
            connection.execute(
                text("CREATE TABLE guard_plant (scheme_id bigint NOT NULL, id bigint NOT NULL)")
            )
            problems = rls_problems(connection, exempt_tables())
            connection.execute(text("ALTER TABLE guard_plant ENABLE ROW LEVEL SECURITY"))
            still = rls_problems(connection, exempt_tables())
        finally:
            transaction.rollback()
    assert [p for p in problems if p.startswith("guard_plant:")] == [
        "guard_plant: row-level security is not enabled",
        "guard_plant: row-level security is not forced (its owner would bypass it)",
        "guard_plant: no policy for ALL commands filtering on scheme_id (has: none)",
    ]
    assert [p for p in still if p.startswith("guard_plant:")] == [
        "guard_plant: row-level security is not forced (its owner would bypass it)",
        "guard_plant: no policy for ALL commands filtering on scheme_id (has: none)",
    ]


# --- keys -------------------------------------------------------------------------------


def _leads(columns: list[str]) -> bool:
    return bool(columns) and columns[0] == "scheme_id"


def key_problems(
    tables: dict[str, dict[str, Any]],
    exempt: Iterable[str],
    source: str,
    unique_ok: set[tuple[str, str]] | frozenset[tuple[str, str]] = frozenset(),
) -> list[str]:
    """Keys of tenant tables that do not lead with (or include) ``scheme_id``.

    ``tables``: name → {"columns", "primary_key", "foreign_keys": [(columns, referred table,
    referred columns)], "unique": [(name, columns)]}.
    """
    exempt = set(exempt)
    tenant = {name for name, t in tables.items() if "scheme_id" in t["columns"]} - exempt
    problems = []
    for name, table in sorted(tables.items()):
        for columns, referred, referred_columns in table["foreign_keys"]:
            if referred not in tenant:
                continue
            if not _leads(referred_columns) or (name in tenant and not _leads(columns)):
                problems.append(
                    f"{source}: {name}: foreign key {columns} -> {referred}{referred_columns} "
                    "does not lead with scheme_id"
                )
        if name not in tenant:
            continue
        if not _leads(table["primary_key"]):
            problems.append(
                f"{source}: {name}: primary key {table['primary_key']} does not lead with scheme_id"
            )
        # A unique constraint is reflected again as the index behind it: report it once.
        for unique_name, columns in dict.fromkeys(
            (unique_name, tuple(columns)) for unique_name, columns in table["unique"]
        ):
            columns = list(columns)
            if "scheme_id" not in columns and not (
                len(columns) == 1 and (name, columns[0]) in unique_ok
            ):
                problems.append(
                    f"{source}: {name}: unique {unique_name} {columns} does not include scheme_id"
                )
    return problems


def tables_from_metadata(metadata: MetaData) -> dict[str, dict[str, Any]]:
    from sqlalchemy import UniqueConstraint

    tables: dict[str, dict[str, Any]] = {}
    for name, table in metadata.tables.items():
        unique = [
            (constraint.name, [c.name for c in constraint.columns])
            for constraint in table.constraints
            if isinstance(constraint, UniqueConstraint)
        ]
        unique += [
            (index.name, [str(getattr(e, "name", e)) for e in index.expressions])
            for index in table.indexes
            if index.unique
        ]
        tables[name] = {
            "columns": [c.name for c in table.columns],
            "primary_key": [c.name for c in table.primary_key.columns],
            "foreign_keys": [
                (
                    [element.parent.name for element in constraint.elements],
                    constraint.referred_table.name,
                    [element.column.name for element in constraint.elements],
                )
                for constraint in table.foreign_key_constraints
            ],
            "unique": unique,
        }
    return tables


def tables_from_database(connection: Connection) -> dict[str, dict[str, Any]]:
    inspector = inspect(connection)
    tables: dict[str, dict[str, Any]] = {}
    for name in inspector.get_table_names():
        if name == "alembic_version":
            continue
        unique = [
            (constraint["name"], list(constraint["column_names"]))
            for constraint in inspector.get_unique_constraints(name)
        ]
        unique += [
            # An expression index has None among its column names: read the expression.
            (
                index["name"],
                [
                    column or str(expression)
                    for column, expression in zip(
                        index["column_names"],
                        index.get("expressions") or [None] * len(index["column_names"]),
                        strict=True,
                    )
                ],
            )
            for index in inspector.get_indexes(name)
            if index["unique"]
        ]
        tables[name] = {
            "columns": [column["name"] for column in inspector.get_columns(name)],
            "primary_key": list(inspector.get_pk_constraint(name)["constrained_columns"]),
            "foreign_keys": [
                (
                    list(fk["constrained_columns"]),
                    fk["referred_table"],
                    list(fk["referred_columns"]),
                )
                for fk in inspector.get_foreign_keys(name)
            ],
            "unique": unique,
        }
    return tables


def _keys_hint(problems: list[str]) -> str:
    return (
        "Tenant tables: scheme_id leads the primary key (TenantScoped) and every foreign key "
        "to a tenant table (tenant_fk); every unique constraint/index includes it:\n  "
        + "\n  ".join(problems)
    )


def test_tenant_keys_lead_with_scheme_id_in_the_models(app: Flask) -> None:
    # ``app``: creating it imports every package, so every model is in the metadata.
    tables = tables_from_metadata(_metadata())
    tenant = [name for name, t in tables.items() if "scheme_id" in t["columns"]]
    assert len(tenant) >= 15, tenant
    problems = key_problems(tables, exempt_tables(), "models", unique_across_schemes())
    assert problems == [], _keys_hint(problems)


def test_tenant_keys_lead_with_scheme_id_in_the_migrated_database(
    app: Flask, database: Database
) -> None:
    engine = create_engine(_engine_url(app, database))
    try:
        with engine.connect() as connection:
            tables = tables_from_database(connection)
    finally:
        engine.dispose()
    assert set(_metadata().tables) <= set(tables), set(_metadata().tables) - set(tables)
    problems = key_problems(tables, exempt_tables(), "database", unique_across_schemes())
    assert problems == [], _keys_hint(problems)


def test_the_key_guard_sees_keys_without_scheme_id() -> None:
    """The guard is not vacuous: each kind of bad key is reported."""
    tables = {
        "things": {
            "columns": ["scheme_id", "id", "code", "owner_id"],
            "primary_key": ["id", "scheme_id"],
            "foreign_keys": [(["owner_id", "scheme_id"], "owners", ["id", "scheme_id"])],
            "unique": [("uq_things_code", ["code"])],
        },
        "owners": {
            "columns": ["scheme_id", "id"],
            "primary_key": ["scheme_id", "id"],
            "foreign_keys": [],
            "unique": [],
        },
        "platform_rows": {
            "columns": ["id", "thing_id"],
            "primary_key": ["id"],
            "foreign_keys": [(["thing_id"], "things", ["id"])],
            "unique": [("uq_platform_rows_thing", ["thing_id"])],
        },
    }
    assert key_problems(tables, [], "plant") == [
        "plant: platform_rows: foreign key ['thing_id'] -> things['id'] does not lead with scheme_id",
        "plant: things: foreign key ['owner_id', 'scheme_id'] -> owners['id', 'scheme_id'] "
        "does not lead with scheme_id",
        "plant: things: primary key ['id', 'scheme_id'] does not lead with scheme_id",
        "plant: things: unique uq_things_code ['code'] does not include scheme_id",
    ]
    assert key_problems(tables, ["things"], "plant", {("platform_rows", "thing_id")}) == [
        "plant: things: foreign key ['owner_id', 'scheme_id'] -> owners['id', 'scheme_id'] "
        "does not lead with scheme_id",
    ]
    assert key_problems(tables, ["things", "owners"], "plant") == []
