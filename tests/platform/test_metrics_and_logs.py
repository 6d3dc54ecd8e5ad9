"""``GET /metrics`` counts what happened; every response carries a request id; logs as JSON."""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Iterator

import pytest
from flask import Flask

from tests.factories import World, fund, make_operator, problem
from timebank.platform import logs


def scrape(world: World, headers: dict[str, str]) -> str:
    response = world.app.test_client().get("/metrics", headers=headers)
    assert response.status_code == 200, response.data
    assert response.mimetype == "text/plain"
    return response.get_data(as_text=True)


def value(text: str, name: str, **labels: str) -> float:
    """The value of one series in Prometheus text format (0 when absent)."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        series, _, number = line.rpartition(" ")
        found = dict(re.findall(r'(\w+)="([^"]*)"', series))
        if series.split("{")[0] == name and found == labels:
            return float(number)
    return 0.0


def test_a_transfer_and_a_refusal_are_counted(world: World) -> None:
    operator = make_operator(world.app)
    ann, arthur = world.a.members
    fund(world.app, world.a, ann, 120)
    route = "/api/v1/schemes/<slug>/transfers"
    before = scrape(world, operator.headers)

    api = world.api(ann)
    paid = api.post(
        f"/api/v1/schemes/{world.a.slug}/transfers",
        {"to_member_id": arthur.member_ids[world.a.slug], "amount": 60},
    )
    assert paid.status_code == 201, paid.data
    refused = api.post(
        f"/api/v1/schemes/{world.a.slug}/transfers",
        {"to_member_id": arthur.member_ids[world.a.slug], "amount": 1000},
    )
    assert refused.status_code == 422
    code = problem(refused)["code"]
    assert code == "insufficient_balance"

    after = scrape(world, operator.headers)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("timebank_ledger_transactions_total", kind="transfer") == 1
    assert grew("timebank_refusals_total", code="insufficient_balance") == 1
    assert grew("timebank_http_requests_total", route=route, method="POST", status="201") == 1
    assert grew("timebank_http_requests_total", route=route, method="POST", status="422") == 1
    assert grew("timebank_http_request_duration_seconds_count", route=route, method="POST") == 2
    # Routes are rules, never paths: no slug or id becomes a label.
    assert world.a.slug not in after
    # Figures read at scrape time are there too.
    assert "timebank_outbox_backlog" in after
    assert value(after, "timebank_ledger_last_check_ok") in {-1.0, 0.0, 1.0}


def test_a_refused_transfer_in_another_scheme_counts_but_shows_nothing_of_it(world: World) -> None:
    """The figures are platform-wide counts: no scheme, member or amount appears in them."""
    operator = make_operator(world.app)
    ben, bella = world.b.members
    world.api(ben).post(
        f"/api/v1/schemes/{world.b.slug}/transfers",
        {"to_member_id": bella.member_ids[world.b.slug], "amount": 30},
    )
    text = scrape(world, operator.headers)
    for secret in (world.b.slug, ben.name, ben.email, world.a.slug):
        assert secret not in text


def test_only_operators_or_allowed_networks_read_the_metrics(world: World) -> None:
    client = world.app.test_client()
    anonymous = client.get("/metrics")
    assert anonymous.status_code == 401
    assert problem(anonymous)["code"] == "unauthorized"
    member = client.get("/metrics", headers=world.a.members[0].headers)
    assert member.status_code == 403
    assert problem(member)["code"] == "operator_only"
    coordinator = client.get("/metrics", headers=world.a.coordinator.headers)
    assert coordinator.status_code == 403

    world.app.config["METRICS_ALLOW"] = "10.0.0.0/8"
    assert client.get("/metrics").status_code == 401  # the test client is 127.0.0.1
    world.app.config["METRICS_ALLOW"] = "10.0.0.0/8, 127.0.0.1/32"
    assert client.get("/metrics").status_code == 200


def test_a_metrics_allow_that_is_not_a_network_stops_the_app_at_start(app: Flask) -> None:
    from timebank.platform.app import create_app

    with pytest.raises(ValueError, match="the office"):
        create_app(
            {
                "DATABASE_URL": app.config["DATABASE_URL"],
                "SECRET_KEY": "x",
                "METRICS_ALLOW": "10.0.0.0/8, the office",
            }
        )


def test_every_response_carries_a_request_id(app: Flask) -> None:
    client = app.test_client()
    first = client.get("/healthz").headers["X-Request-Id"]
    second = client.get("/healthz").headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{32}", first) and first != second
    given = client.get("/healthz", headers={"X-Request-Id": "edge-42_a"})
    assert given.headers["X-Request-Id"] == "edge-42_a"
    # Hostile or overlong ids are not repeated back (nor logged): a fresh one instead.
    for bad in ("a b", "x" * 65, "id;drop", "<script>"):
        answered = client.get("/healthz", headers={"X-Request-Id": bad}).headers["X-Request-Id"]
        assert answered != bad and re.fullmatch(r"[0-9a-f]{32}", answered)


@pytest.fixture
def json_logs(world: World) -> Iterator[io.StringIO]:
    """JSON logs into a buffer (after the app, which configures its own)."""
    buffer = io.StringIO()
    logs.configure("INFO", "json", stream=buffer)
    yield buffer
    logs.configure("INFO", "text")


def test_logs_are_json_lines_with_the_request_id_and_no_personal_text(
    world: World, json_logs: io.StringIO
) -> None:
    ann, arthur = world.a.members
    fund(world.app, world.a, ann, 60)
    request_id = uuid.uuid4().hex
    memo = "for walking Biscuit, my neighbour's dog"
    response = world.api(ann).post(
        f"/api/v1/schemes/{world.a.slug}/transfers",
        {"to_member_id": arthur.member_ids[world.a.slug], "amount": 30, "memo": memo},
        headers={"X-Request-Id": request_id},
    )
    assert response.status_code == 201
    lines = json_logs.getvalue().splitlines()
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    access = [r for r in records if r["logger"] == "timebank.access"]
    assert len(access) == 1
    line = access[0]
    assert line["request_id"] == request_id
    assert line["scheme"] == world.a.slug
    assert line["user_id"] == ann.user_id
    assert line["route"] == "/api/v1/schemes/<slug>/transfers"
    assert line["status"] == 201 and line["method"] == "POST"
    assert {"time", "level", "message"} <= set(line)
    joined = "\n".join(lines)
    for secret in (memo, "Biscuit", ann.token, ann.email, ann.name):
        assert secret not in joined
