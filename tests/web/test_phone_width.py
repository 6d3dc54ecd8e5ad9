"""Every page fits a 390 px phone without sideways scrolling.

A real Chromium at 390 px wide opens every page each role sees (anonymous,
member, coordinator, operator, offers and requests) with data in it (a pending
claim, transactions, a redemption, a partner agreement, a listing with a
response) and measures ``document.documentElement.scrollWidth``. Wide tables
scroll inside their own box; the page itself never does. Each page is also
photographed at desktop and phone width into ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import PASSWORD, World, make_operator
from tests.web.browser import LiveServer, log_in, needs_chromium, screenshot
from tests.web.support import beta_objects

pytestmark = [pytest.mark.slow, needs_chromium]

PHONE = {"width": 390, "height": 844}


def overflow(page: Any) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth"))


def visit(page: Any, server: LiveServer, path: str, name: str, too_wide: list[str]) -> None:
    response = page.goto(server.url + path)
    assert response is not None and response.status == 200, (path, response and response.status)
    width = overflow(page)
    if width > PHONE["width"]:
        culprits = page.evaluate(  # what sticks out, to name it in the failure
            """() => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > 391 && !e.closest('.table-wrap'))
            .slice(0, 6).map(e => e.tagName + '.' + e.className)"""
        )
        too_wide.append(f"{path}: {width}px {culprits}")
    # Tables drawn as stacked rows need no sideways scrolling even inside their box.
    hidden = page.evaluate(
        """() => [...document.querySelectorAll('table.stacked')]
        .filter(t => t.closest('.table-wrap').scrollWidth > t.closest('.table-wrap').clientWidth)
        .length"""
    )
    if hidden:
        too_wide.append(f"{path}: {hidden} stacked table(s) scroll sideways")
    screenshot(page, f"phone-{name}")
    page.set_viewport_size(PHONE)


def test_every_page_fits_a_phone(
    world: World, live_server: LiveServer, browser_context: Any
) -> None:
    objects = beta_objects(world)
    b = world.b
    operator = make_operator(world.app)
    too_wide: list[str] = []

    anonymous = browser_context(viewport=PHONE).new_page()
    for path, name in (
        ("/", "welcome"),
        ("/login", "login"),
        ("/signup", "signup"),
        ("/start", "start-scheme"),
        ("/password/forgot", "forgot"),
    ):
        visit(anonymous, live_server, path, name, too_wide)

    member = browser_context(viewport=PHONE).new_page()
    log_in(member, live_server, b.members[0].email, PASSWORD)
    base = f"/s/{b.slug}"
    for path, name in (
        ("/", "home"),
        ("/account", "account"),
        (f"{base}/", "member-overview"),
        (f"{base}/log-hours", "log-hours"),
        (f"{base}/pay", "pay"),
        (f"{base}/rewards", "rewards"),
        (f"{base}/redemptions/{objects.redemption}", "redemption"),
        (f"{base}/statement", "statement"),
        (f"{base}/leave", "leave"),
        (f"{base}/listings", "listings"),
        (f"{base}/listings/new", "listing-new"),
        (f"{base}/listings/{objects.listing}", "listing"),
        (f"{base}/listings/{objects.listing}/edit", "listing-edit"),
        (f"{base}/responses/{objects.response}", "conversation"),
    ):
        visit(member, live_server, path, name, too_wide)

    coordinator = browser_context(viewport=PHONE).new_page()
    log_in(coordinator, live_server, b.coordinator.email, PASSWORD)
    manage = f"{base}/manage"
    for path, name in (
        (f"{manage}/", "dashboard"),
        (f"{manage}/welcome", "first-steps"),
        (f"{manage}/claims", "claims"),
        (f"{manage}/members", "members"),
        (f"{manage}/members/{objects.member}", "member"),
        (f"{manage}/imports/{objects.import_id}", "import"),
        (f"{manage}/award", "award"),
        (f"{manage}/activities", "activities"),
        (f"{manage}/activities/{objects.activity}", "activity"),
        (f"{manage}/rewards", "manage-rewards"),
        (f"{manage}/rewards/{objects.reward}", "reward"),
        (f"{manage}/rules", "rules"),
        (f"{manage}/transactions", "transactions"),
        (f"{manage}/transactions/{objects.transaction}/reverse", "reverse"),
        (f"{manage}/partners", "partners"),
        (f"{manage}/listings", "manage-listings"),
        (f"{base}/billing", "billing"),
    ):
        visit(coordinator, live_server, path, name, too_wide)
    sandbox = world.api(b.coordinator).post(
        "/api/v1/schemes",
        {"name": "Phone Try", "slug": "phone-try", "template": "surgery", "sandbox": True},
    )
    assert sandbox.status_code == 201, sandbox.data
    visit(coordinator, live_server, "/s/phone-try/sandbox/", "sandbox", too_wide)
    visit(coordinator, live_server, "/s/phone-try/", "sandbox-member-overview", too_wide)

    console = browser_context(viewport=PHONE).new_page()
    log_in(console, live_server, operator.email, PASSWORD, landing="/operator/")
    visit(console, live_server, "/operator/", "operator-console", too_wide)
    visit(console, live_server, "/operator/billing", "operator-billing", too_wide)
    visit(console, live_server, "/operator/jobs", "operator-jobs", too_wide)
    visit(console, live_server, f"/operator/schemes/{b.slug}", "operator-scheme", too_wide)
    visit(console, live_server, "/operator/", "operator-console", too_wide)
    # Every Suspend button lies inside the phone's width: no scrolling sideways to reach it.
    button = console.get_by_role("button", name="Suspend").last
    box = button.bounding_box()
    assert box is not None and box["x"] + box["width"] <= PHONE["width"]

    assert not too_wide, too_wide
    # Scheme A's coordinator sees none of B's people on A's pages.
    other = browser_context(viewport=PHONE).new_page()
    log_in(other, live_server, world.a.coordinator.email, PASSWORD)
    other.goto(live_server.url + "/s/alpha-bank/manage/transactions")
    assert "Ben Beta" not in other.content()
    other.goto(live_server.url + "/s/alpha-bank/manage/claims")
    assert "Ben Beta" not in other.content()
