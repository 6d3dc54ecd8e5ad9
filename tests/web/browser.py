"""Browser tests: the app served by a real server in a thread, driven by Debian's Chromium.

Playwright for Python drives ``/usr/bin/chromium`` (Playwright cannot download
its own browser here). The server is a werkzeug server on 127.0.0.1:<free
port>, serving the test's app (CSRF on) against the test database; the test
sets data up through the services as usual and the browser does the rest.
Screenshots go to ``test-artifacts/screenshots/`` (not committed).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}

needs_chromium = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed (.ci/run installs it)"
)


class LiveServer:
    def __init__(self, app: Flask) -> None:
        from werkzeug.serving import make_server

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)


@pytest.fixture
def live_server(app: Flask) -> Iterator[LiveServer]:
    app.config["BASE_URL"] = "http://127.0.0.1"  # replaced below once the port is known
    server = LiveServer(app)
    app.config["BASE_URL"] = server.url
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
        )
        yield browser
        browser.close()


@pytest.fixture
def browser_context(chromium: Any) -> Iterator[Any]:
    """A fresh browser profile (cookies) per test; more via ``new_context``."""
    contexts: list[Any] = []
    csp_violations: list[str] = []

    def new_context(**kw: Any) -> Any:
        context = chromium.new_context(viewport=kw.pop("viewport", DESKTOP), **kw)
        context.set_default_timeout(15_000)
        # Chromium reports every refusal of the Content-Security-Policy on the console.
        context.on(
            "console",
            lambda message: (
                csp_violations.append(message.text)
                if "Content Security Policy" in message.text
                else None
            ),
        )
        contexts.append(context)
        return context

    yield new_context
    for context in contexts:
        context.close()
    assert not csp_violations, csp_violations


def screenshot(page: Any, name: str) -> None:
    """Save the page at desktop and phone width (full height) for a reviewer to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(size)


def axe_violations(page: Any, impacts: tuple[str, ...] = ("serious", "critical")) -> list[Any]:
    """Run axe-core in the page; the violations of the given impacts."""
    # Evaluated through the DevTools protocol, not added as an inline <script>:
    # the pages' Content-Security-Policy (rightly) refuses inline script.
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {resultTypes: ['violations']});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' :: ' + n.failureSummary)}));
        }"""
    )
    return [violation for violation in result if violation["impact"] in impacts]


def log_in(page: Any, server: LiveServer, email: str, password: str, landing: str = "/") -> None:
    """Sign in; ``landing`` is where the site sends this person (an operator: ``/operator/``)."""
    page.goto(server.url + "/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(server.url + landing)
