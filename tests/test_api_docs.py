"""Guard: every route the API serves is documented in docs/api.md.

The served OpenAPI document (``GET /api/v1/openapi.json``) lists what is
built; the first column of the tables in docs/api.md lists what is promised.
Rows documented but not built yet (wave 2 is the plan) are allowed; a served
route missing from the document is not.

The first cell of a row holds backticked spans: ``METHOD /path``, a lone
``METHOD`` that shares the next span's path (`` `GET`, `POST /x` ``), and
``…/name`` shorthands for a sibling of the previous path
(`` `POST …/{id}/suspend`, `…/resume` ``). Path parameters are compared by
position only (``{slug}``, ``{id}`` and ``{agreement_id}`` are all ``{}``).
"""

from __future__ import annotations

import re
from pathlib import Path

from flask.testing import FlaskClient

API_MD = Path(__file__).resolve().parent.parent / "docs" / "api.md"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
Route = tuple[str, str]


def normalise(path: str) -> str:
    """``/api/v1/schemes/{slug}/claims/{claim_id}?status=`` → ``/api/v1/schemes/{}/claims/{}``."""
    path = path.split("?", 1)[0].strip().rstrip("/")
    return re.sub(r"\{[^}]*\}|<[^>]*>", "{}", path)


def documented_routes(markdown: str) -> set[Route]:
    """(method, normalised path) of every table row's first cell."""
    routes: set[Route] = set()
    for line in markdown.splitlines():
        if not line.startswith("|") or line.startswith("|---"):
            continue
        cell = line.split("|")[1]
        pending: list[str] = []  # lone methods waiting for a path
        methods: list[str] = []
        path = ""
        for span in re.findall(r"`([^`]+)`", cell):
            span = span.strip()
            if span in METHODS:
                pending.append(span)
                continue
            match = re.fullmatch(r"([A-Z]+) (/\S+)", span)
            if match and match.group(1) in METHODS:
                methods = [*pending, match.group(1)]
                pending = []
                path = match.group(2)
            elif span.startswith("…/") and path:
                path = path.rsplit("/", 1)[0] + span[1:]
            else:
                continue
            routes.update((method, normalise(path)) for method in methods)
    return routes


def served_routes(client: FlaskClient) -> set[Route]:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    paths = response.get_json()["paths"]
    return {
        (method.upper(), normalise(path))
        for path, operations in paths.items()
        for method in operations
        if method.upper() in METHODS
    }


def test_every_served_route_is_in_docs_api_md(client: FlaskClient) -> None:
    served = served_routes(client)
    documented = documented_routes(API_MD.read_text(encoding="utf-8"))
    assert len(served) > 50, sorted(served)
    missing = sorted(served - documented)
    assert missing == [], (
        "Served by the API (GET /api/v1/openapi.json) but missing from docs/api.md; "
        "add a row for each (method, path, who, body → response, statuses, codes):\n  "
        + "\n  ".join(f"{method} {path}" for method, path in missing)
    )


def test_the_doc_parser_reads_the_shorthands() -> None:
    markdown = "\n".join(
        [
            "| method, path | who | body → response |",
            "|---|---|---|",
            "| `POST /api/v1/schemes/{slug}/agreements/{id}/suspend`, `…/resume` | x | y |",
            "| `GET`, `POST /api/v1/schemes/{slug}/responses/{id}/messages` | x | `{body}` |",
            "| `GET /api/v1/schemes/{slug}/reports/summary?from=&to=` † | x | y |",
            "Prose mentioning `DELETE /api/v1/nothing` is not a row.",
        ]
    )
    assert documented_routes(markdown) == {
        ("POST", "/api/v1/schemes/{}/agreements/{}/suspend"),
        ("POST", "/api/v1/schemes/{}/agreements/{}/resume"),
        ("GET", "/api/v1/schemes/{}/responses/{}/messages"),
        ("POST", "/api/v1/schemes/{}/responses/{}/messages"),
        ("GET", "/api/v1/schemes/{}/reports/summary"),
    }
