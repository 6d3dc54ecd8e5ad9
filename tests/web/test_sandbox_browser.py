"""A sandbox turned into a live scheme, in a real browser (Chromium through Playwright).

The coordinator starts a scheme as a sandbox on the start page, looks at the
member pages as one of its made-up members (a banner, and the way back), then
turns it live: the made-up people and history are gone, the rules and the
catalogue stay, and the ledger verifies clean.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from tests.factories import PASSWORD, World, make_user
from tests.web.browser import LiveServer, log_in, needs_chromium, screenshot

pytestmark = [pytest.mark.slow, needs_chromium]


def test_a_sandbox_becomes_a_live_scheme(
    world: World, live_server: LiveServer, browser_context: Any
) -> None:
    person = make_user(world.app, name="Sam Starter")
    page = browser_context().new_page()
    log_in(page, live_server, person.email, PASSWORD)
    page.goto(live_server.url + "/start")
    page.get_by_label("Name of the scheme").fill("Try Browser Bank")
    page.locator("#slug").fill("try-browser")
    page.get_by_label("Try it first as a sandbox", exact=False).check()
    page.get_by_role("button", name="Create the scheme").click()
    page.wait_for_url(live_server.url + "/s/try-browser/sandbox/")
    assert "Sandbox." in page.inner_text("main")
    screenshot(page, "sandbox-overview")

    page.get_by_role("button", name="See the pages as").first.click()
    page.wait_for_url(live_server.url + "/s/try-browser/")
    assert "a made-up member" in page.inner_text("main")
    screenshot(page, "sandbox-acting")
    page.get_by_role("button", name="Back to being Sam Starter").click()
    page.wait_for_url(live_server.url + "/s/try-browser/sandbox/")

    page.get_by_role("button", name="Turn it into a live scheme").click()
    page.wait_for_url(live_server.url + "/s/try-browser/manage/")
    main = page.inner_text("main")
    assert "is live" in main and "Sandbox." not in main
    screenshot(page, "sandbox-live")

    from timebank.platform import tenancy
    from timebank.platform.db import db
    from timebank.platform.schemes.models import Scheme
    from timebank.tenants.earning.models import Activity
    from timebank.tenants.ledger.models import Transaction
    from timebank.tenants.ledger.verify import verify_ledger
    from timebank.tenants.memberships.models import Member

    with world.app.app_context():
        scheme = db.session.execute(select(Scheme).where(Scheme.slug == "try-browser")).scalar_one()
        assert scheme.sandbox is False
        with tenancy.scheme_context(scheme.id):
            count = lambda model: db.session.execute(  # noqa: E731
                select(func.count()).select_from(model)
            ).scalar_one()
            assert count(Member) == 1 and count(Transaction) == 0 and count(Activity) > 0
        assert verify_ledger("try-browser").breaks == []
        db.session.rollback()
    # The sandbox pages are gone with the sandbox.
    assert page.goto(live_server.url + "/s/try-browser/sandbox/").status == 404
