"""The funder pack of each demo scheme, in a real browser: it renders with its charts drawn
(bars in every headline chart), prints to PDF with the print styles, and is photographed
under the test's temporary folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.web.browser import LiveServer, needs_chromium

pytestmark = [pytest.mark.slow, needs_chromium]

DEMO = {
    "rushey-green": "ruth@rusheygreen.example",
    "lincoln-park-tutors": "deshawn@lincolnpark.example",
    "dc-youth-court": "keisha@dcyouthcourt.example",
    "grace-hill": "grace@gracehill.example",
}


def test_the_funder_pack_of_each_demo_scheme_has_its_charts(
    app: Flask, live_server: LiveServer, browser_context: Any, tmp_path: Path
) -> None:
    result = app.test_cli_runner().invoke(args=["demo", "--password", "demo-password"])
    assert result.exit_code == 0, result.output
    for slug, email in DEMO.items():
        page = browser_context().new_page()
        page.goto(live_server.url + "/login")
        page.get_by_label("E-mail address").fill(email)
        page.get_by_label("Password").fill("demo-password")
        page.get_by_role("button", name="Log in").click()
        page.wait_for_load_state()
        response = page.goto(f"{live_server.url}/s/{slug}/manage/impact/pack?preset=launch")
        assert response is not None and response.status == 200
        name = page.locator(".pack-brand").inner_text()
        assert name and name in page.title()
        for chart in ("people-chart", "hours-chart", "retention-chart", "wellbeing-chart"):
            bars = page.locator(f"figure[aria-labelledby='{chart}-title'] svg rect")
            heights = [float(bars.nth(i).get_attribute("height") or 0) for i in range(bars.count())]
            assert any(height > 0 for height in heights), (slug, chart)
        page.screenshot(path=str(tmp_path / f"funder-pack-{slug}.png"), full_page=True)
        page.emulate_media(media="print")
        assert page.locator("nav.scheme-nav").is_hidden()  # print styles: no navigation
        page.pdf(path=str(tmp_path / f"funder-pack-{slug}.pdf"))
        assert (tmp_path / f"funder-pack-{slug}.pdf").stat().st_size > 10_000
        assert (tmp_path / f"funder-pack-{slug}.png").stat().st_size > 10_000
        page.close()
