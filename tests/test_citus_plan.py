"""``deploy/citus/distribute.sql`` places every table, and Citus's rules hold for that placement.

Citus cannot be installed here, so the file is checked at the parser level:
pglast (PostgreSQL's own parser) reads it, and the placement it describes is
checked against the models — every table placed exactly once, tenant tables
distributed by ``scheme_id`` in one co-location group, foreign keys either
to reference tables or between co-located tables on ``scheme_id``, no
reference table pointing at a distributed one, every unique key of a
distributed table including ``scheme_id`` (after the constraints the file
drops), and each table placed after the tables it refers to. A new table
that the file does not place fails here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import ForeignKeyConstraint, PrimaryKeyConstraint, Table, UniqueConstraint

pglast = pytest.importorskip("pglast")  # a dev dependency: always there in CI

PLAN = Path(__file__).resolve().parents[1] / "deploy" / "citus" / "distribute.sql"


@dataclass
class Placement:
    reference: list[str] = field(default_factory=list)
    local: list[str] = field(default_factory=list)
    # table -> (distribution column, colocate_with or None)
    distributed: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    dropped: set[tuple[str, str]] = field(default_factory=set)
    indexes: set[str] = field(default_factory=set)


def _string(node: object) -> str:
    return str(node.val.sval)  # type: ignore[attr-defined]


def read_plan(sql: str) -> Placement:
    from pglast import ast

    plan = Placement()
    for raw in pglast.parse_sql(sql):
        statement = raw.stmt
        if isinstance(statement, ast.AlterTableStmt):
            for command in statement.cmds:
                assert command.subtype == pglast.enums.AlterTableType.AT_DropConstraint
                plan.dropped.add((statement.relation.relname, command.name))
            continue
        if isinstance(statement, ast.IndexStmt):
            plan.indexes.add(statement.relation.relname)
            continue
        assert isinstance(statement, ast.SelectStmt), statement
        (target,) = statement.targetList
        call = target.val
        name = call.funcname[-1].sval
        positional = [a for a in call.args if isinstance(a, ast.A_Const)]
        named = {a.name: _string(a.arg) for a in call.args if isinstance(a, ast.NamedArgExpr)}
        table = _string(positional[0])
        plan.order.append(table)
        if name == "create_reference_table":
            plan.reference.append(table)
        elif name == "citus_add_local_table_to_metadata":
            plan.local.append(table)
        elif name == "create_distributed_table":
            plan.distributed[table] = (_string(positional[1]), named.get("colocate_with"))
        else:
            raise AssertionError(f"unexpected call {name}")
    return plan


@pytest.fixture(scope="module")
def tables(app: Flask) -> dict[str, Table]:
    from timebank.platform.db import db

    return {table.name: table for table in db.metadata.sorted_tables}


@pytest.fixture(scope="module")
def app() -> Flask:  # the models only; no database is opened
    from timebank.platform.app import create_app

    return create_app({"DATABASE_URL": "sqlite://", "SECRET_KEY": "x"})


@pytest.fixture(scope="module")
def plan() -> Placement:
    return read_plan(PLAN.read_text())


def test_every_table_is_placed_exactly_once(plan: Placement, tables: dict[str, Table]) -> None:
    assert sorted(plan.order) == sorted(set(plan.order)), "a table placed twice"
    assert set(plan.order) == set(tables), {
        "not placed": sorted(set(tables) - set(plan.order)),
        "no such table": sorted(set(plan.order) - set(tables)),
    }


def test_tenant_tables_are_distributed_by_scheme_in_one_colocation_group(
    plan: Placement, tables: dict[str, Table]
) -> None:
    anchors = [name for name, (_, colocate) in plan.distributed.items() if colocate is None]
    assert len(anchors) == 1, anchors
    for name, (column, colocate) in plan.distributed.items():
        assert column == "scheme_id" and "scheme_id" in tables[name].c, name
        assert colocate in (None, anchors[0]), name
    protected = {
        name
        for name, table in tables.items()
        if "scheme_id" in table.c and not table.info.get("without_row_level_security")
    }
    assert protected <= set(plan.distributed), sorted(protected - set(plan.distributed))


def test_foreign_keys_stay_on_one_node(plan: Placement, tables: dict[str, Table]) -> None:
    reference = set(plan.reference)
    for name, table in tables.items():
        for constraint in table.constraints:
            if not isinstance(constraint, ForeignKeyConstraint):
                continue
            target = constraint.referred_table.name
            columns = [c.name for c in constraint.columns]
            targets = [element.column.name for element in constraint.elements]
            where = f"{name}.{constraint.name} -> {target}"
            if name in plan.distributed:
                if target in reference:
                    continue
                assert target in plan.distributed, where
                assert ("scheme_id", "scheme_id") in zip(columns, targets, strict=True), where
            elif name in reference:
                assert target in reference, f"a reference table points at a sharded one: {where}"
            assert plan.order.index(target) < plan.order.index(name) or target == name, where


def test_unique_keys_of_distributed_tables_include_the_scheme(
    plan: Placement, tables: dict[str, Table]
) -> None:
    for name in plan.distributed:
        table = tables[name]
        for constraint in table.constraints:
            if isinstance(constraint, PrimaryKeyConstraint | UniqueConstraint):
                if (name, constraint.name) in plan.dropped:
                    continue
                assert "scheme_id" in constraint.columns, f"{name}.{constraint.name}"
        for index in table.indexes:
            if index.unique:
                assert "scheme_id" in [c.name for c in index.columns], f"{name}.{index.name}"


def test_the_constraints_the_plan_drops_exist(plan: Placement, tables: dict[str, Table]) -> None:
    for table, constraint in plan.dropped:
        names = {c.name for c in tables[table].constraints}
        assert constraint in names, f"{table}.{constraint} is not in the schema any more"
        assert table in plan.indexes, f"{table}: the dropped key's look-up needs an index"
        assert plan.order.index(table) > 0
