"""API plumbing: problem+json for every error, the OpenAPI document, health checks."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.factories import World, problem


def test_malformed_json_is_400(app: Flask, world: World) -> None:
    client = app.test_client()
    response = client.post(
        f"/api/v1/schemes/{world.a.slug}/transfers",
        data="{not json",
        content_type="application/json",
        headers=world.a.members[0].headers,
    )
    assert response.status_code == 400
    assert problem(response)["code"] == "malformed_json"
    signup = client.post("/api/v1/users", data="[1,", content_type="application/json")
    assert signup.status_code == 400 and problem(signup)["code"] == "malformed_json"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "a@example.test", "password": "long enough"}, "name"),
        ({"email": "a@example.test", "password": 12345678, "name": "A"}, "password"),
        (
            {
                "email": "a@example.test",
                "password": "long enough",
                "name": "A",
                "is_operator": True,
            },
            "is_operator",
        ),
        ({"email": "a@example.test", "password": "long enough", "name": "A" * 121}, "name"),
        ({"email": "not-an-email", "password": "long enough", "name": "A"}, "email"),
        ({"email": "a@example.test", "password": "short", "name": "A"}, "password"),
    ],
)
def test_validation_errors_name_the_field(app: Flask, body: dict[str, object], field: str) -> None:
    response = app.test_client().post("/api/v1/users", json=body)
    assert response.status_code == 422
    data = problem(response)
    assert data["code"] == "validation_error" and field in data["errors"], data


def test_json_array_body_is_a_validation_error(app: Flask) -> None:
    response = app.test_client().post("/api/v1/users", json=[1, 2])
    assert response.status_code == 422


def test_unknown_route_and_wrong_method(app: Flask, world: World) -> None:
    client = app.test_client()
    missing = client.get("/api/v1/nothing-here", headers=world.a.members[0].headers)
    assert missing.status_code == 404 and problem(missing)["code"] == "not_found"
    wrong = client.delete("/api/v1/users")
    assert wrong.status_code == 405 and problem(wrong)["code"] == "method_not_allowed"


def test_unexpected_errors_are_500_without_internals(app: Flask, world: World) -> None:
    from timebank.platform.identity import routes

    def explode() -> None:
        raise RuntimeError("secret internals: password=hunter2")

    app.view_functions["identity.me"] = explode
    response = app.test_client().get("/api/v1/me", headers=world.a.members[0].headers)
    assert response.status_code == 500
    body = problem(response)
    assert body["code"] == "internal_error" and "hunter2" not in response.get_data(as_text=True)
    assert routes.me is not explode


def test_openapi_document_covers_every_api_route(app: Flask) -> None:
    response = app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"].startswith("3.")
    documented = {path for path in spec["paths"]}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.rule.endswith("openapi.json"):
            continue
        path = rule.rule
        for converter in ("int:", "string:"):
            path = path.replace(f"<{converter}", "<")
        path = path.replace("<", "{").replace(">", "}")
        assert path in documented, path
    assert "TransferIn" in spec["components"]["schemas"]


def test_health_and_readiness(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["checks"]["database"] == "ok"


def test_readiness_fails_when_the_database_is_unreachable(
    database: object, tmp_path: object
) -> None:
    from timebank.platform.app import create_app

    app = create_app(
        {
            "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
            "SECRET_KEY": "x",
            "TESTING": True,
        }
    )
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["database"].startswith("error")


def test_production_refuses_the_development_secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from timebank.platform.app import create_app
    from timebank.platform.config import ConfigError

    monkeypatch.setenv("TIMEBANK_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError):
        create_app({"DATABASE_URL": "sqlite://"})
