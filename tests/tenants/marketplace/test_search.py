"""Finding listings: words, kind, category, area, order, stable pages, fixed query counts."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Flask

from tests.factories import World, problem
from tests.querycount import count_queries
from tests.tenants.marketplace.support import category_ids, listing, url


def _ids(world: World, path: str) -> list[int]:
    response = world.api(world.a.members[1]).get(url(world.a, path))
    assert response.status_code == 200, response.get_json()
    return [item["id"] for item in response.get_json()["items"]]


def test_search_by_words_kind_category_and_area(app: Flask, world: World) -> None:
    ann = world.a.members[0]
    cats = category_ids(world, world.a)
    lifts = listing(
        world, ann, world.a, kind="offer", title="Lifts to hospital", category_id=cats["Lifts"],
        area="Catford",
    )  # fmt: skip
    garden = listing(
        world, ann, world.a, title="Garden weeding", description="The hospital garden needs care",
        area="Lewisham",
    )  # fmt: skip
    laptop = listing(
        world, ann, world.a, title="Help setting up a laptop",
        category_id=cats["Computers and phones"], area="catford east",
    )  # fmt: skip
    beta_lift = listing(
        world, world.b.members[0], world.b, title="Lifts to hospital",
        category_id=category_ids(world, world.b)["Lifts"],
    )  # fmt: skip

    assert _ids(world, "listings") == [laptop["id"], garden["id"], lifts["id"]]
    assert _ids(world, "listings?q=hospital") == [garden["id"], lifts["id"]]
    assert _ids(world, "listings?q=lift") == [lifts["id"]]  # a word prefix
    assert _ids(world, "listings?q=HOSPITAL+garden") == [garden["id"]]
    assert _ids(world, "listings?q=nothing+matches") == []
    assert _ids(world, "listings?q=%25") == [laptop["id"], garden["id"], lifts["id"]]
    assert _ids(world, "listings?kind=offer") == [lifts["id"]]
    assert _ids(world, "listings?kind=request") == [laptop["id"], garden["id"]]
    assert _ids(world, f"listings?category_id={cats['Lifts']}") == [lifts["id"]]
    assert _ids(world, "listings?area=catford") == [laptop["id"], lifts["id"]]
    assert _ids(world, "listings?kind=request&q=laptop&area=Catford") == [laptop["id"]]
    assert beta_lift["id"] not in _ids(world, "listings?q=lifts")
    # Another scheme's search sees only its own.
    beta = world.api(world.b.members[1]).get(url(world.b, "listings?q=hospital")).get_json()
    assert [item["id"] for item in beta["items"]] == [beta_lift["id"]]
    bad = world.api(ann).get(url(world.a, "listings?kind=swap"))
    assert bad.status_code == 422 and "kind" in problem(bad)["errors"]


def test_nearest_to_expiry_first_and_expired_ones_hidden(app: Flask, world: World) -> None:
    ann = world.a.members[0]
    today = date.today()
    later = listing(world, ann, world.a, expires_on=(today + timedelta(days=30)).isoformat())
    never = listing(world, ann, world.a, expires_on=None)
    soon = listing(world, ann, world.a, expires_on=(today + timedelta(days=2)).isoformat())
    soon2 = listing(world, ann, world.a, expires_on=(today + timedelta(days=2)).isoformat())
    order = [soon["id"], soon2["id"], later["id"], never["id"]]
    assert _ids(world, "listings?sort=expiring") == order
    pages, cursor = [], ""
    while True:
        response = world.api(ann).get(url(world.a, f"listings?sort=expiring&limit=1{cursor}"))
        body = response.get_json()
        pages.extend(item["id"] for item in body["items"])
        if not body["next_cursor"]:
            break
        cursor = f"&cursor={body['next_cursor']}"
    assert pages == order


def test_pages_are_stable_while_listings_are_added(app: Flask, world: World) -> None:
    ann, arthur = world.a.members
    first = [listing(world, ann, world.a, title=f"Request {n}")["id"] for n in range(7)]
    seen: list[int] = []
    cursor = ""
    added = 0
    while True:
        body = world.api(arthur).get(url(world.a, f"listings?limit=3{cursor}")).get_json()
        seen.extend(item["id"] for item in body["items"])
        # Someone posts between every page.
        listing(world, arthur, world.a, title=f"Late request {added}")
        added += 1
        if not body["next_cursor"]:
            break
        cursor = f"&cursor={body['next_cursor']}"
    assert seen == sorted(first, reverse=True)
    bad = world.api(arthur).get(url(world.a, "listings?cursor=garbage"))
    assert bad.status_code == 422 and "cursor" in problem(bad)["errors"]


def test_a_page_costs_the_same_number_of_queries_whatever_its_size(
    app: Flask, world: World
) -> None:
    from timebank.platform.db import db

    ann, arthur = world.a.members
    for n in range(25):
        # Authors vary, so the names query has more than one to load.
        listing(world, ann if n % 2 else arthur, world.a, title=f"Garden job {n}")
    client = world.api(arthur)
    client.get(url(world.a, "listings?limit=1"))  # warm the caches (policy, slug)
    counts = {}
    with app.app_context():
        engine = db.engine
    for limit in (1, 5, 25):
        for query in ("", "&q=garden", "&sort=expiring"):
            with count_queries(engine) as queries:
                response = client.get(url(world.a, f"listings?limit={limit}{query}"))
            assert response.status_code == 200
            assert len(response.get_json()["items"]) == limit
            counts[(limit, query)] = len(queries)
    assert len(set(counts.values())) == 1, counts
    assert next(iter(counts.values())) <= 5, queries.explain()
