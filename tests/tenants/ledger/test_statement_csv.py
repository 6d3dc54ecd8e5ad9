"""The statement CSV: a header row always, hours as H:MM beside minutes, the other party named
as the scheme's directory allows."""

from __future__ import annotations

import csv
import io

from flask import Flask

from tests.factories import World, add_member, fund, make_scheme, make_user

HEADER = [
    "date",
    "transaction_id",
    "kind",
    "other_party",
    "memo",
    "hours",
    "minutes",
    "balance_after",
]


def rows_of(world: World, person: object, slug: str, query: str = "") -> list[list[str]]:
    response = world.api(person).get(f"/api/v1/schemes/{slug}/statement.csv{query}")  # type: ignore[arg-type]
    assert response.status_code == 200, response.data
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_an_empty_statement_still_has_its_header(world: World) -> None:
    assert rows_of(world, world.b.members[1], world.b.slug) == [HEADER]


def test_hours_minutes_and_the_other_party(app: Flask, world: World) -> None:
    ann, arthur = world.a.members
    fund(app, world.a, ann, 300)
    paid = world.api(ann).post(
        f"/api/v1/schemes/{world.a.slug}/transfers",
        {"to_member_id": arthur.member_ids[world.a.slug], "amount": 150, "memo": "Lift"},
    )
    assert paid.status_code == 201, paid.get_json()
    rows = rows_of(world, ann, world.a.slug)
    assert rows[0] == HEADER
    funding, transfer = (dict(zip(HEADER, row, strict=True)) for row in rows[1:])
    assert funding["other_party"] == "the scheme" and funding["hours"] == "5:00"
    assert transfer["other_party"] == "Arthur Alpha"
    assert transfer["hours"] == "\u22122:30" and transfer["minutes"] == "-150"
    assert transfer["balance_after"] == "150"
    theirs = dict(zip(HEADER, rows_of(world, arthur, world.a.slug)[1], strict=True))
    assert theirs["other_party"] == "Ann Alpha" and theirs["hours"] == "2:30"
    # Beta's statements hold none of it.
    for person in world.b.members:
        assert rows_of(world, person, world.b.slug) == [HEADER]


def test_the_directory_setting_limits_the_names(app: Flask, world: World) -> None:
    # A school shows members first names only; payments between pupils switched on here.
    school = make_scheme(
        app,
        make_user(app, name="Sam Teacher"),
        template="school",
        policy={"peer_transfers": {"enabled": True}},
    )
    pia, raj = make_user(app, name="Pia Pupil"), make_user(app, name="Raj Reader")
    for person in (pia, raj):
        add_member(app, school, person)
    fund(app, school, pia, 60)
    paid = world.api(pia).post(
        f"/api/v1/schemes/{school.slug}/transfers",
        {"to_member_id": raj.member_ids[school.slug], "amount": 30},
    )
    assert paid.status_code == 201, paid.get_json()
    mine = dict(zip(HEADER, rows_of(world, pia, school.slug)[-1], strict=True))
    assert mine["other_party"] == "Raj"
    query = f"?member_id={pia.member_ids[school.slug]}"
    seen_by_coordinator = rows_of(world, school.coordinator, school.slug, query)[-1]
    assert dict(zip(HEADER, seen_by_coordinator, strict=True))["other_party"] == "Raj Reader"
