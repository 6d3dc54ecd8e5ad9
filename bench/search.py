"""Listing search (issue 17): one scheme with many listings, then many schemes of many.

Listings are written in bulk SQL as the tables' owner (titles and descriptions
drawn from small word lists, so a word matches a known share of rows; the
GIN index and the b-tree indexes are maintained as rows go in). Each query is
timed twice, one request after another: through the API (``GET
/api/v1/schemes/<slug>/listings`` on gunicorn, keep-alive: caller look-up,
the search, the authors' names, JSON) and as the same search statement in raw
SQL through psycopg as ``timebank_app`` (``set_config`` and the SELECT in one
transaction, row-level security on).
"""

from __future__ import annotations

import os
import time
from datetime import date
from typing import Any
from urllib.parse import urlencode

import psycopg

from bench import server as web
from bench.fixtures import (
    BenchScheme,
    _owner,
    add_members,
    clone_schemes,
    create_bench_scheme,
    settle,
)
from bench.stats import summarise

TITLE_WORDS = [
    "garden", "lift", "shopping", "ironing", "reading", "computer", "phone", "cooking",
    "painting", "dog", "walking", "letters", "forms", "music", "knitting", "sewing",
    "repairs", "cleaning", "tutoring", "company",
]  # fmt: skip
AREA_WORDS = ["Catford", "Lewisham", "Deptford", "Brockley", "Hither Green", "Lee"]
# The statement the service runs for a text search (tenants/marketplace/services.py).
SEARCH_DOCUMENT = (
    "to_tsvector('simple'::regconfig, (title::text || ' '::text) "
    "|| COALESCE(description, ''::character varying)::text)"
)
RAW = {
    "newest": (
        "SELECT * FROM listings WHERE scheme_id = %(scheme)s AND status = 'published' "
        "AND (expires_on IS NULL OR expires_on >= %(today)s) ORDER BY id DESC LIMIT 51"
    ),
    "text": (
        "SELECT * FROM listings WHERE scheme_id = %(scheme)s AND status = 'published' "
        "AND (expires_on IS NULL OR expires_on >= %(today)s) "
        f"AND {SEARCH_DOCUMENT} @@ to_tsquery('simple', %(words)s) ORDER BY id DESC LIMIT 51"
    ),
    "text_kind_category": (
        "SELECT * FROM listings WHERE scheme_id = %(scheme)s AND status = 'published' "
        "AND (expires_on IS NULL OR expires_on >= %(today)s) AND kind = 'offer' "
        "AND category_id = %(category)s "
        f"AND {SEARCH_DOCUMENT} @@ to_tsquery('simple', %(words)s) ORDER BY id DESC LIMIT 51"
    ),
    "expiring": (
        "SELECT * FROM listings WHERE scheme_id = %(scheme)s AND status = 'published' "
        "AND (expires_on IS NULL OR expires_on >= %(today)s) "
        "ORDER BY expires_on NULLS LAST, id LIMIT 51"
    ),
}


def fill_listings(owner_url: str, scheme_ids: list[int], per_scheme: int) -> dict[str, Any]:
    """``per_scheme`` published listings in each scheme, authored by its members."""
    began = time.perf_counter()
    with _owner(owner_url) as conn:
        cursor = conn.execute(
            """
            WITH words AS (SELECT %(titles)s::text[] AS t, %(areas)s::text[] AS a),
            cats AS (
                SELECT scheme_id, array_agg(id ORDER BY id) AS ids
                  FROM listing_categories WHERE scheme_id = ANY(%(schemes)s) GROUP BY scheme_id
            ),
            authors AS (
                SELECT scheme_id, array_agg(id ORDER BY id) AS ids
                  FROM members WHERE scheme_id = ANY(%(schemes)s) GROUP BY scheme_id
            )
            INSERT INTO listings (scheme_id, kind, title, description, category_id,
                                  author_member_id, minutes, place, area, status, expires_on,
                                  created_at, updated_at)
            SELECT c.scheme_id,
                   CASE WHEN g %% 3 = 0 THEN 'offer' ELSE 'request' END,
                   initcap(w.t[1 + g %% 20]) || ' and ' || w.t[1 + (g / 20) %% 20],
                   'Someone to help with ' || w.t[1 + (g / 7) %% 20] || ', about '
                     || (1 + g %% 4) || ' hours, ' || w.t[1 + (g / 400) %% 20] || ' welcome',
                   c.ids[1 + g %% array_length(c.ids, 1)],
                   au.ids[1 + g %% array_length(au.ids, 1)],
                   30 + (g %% 8) * 15, 'in_person', w.a[1 + g %% 6], 'published',
                   current_date + 1 + g %% 120,
                   now() - make_interval(secs => %(per)s - g),
                   now() - make_interval(secs => %(per)s - g)
              FROM cats c JOIN authors au USING (scheme_id), words w,
                   generate_series(1, %(per)s) g
            """,
            {
                "titles": TITLE_WORDS,
                "areas": AREA_WORDS,
                "schemes": scheme_ids,
                "per": per_scheme,
            },
        )
        written = cursor.rowcount
        conn.commit()
    settle(owner_url)
    return {"rows": written, "seconds": round(time.perf_counter() - began, 1)}


def _queries(scheme: int, category: int) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Name → (API query string, raw SQL parameters)."""
    today = date.today()
    return {
        "newest": ({}, {"scheme": scheme, "today": today}),
        "text": ({"q": "garden"}, {"scheme": scheme, "today": today, "words": "garden:*"}),
        "text_kind_category": (
            {"q": "garden", "kind": "offer", "category_id": category},
            {"scheme": scheme, "today": today, "words": "garden:*", "category": category},
        ),
        "expiring": ({"sort": "expiring"}, {"scheme": scheme, "today": today}),
    }


def measure(
    port: int, app_url: str, scheme: BenchScheme, category: int, samples: int
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    warmup = max(5, samples // 10)
    headers = {"Authorization": f"Bearer {scheme.coordinator.token}"}
    with psycopg.connect(app_url) as conn:
        for name, (params, raw_params) in _queries(scheme.id, category).items():
            query = urlencode({"limit": 50, **params})
            path = f"/api/v1/schemes/{scheme.slug}/listings?{query}"
            api, statuses = web.sequential_requests(
                port, lambda n, p=path: ("GET", p, headers, None), samples, warmup
            )
            raw: list[float] = []
            for n in range(warmup + samples):
                began = time.perf_counter()
                with conn.transaction():
                    conn.execute(
                        "SELECT set_config('app.scheme_ids', %s, true), "
                        "set_config('app.all_schemes', 'off', true)",
                        (str(scheme.id),),
                    )
                    rows = conn.execute(RAW[name], raw_params).fetchall()
                if n >= warmup:
                    raw.append(time.perf_counter() - began)
            with conn.transaction():
                conn.execute("SELECT set_config('app.scheme_ids', %s, true)", (str(scheme.id),))
                plan = conn.execute("EXPLAIN " + RAW[name], raw_params).fetchall()
            api_summary, raw_summary = summarise(api), summarise(raw)
            out[name] = {
                "api": {"count": len(api), **api_summary},
                "raw_sql": {"count": len(raw), **raw_summary, "rows": len(rows)},
                "api_over_raw_p50": round(api_summary["p50_ms"] / raw_summary["p50_ms"], 1)
                if raw_summary["p50_ms"]
                else None,
                "statuses": {str(k): v for k, v in statuses.items()},
                "plan": [line[0] for line in plan][:6],
            }
    out["load_1m"] = round(os.getloadavg()[0], 2)
    return out


def _category(owner_url: str, scheme_id: int) -> int:
    with _owner(owner_url) as conn:
        row = conn.execute(
            "SELECT min(id) FROM listing_categories WHERE scheme_id = %s", (scheme_id,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def run(bench: Any) -> dict[str, Any]:
    """The section: 1 scheme × ``search_listings``, then ``search_schemes`` × ``search_per_scheme``."""
    options = bench.options
    owner = bench.database.psycopg_url("owner")
    app_url = bench.database.psycopg_url("app")
    port = bench.server.port
    big = create_bench_scheme(bench.app, "search-big")
    add_members(bench.app, big, 50, tokens=False)
    one = fill_listings(owner, [big.id], options.search_listings)
    single = measure(port, app_url, big, _category(owner, big.id), options.samples)

    proto = create_bench_scheme(bench.app, "search-proto")
    add_members(bench.app, proto, 20, tokens=False)
    clone_schemes(owner, proto.id, options.search_schemes - 1, "search-c")
    with _owner(owner) as conn:
        ids = [
            row[0]
            for row in conn.execute(
                "SELECT id FROM schemes WHERE id = %s OR slug LIKE 'search-c-%%' ORDER BY id",
                (proto.id,),
            ).fetchall()
        ]
    many_fill = fill_listings(owner, ids, options.search_per_scheme)
    # The prototype's coordinator is a member of every clone (same user, same token).
    middle_id = ids[len(ids) // 2]
    with _owner(owner) as conn:
        slug_row = conn.execute("SELECT slug FROM schemes WHERE id = %s", (middle_id,)).fetchone()
    assert slug_row is not None
    clone = BenchScheme(id=middle_id, slug=slug_row[0], coordinator=proto.coordinator)
    many = measure(port, app_url, clone, _category(owner, middle_id), options.samples)
    return {
        "how": (
            "sequential requests: GET /api/v1/schemes/<slug>/listings?limit=50 on gunicorn "
            "(keep-alive, the coordinator's token) beside the service's search statement in "
            "raw SQL through psycopg as timebank_app (set_config + SELECT, one transaction); "
            "listings written in bulk SQL as owner, then VACUUM ANALYZE"
        ),
        "one_scheme": {
            "listings": options.search_listings,
            "fill": one,
            **single,
        },
        "many_schemes": {
            "schemes": len(ids),
            "listings_per_scheme": options.search_per_scheme,
            "listings_total": many_fill["rows"] + options.search_listings,
            "fill": many_fill,
            "queried_scheme": clone.slug,
            **many,
        },
    }
