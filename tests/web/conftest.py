"""Fixtures for the pages: the app with CSRF protection on, and a form-filling client.

The suite's ``app`` fixture turns CSRF off for the JSON API tests; here it is
on, as in production, so every form post must carry the token that the page
rendered.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from tests.conftest import Database, test_config
from tests.factories import PASSWORD, Person

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def app(database: Database, tmp_path: Path) -> Iterator[Flask]:
    from timebank.platform.app import create_app
    from timebank.platform.db import db

    app = create_app(test_config(database, tmp_path, WTF_CSRF_ENABLED=True))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    database.reset()


class Pages:
    """A browser-like test client: keeps the session, fills in the CSRF token of forms."""

    def __init__(self, app: Flask) -> None:
        self.client = app.test_client()
        self.last: TestResponse | None = None

    def get(self, path: str, **kw: Any) -> TestResponse:
        self.last = self.client.get(path, **kw)
        return self.last

    def token(self) -> str:
        page = self.client.get("/password/forgot").get_data(as_text=True)
        match = TOKEN.search(page)
        assert match, "no CSRF token on the page"
        return match.group(1)

    def post(self, path: str, data: dict[str, Any] | None = None, **kw: Any) -> TestResponse:
        data = dict(data or {})
        data.setdefault("csrf_token", self.token())
        self.last = self.client.post(path, data=data, **kw)
        return self.last

    def login(self, person: Person) -> Pages:
        response = self.post("/login", {"email": person.email, "password": PASSWORD})
        assert response.status_code == 302, response.get_data(as_text=True)
        return self


@pytest.fixture
def pages(app: Flask) -> Pages:
    return Pages(app)


def text(response: TestResponse) -> str:
    """The page's text without tags and with whitespace folded (for 'in' checks)."""
    body = response.get_data(as_text=True)
    body = re.sub(r"<script.*?</script>", " ", body, flags=re.S)
    body = re.sub(r"<[^>]+>", " ", body)
    body = (
        body.replace("&#39;", "'")
        .replace("&amp;", "&")
        .replace("&#34;", '"')
        .replace("&quot;", '"')
    )
    return re.sub(r"\s+", " ", body)


# The browser fixtures (a live server, Chromium) live in browser.py.
