"""The SQLAlchemy object, the model base, tenant scoping and units of work.

Every tenant-owned table mixes in :class:`TenantScoped`: ``scheme_id`` leads its
primary key, and foreign keys between tenant tables include it, so a row of one
scheme can never point at a row of another. The ``do_orm_execute`` hook below
adds ``scheme_id = <current scheme>`` to every ORM query on such a table and
refuses one made with no scheme context (see :mod:`timebank.platform.tenancy`).

Writes go through :func:`atomic`: one database transaction per business
operation, retried from the start when PostgreSQL reports a deadlock or a
serialization failure, with callbacks (job enqueueing) run only after commit.
"""

from __future__ import annotations

import functools
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

from flask import has_app_context
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    MetaData,
    TypeDecorator,
    event,
    func,
    select,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    ORMExecuteState,
    Session,
    declared_attr,
    mapped_column,
    with_loader_criteria,
)
from sqlalchemy.sql.util import find_tables

from timebank.platform import tenancy

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})

# SQLite has no sequences and cannot autoincrement one column of a composite
# primary key, so ids of tenant tables are handed out here on SQLite (one
# process owns an embedded database). PostgreSQL uses identity columns.
_id_lock = threading.Lock()
_last_ids: dict[tuple[str, str], int] = {}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every database (SQLite stores it naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


_CLOCK: ContextVar[datetime | None] = ContextVar("timebank_clock", default=None)


def utcnow() -> datetime:
    """Now (UTC); inside :func:`clock_at`, the moment it names (the demo's history)."""
    return _CLOCK.get() or datetime.now(UTC)


@contextmanager
def clock_at(moment: datetime) -> Iterator[None]:
    """Date what is written inside at ``moment`` (``timebank demo`` only: a living past)."""
    token = _CLOCK.set(moment)
    try:
        yield
    finally:
        _CLOCK.reset(token)


def utcnow_column(**kwargs: Any) -> Any:
    """A creation timestamp, set by Python (microseconds everywhere) or the database."""
    return mapped_column(
        UTCDateTime(), default=utcnow, server_default=func.current_timestamp(), **kwargs
    )


class TenantScoped:
    """Mixin for every table that belongs to one scheme."""

    __tenant_scoped__ = True

    @declared_attr
    def scheme_id(cls) -> Mapped[int]:
        return mapped_column(BigInteger, ForeignKey("schemes.id"), primary_key=True, sort_order=-10)

    @declared_attr
    def id(cls) -> Mapped[int]:
        return mapped_column(BigInteger, Identity(), primary_key=True, sort_order=-9)


def tenant_fk(columns: list[str], table: str, **kwargs: Any) -> ForeignKeyConstraint:
    """A foreign key between tenant tables: always through ``scheme_id``."""
    return ForeignKeyConstraint(
        ["scheme_id", *columns], [f"{table}.scheme_id", f"{table}.id"], **kwargs
    )


def is_tenant_model(cls: Any) -> bool:
    return bool(getattr(cls, "__tenant_scoped__", False))


def tenant_tables() -> list[str]:
    return sorted(
        mapper.local_table.name  # type: ignore[attr-defined]
        for mapper in Base.registry.mappers
        if is_tenant_model(mapper.class_)
    )


class UnscopedQueryError(RuntimeError):
    """A tenant table was queried with no scheme context."""


@event.listens_for(Session, "do_orm_execute")
def _scope_tenant_queries(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.is_relationship_load or state.is_column_load:
        return  # follows a row already loaded within its scheme
    context = tenancy.current()
    if context.all_schemes:
        return
    if context.scheme_id is None:
        touched = _tenant_tables_in(state.statement)
        if touched:
            raise UnscopedQueryError(
                f"query on tenant table(s) {', '.join(sorted(touched))} outside a scheme context"
            )
        return
    # Applies to every occurrence of a tenant entity: columns, select_from, joins,
    # subqueries (``all_mappers`` misses ``select(func.count()).select_from(Model)``).
    state.statement = state.statement.options(_scheme_criteria(context.scheme_id))


@functools.lru_cache(maxsize=4096)
def _scheme_criteria(scheme_id: int) -> Any:
    """The criteria option for one scheme, built once (options are immutable)."""
    return with_loader_criteria(
        TenantScoped,
        lambda cls: cls.scheme_id == scheme_id,
        include_aliases=True,
    )


def _tenant_tables_in(statement: Any) -> set[str]:
    tenant = set(tenant_tables())
    return {table.name for table in find_tables(statement, include_joins=True)} & tenant


@event.listens_for(Session, "before_flush")
def _assign_sqlite_ids(session: Session, flush_context: Any, instances: Any) -> None:
    bind = session.get_bind()
    if bind.dialect.name != "sqlite":
        return
    waiting: dict[str, list[Any]] = {}
    for obj in session.new:
        if is_tenant_model(type(obj)) and getattr(obj, "id", None) is None:
            waiting.setdefault(type(obj).__table__.name, []).append(obj)  # type: ignore[attr-defined]
    for table, objects in waiting.items():
        for obj, new_id in zip(objects, next_ids(session, table, len(objects)), strict=True):
            obj.id = new_id


def next_ids(session: Session, table: str, count: int) -> list[int]:
    """Allocate ``count`` ids for a tenant table (for bulk inserts)."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        sequence = session.execute(
            text("SELECT pg_get_serial_sequence(:table, 'id')"), {"table": table}
        ).scalar_one()
        rows = session.execute(
            text("SELECT nextval(:seq) FROM generate_series(1, :n)"), {"seq": sequence, "n": count}
        )
        return [row[0] for row in rows]
    # SQLite: the highest id is read once per process and table (a full scan:
    # ``id`` is the second column of the primary key), then counted on here.
    # The embedded default has one writing process.
    key = (str(bind.engine.url), table)
    with _id_lock:
        if key not in _last_ids:
            current = session.execute(
                text(f'SELECT coalesce(max(id), 0) FROM "{table}"')
            ).scalar_one()
            _last_ids[key] = int(current)
        start = _last_ids[key] + 1
        _last_ids[key] = start + count - 1
    return list(range(start, start + count))


# --- row-level security (PostgreSQL) -----------------------------------------
#
# The scheme context is written into the transaction-local settings that the
# RLS policies read, lazily: just before the first statement that runs under a
# context the connection's transaction has not seen yet. One ``set_config`` per
# transaction in the common case; ``SET LOCAL`` semantics mean a pooled
# connection never carries a scheme over to the next transaction.

_NO_SCHEME = tenancy.SchemeContext().rls_settings()
_RLS_SQL = (
    "SELECT set_config('app.scheme_ids', %(ids)s, true), "
    "set_config('app.all_schemes', %(all)s, true)"
)


def install_row_level_scope(engine: Engine) -> None:
    """Keep each transaction's RLS settings equal to the scheme context."""
    if engine.dialect.name != "postgresql":
        return

    @event.listens_for(engine, "before_cursor_execute")
    def _apply(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        wanted = tenancy.current().rls_settings()
        applied = conn.info.get("rls_settings")
        if applied == wanted or (applied is None and wanted == _NO_SCHEME):
            return
        cursor.execute(_RLS_SQL, wanted)
        conn.info["rls_settings"] = wanted

    def _forget(conn: Any, *args: Any) -> None:
        # A connection that PostgreSQL killed is invalidated: asking for its
        # ``info`` would raise inside the rollback and hide the real error.
        # Its DBAPI connection is discarded, and the pool clears ``info``
        # before it connects again, so there is nothing to forget.
        if conn.invalidated:
            return
        conn.info.pop("rls_settings", None)

    def _forget_record(dbapi_connection: Any, record: Any) -> None:
        record.info.pop("rls_settings", None)

    def _forget_on_reset(dbapi_connection: Any, record: Any, reset_state: Any) -> None:
        record.info.pop("rls_settings", None)

    event.listen(engine, "commit", _forget)
    event.listen(engine, "rollback", _forget)
    # The pool may also roll back on check-in without a Connection event.
    event.listen(engine, "checkin", _forget_record)
    event.listen(engine, "reset", _forget_on_reset)


def refresh_row_level_scope(phase: str) -> None:
    """Flush pending rows while the old scheme context still applies."""
    if phase != "before" or not has_app_context():
        return
    session = db.session()
    if session.in_transaction() and (session.new or session.dirty or session.deleted):
        session.flush()


tenancy.on_context_change(refresh_row_level_scope)

# --- units of work ---------------------------------------------------------

P = ParamSpec("P")
T = TypeVar("T")

RETRYABLE_SQLSTATES = {"40001", "40P01"}  # serialization_failure, deadlock_detected


def _is_retryable(error: DBAPIError) -> bool:
    sqlstate = getattr(error.orig, "sqlstate", None)
    if sqlstate in RETRYABLE_SQLSTATES:
        return True
    # SQLite: another writer holds the database lock.
    return "database is locked" in str(error.orig)


def after_commit(callback: Callable[[], None]) -> None:
    """Run ``callback`` once the current unit of work commits (never if it rolls back)."""
    session = db.session()
    if session.info.get("atomic_depth"):
        session.info.setdefault("after_commit", []).append(callback)
    else:
        callback()


def in_atomic() -> bool:
    return bool(db.session().info.get("atomic_depth"))


def run_atomic(work: Callable[[], T], *, retries: int = 8) -> T:
    """Run ``work`` in one database transaction, committing at the end.

    Nested calls join the outer unit of work. Deadlocks and serialization
    failures roll back and run the whole unit again.
    """
    session = db.session()
    if session.info.get("atomic_depth"):
        session.info["atomic_depth"] += 1
        try:
            return work()
        finally:
            session.info["atomic_depth"] -= 1
    attempt = 0
    while True:
        # A read transaction already open (the request's loaders) simply
        # continues: the unit of work commits it; a retry starts afresh.
        session.info["atomic_depth"] = 1
        session.info["after_commit"] = []
        try:
            result = work()
            session.commit()
        except DBAPIError as error:
            session.rollback()
            attempt += 1
            if _is_retryable(error) and attempt <= retries:
                time.sleep(random.uniform(0, 0.005 * 2**attempt))
                continue
            raise
        except BaseException:
            session.rollback()
            raise
        finally:
            session.info["atomic_depth"] = 0
        callbacks = session.info.pop("after_commit", [])
        for callback in callbacks:
            callback()
        return result


def atomic(fn: Callable[P, T]) -> Callable[P, T]:
    """Decorate a service so that it runs as one unit of work (see :func:`run_atomic`)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        return run_atomic(lambda: fn(*args, **kwargs))

    return wrapper


def count(statement: Any) -> int:
    return int(
        db.session.execute(select(func.count()).select_from(statement.subquery())).scalar_one()
    )


def render_migration_item(type_: str, obj: Any, autogen_context: Any) -> Any:
    """Alembic: write :class:`UTCDateTime` columns as plain timestamps with time zone."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False
