"""The report API: coordinators only, another scheme 404, presets, CSV of each table, the
operator's aggregates, and a period whose end is before its start (422 on ``to``)."""

from __future__ import annotations

import csv
import io
from datetime import date

from flask import Flask

from tests.factories import World, fund, make_operator, problem


def url(slug: str, path: str) -> str:
    return f"/api/v1/schemes/{slug}/{path}"


def test_the_report_counts_a_transfer_and_only_coordinators_read_it(
    app: Flask, world: World
) -> None:
    ann, arthur = world.a.members
    fund(app, world.a, ann, 120)
    response = world.api(ann).post(
        url(world.a.slug, "transfers"),
        {"to_member_id": arthur.member_ids[world.a.slug], "amount": 45},
    )
    assert response.status_code == 201, response.data
    coordinator = world.api(world.a.coordinator)
    body = coordinator.get(url(world.a.slug, "reports/summary?preset=year")).get_json()
    assert body["from"] == date(date.today().year, 1, 1).isoformat()
    assert (body["exchanges"], body["minutes_transferred"]) == (1, 45)
    assert (body["people_helped"], body["people_helping"]) == (1, 1)
    assert body["active_members"] == 2 and body["new_members"] == 3
    assert len(body["retention"]) == 12 and body["retention"][-1]["active_members"] == 2
    # CSV of each table, formula-safe.
    response = coordinator.get(url(world.a.slug, "reports/summary.csv?preset=month"))
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["from", "to", "figure", "value"]
    assert rows[1 + 2][2:] == ["people_helped", "1"]
    response = coordinator.get(url(world.a.slug, "reports/summary.csv?table=retention"))
    assert response.get_data(as_text=True).startswith("month,active_members,")
    # Members: 403; another scheme: 404; the other scheme's own report: nothing of A's.
    denied = world.api(ann).get(url(world.a.slug, "reports/summary"))
    assert denied.status_code == 403 and problem(denied)["code"] == "coordinator_only"
    assert world.api(ann).get(url(world.a.slug, "reports/summary.csv")).status_code == 403
    assert (
        world.api(world.b.coordinator).get(url(world.a.slug, "reports/summary")).status_code == 404
    )
    other = world.api(world.b.coordinator).get(url(world.b.slug, "reports/summary")).get_json()
    assert (other["exchanges"], other["active_members"]) == (0, 0)
    # Operators: aggregates per scheme and totals.
    operator = world.api(make_operator(app))
    body = operator.get("/api/v1/platform/reports/summary?preset=launch").get_json()
    by_slug = {row["slug"]: row for row in body["schemes"]}
    assert by_slug[world.a.slug]["exchanges"] == 1 and by_slug[world.b.slug]["exchanges"] == 0
    assert body["totals"]["exchanges"] == 1
    assert world.api(ann).get("/api/v1/platform/reports/summary").status_code == 403


def test_a_period_ending_before_it_starts_is_422_on_to(world: World) -> None:
    coordinator = world.api(world.a.coordinator)
    response = coordinator.get(url(world.a.slug, "reports/summary?from=2026-05-02&to=2026-05-01"))
    assert response.status_code == 422 and "to" in problem(response)["errors"]
    response = coordinator.get(url(world.a.slug, "reports/summary?preset=decade"))
    assert response.status_code == 422 and "preset" in problem(response)["errors"]
