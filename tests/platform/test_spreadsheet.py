"""Every CSV the platform writes neutralises formula-like text; numbers stay numbers."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from flask import Flask

from tests.factories import PASSWORD, World, fund
from timebank.platform.api.spreadsheet import safe_cell, writer


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("lunch = 1", "lunch = 1"),
        ("", ""),
        (None, ""),
        (-30, -30),
        (0, 0),
        (Decimal("-1.5"), Decimal("-1.5")),
        (2.5, 2.5),
    ],
)
def test_safe_cell(value: object, written: object) -> None:
    assert safe_cell(value) == written


def test_the_writer_escapes_text_and_keeps_numbers() -> None:
    buffer = io.StringIO()
    writer(buffer).writerow(["=1+1", -45, "-45", "plain"])
    assert next(csv.reader(io.StringIO(buffer.getvalue()))) == ["'=1+1", "-45", "'-45", "plain"]


FORMULAS = ["=cmd|' /C calc'!A0", "+SUM(1)", "-SUM(1)", "@SUM(1)", "\t=1", "\r=1"]


def test_the_statement_csv_neutralises_memos_and_keeps_amounts(app: Flask, world: World) -> None:
    payer, payee = world.a.members
    fund(app, world.a, payer, 600)
    api = world.api(payer)
    for memo in FORMULAS:
        response = api.post(
            f"/api/v1/schemes/{world.a.slug}/transfers",
            {"to_member_id": payee.member_ids[world.a.slug], "amount": 30, "memo": memo},
        )
        assert response.status_code == 201, response.data
    response = api.get(f"/api/v1/schemes/{world.a.slug}/statement.csv")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    transfers = [row for row in rows if row["kind"] == "transfer"]
    assert sorted(row["memo"] for row in transfers) == sorted("'" + memo for memo in FORMULAS)
    assert all(row["minutes"] == "-30" for row in transfers)  # numbers stay numbers
    assert [int(row["balance_after"]) for row in transfers][-1] == 600 - 30 * len(FORMULAS)
    # The other scheme's statement holds none of it.
    other = world.api(world.b.members[0]).get(f"/api/v1/schemes/{world.b.slug}/statement.csv")
    assert other.status_code == 200
    assert "SUM" not in other.get_data(as_text=True)


def test_the_weekly_report_csv_goes_through_the_safe_writer(app: Flask, world: World) -> None:
    client = app.test_client()
    login = client.post("/login", data={"email": world.a.coordinator.email, "password": PASSWORD})
    assert login.status_code == 302
    response = client.get(f"/s/{world.a.slug}/manage/report.csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][0] == "week_starting"
    assert all(cell.lstrip("-").isdigit() or "-" in cell for row in rows[1:] for cell in row)
    assert not any(cell.startswith("'") for row in rows for cell in row)
