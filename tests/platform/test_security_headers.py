"""Security headers on every response, and no inline script or style in any template."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask

from tests.conftest import Database
from tests.conftest import test_config as make_config
from tests.factories import PASSWORD, World

TEMPLATES = Path(__file__).resolve().parents[2] / "platform" / "web" / "templates"


def _directives(header: str) -> dict[str, str]:
    parts = (part.strip().split(" ", 1) for part in header.split(";") if part.strip())
    return {part[0]: part[1] if len(part) > 1 else "" for part in parts}


def _assert_common(response: object) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    policy = _directives(headers["Content-Security-Policy"])
    assert policy["frame-ancestors"] == "'none'"
    assert policy["default-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    for directive in ("script-src", "style-src"):
        assert "'unsafe-inline'" not in policy[directive]
        assert "'unsafe-eval'" not in policy[directive]


def test_pages_carry_the_policy(app: Flask, world: World) -> None:
    client = app.test_client()
    _assert_common(client.get("/login"))
    assert (
        client.post(
            "/login", data={"email": world.a.coordinator.email, "password": PASSWORD}
        ).status_code
        == 302
    )
    for path in ("/", f"/s/{world.a.slug}/", f"/s/{world.a.slug}/manage/", "/no-such-page"):
        response = client.get(path)
        assert response.status_code in (200, 404), (path, response.status_code)
        _assert_common(response)
        assert "Strict-Transport-Security" not in response.headers  # not in development


def test_the_api_and_its_errors_carry_the_headers(app: Flask, world: World) -> None:
    api = world.api(world.a.members[0])
    for response in (
        api.get(f"/api/v1/schemes/{world.a.slug}/balance"),
        api.get(f"/api/v1/schemes/{world.b.slug}/balance"),  # 404
        app.test_client().get("/api/v1/me"),  # 401
        app.test_client().get("/api/v1/openapi.json"),
    ):
        _assert_common(response)


def test_the_billing_page_may_load_stripe_js_only(app: Flask) -> None:
    policy = _directives(app.test_client().get("/login").headers["Content-Security-Policy"])
    assert policy["script-src"].split() == ["'self'", "https://js.stripe.com"]
    assert "https://js.stripe.com" in policy["frame-src"]
    assert "https://api.stripe.com" in policy["connect-src"]


def test_hsts_in_production_over_https(database: Database, tmp_path: Path) -> None:
    from timebank.platform.app import create_app
    from timebank.platform.db import db

    app = create_app(make_config(database, tmp_path, ENV="production", SECRET_KEY="s" * 40))
    try:
        response = app.test_client().get("/healthz", base_url="https://timebank.example")
        hsts = response.headers["Strict-Transport-Security"]
        assert int(re.match(r"max-age=(\d+)", hsts).group(1)) >= 31536000  # type: ignore[union-attr]
        assert "includeSubDomains" in hsts
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    finally:
        with app.app_context():
            db.engine.dispose()


@pytest.mark.parametrize("template", sorted(TEMPLATES.rglob("*.html")), ids=lambda p: p.name)
def test_no_template_has_inline_script_or_style_attributes(template: Path) -> None:
    source = template.read_text(encoding="utf-8")
    if template.parent.name == "reports":
        return  # saved statement files (opened from disk, never served under the CSP)
    assert not re.search(r"\sstyle\s*=", source), template
    assert not re.search(r"\son[a-z]+\s*=", source), template
    for tag in re.findall(r"<script\b[^>]*>", source):
        assert "src=" in tag, (template, tag)
    assert "<style" not in source, template
    assert "javascript:" not in source, template


def test_the_openapi_document_describes_problem_json_errors(app: Flask) -> None:
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    responses = document["components"]["responses"]
    for name in (
        "UNAUTHORIZED",
        "FORBIDDEN",
        "NOT_FOUND",
        "UNPROCESSABLE_ENTITY",
        "TOO_MANY_REQUESTS",
    ):
        content = responses[name]["content"]
        assert list(content) == ["application/problem+json"], name
        assert (
            content["application/problem+json"]["schema"]["$ref"] == "#/components/schemas/Problem"
        )
    problem = document["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "code"} <= set(problem["required"])
    assert "errors" in problem["properties"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            for status in ("401", "403", "404", "422", "429"):
                assert status in operation["responses"], (method, path, status)
