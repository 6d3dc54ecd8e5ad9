"""The report's breakdowns by partner, group and age band: equal to the figures counted by
hand from the postings (:mod:`.oracle`), as JSON and as CSV; a member in two groups counts
in each; no age band table until a member has an age; another scheme sees nothing."""

from __future__ import annotations

import csv
import io
from datetime import date

from flask import Flask
from sqlalchemy import update

from tests.factories import SchemeInfo, World, fund
from tests.tenants.partners.support import add_offer, make_partner, redeem
from tests.tenants.reports import oracle
from timebank.platform import tenancy
from timebank.platform.db import db
from timebank.tenants.memberships.models import Member


def url(scheme: SchemeInfo, path: str) -> str:
    return f"/api/v1/schemes/{scheme.slug}/{path}"


def new_group(world: World, scheme: SchemeInfo, name: str, member_ids: list[int]) -> int:
    api = world.api(scheme.coordinator)
    policy = api.get(url(scheme, "policy")).get_json()
    if not policy["groups"]["enabled"]:
        policy["groups"]["enabled"] = True
        assert api.put(url(scheme, "policy"), policy).status_code == 200
    created = api.post(url(scheme, "groups"), {"name": name, "kind": "other"})
    assert created.status_code == 201, created.data
    group_id = int(created.get_json()["id"])
    response = api.put(url(scheme, f"groups/{group_id}/members"), {"member_ids": member_ids})
    assert response.status_code == 200, response.data
    return group_id


def record_ages(
    app: Flask, scheme_id: int, ages: dict[int, tuple[date | None, str | None]]
) -> None:
    """Set members' date of birth / age band (what a coordinator records for a child)."""
    with app.app_context(), tenancy.scheme_context(scheme_id):
        for member_id, (born, band) in ages.items():
            db.session.execute(
                update(Member)
                .where(Member.id == member_id)
                .values(date_of_birth=born, age_band=band)
            )
        db.session.commit()


def award(world: World, scheme: SchemeInfo, member_ids: list[int], minutes: int) -> None:
    api = world.api(scheme.coordinator)
    activity = api.get(url(scheme, "activities?limit=1")).get_json()["items"][0]["id"]
    response = api.post(
        url(scheme, "awards"),
        {"activity_id": activity, "minutes": minutes, "member_ids": sorted(member_ids)},
    )
    assert response.status_code == 201, response.data


def table(world: World, scheme: SchemeInfo, name: str) -> list[list[str]]:
    response = world.api(scheme.coordinator).get(
        url(scheme, f"reports/summary.csv?preset=year&table={name}")
    )
    assert response.status_code == 200 and response.mimetype == "text/csv", response.data
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_breakdowns_equal_a_count_by_hand_and_stay_in_their_scheme(
    app: Flask, world: World
) -> None:
    ann, arthur = world.a.members
    ann_id, arthur_id = ann.member_ids[world.a.slug], arthur.member_ids[world.a.slug]
    coordinator = world.api(world.a.coordinator)
    report = coordinator.get(url(world.a, "reports/summary?preset=year")).get_json()
    assert (report["by_partner"], report["by_group"], report["by_age_band"]) == ([], [], [])
    assert table(world, world.a, "age_bands") == [
        ["age_band", "active_members", "minutes_earned", "hours_earned"]
    ]
    # Spending at a partner and on the scheme's own reward; earning in two groups.
    store = make_partner(world, world.a, name="Corner Food Store")
    offer = add_offer(world, store, price=90)
    fund(app, world.a, ann, 300)
    assert redeem(world, ann, world.a, offer["id"]).status_code == 201
    own = coordinator.get(url(world.a, "rewards?limit=200")).get_json()["items"]
    own_reward = next(item for item in own if item.get("partner_id") is None)
    assert redeem(world, ann, world.a, own_reward["id"]).status_code == 201
    blue = new_group(world, world.a, "Blue", [ann_id, arthur_id])
    green = new_group(world, world.a, "Green", [ann_id])
    empty = new_group(world, world.a, "Empty", [])
    award(world, world.a, [ann_id, arthur_id], 45)
    award(world, world.a, [ann_id], 30)
    record_ages(app, world.a.id, {ann_id: (date(2012, 6, 1), None)})

    report = coordinator.get(url(world.a, "reports/summary?preset=year")).get_json()
    data = oracle.load(app, world.a.id)
    first, last = date.fromisoformat(report["from"]), date.fromisoformat(report["to"])
    expected = oracle.breakdowns(data, "Europe/London", first, last)
    assert {row["partner_id"]: row["minutes"] for row in report["by_partner"]} == expected[
        "partners"
    ]
    assert {"partner_id": store.id, "name": "Corner Food Store", "minutes": 90} in report[
        "by_partner"
    ]
    own_row = next(row for row in report["by_partner"] if row["partner_id"] is None)
    assert own_row["name"] == "The scheme's own rewards" and own_row["minutes"] > 0
    assert sum(row["minutes"] for row in report["by_partner"]) == report["minutes_spent"]
    groups = {
        row["group_id"]: (row["members_earning"], row["minutes"]) for row in report["by_group"]
    }
    assert groups == expected["groups"] == {blue: (2, 120), green: (1, 75), empty: (0, 0)}
    # Ann is in both groups: the groups add up to more than the minutes earned.
    assert sum(minutes for _n, minutes in groups.values()) > report["minutes_earned"]
    bands = {
        row["band"]: (row["active_members"], row["minutes_earned"]) for row in report["by_age_band"]
    }
    assert bands == expected["age_bands"]
    assert bands["11_15"][1] == 75 and bands["not_recorded"][1] == 45
    assert sum(n for n, _m in bands.values()) == report["active_members"]
    # The CSV tables say the same.
    assert [str(store.id), "Corner Food Store", "90", "1.5"] in table(world, world.a, "partners")
    assert table(world, world.a, "groups")[1] == [str(blue), "Blue", "2", "120", "2.0"]
    rows = table(world, world.a, "age_bands")
    assert rows[0] == ["age_band", "active_members", "minutes_earned", "hours_earned"]
    assert ["11_15", "1", "75", "1.25"] in rows
    # Another scheme: nothing of A's, and A's report is 404 to its coordinator.
    other = world.api(world.b.coordinator)
    body = other.get(url(world.b, "reports/summary?preset=year")).get_json()
    assert (body["by_partner"], body["by_group"], body["by_age_band"]) == ([], [], [])
    assert table(world, world.b, "groups") == [
        ["group_id", "group", "members_earning", "minutes", "hours"]
    ]
    assert other.get(url(world.a, "reports/summary.csv?table=partners")).status_code == 404
    # A member: 403 as for every table.
    assert world.api(ann).get(url(world.a, "reports/summary.csv?table=groups")).status_code == 403
