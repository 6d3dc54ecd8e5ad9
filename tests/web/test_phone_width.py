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
from tests.tenants.partners.support import add_offer, make_partner
from tests.tenants.referrals.support import REFERRAL, make_referrer
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
    pharmacy = make_partner(world, b, name="Beta Pharmacy", area="High Street")
    add_offer(world, pharmacy, name="Prescription delivery", price=60)
    operator = make_operator(world.app)
    too_wide: list[str] = []

    anonymous = browser_context(viewport=PHONE).new_page()
    for path, name in (
        ("/", "welcome"),
        ("/login", "login"),
        ("/signup", "signup"),
        ("/start", "start-scheme"),
        ("/password/forgot", "forgot"),
        ("/card?code=ABCD-EFGH", "card-sign-in"),
    ):
        visit(anonymous, live_server, path, name, too_wide)

    api = world.api(b.coordinator)  # a wellbeing scale on, so its form shows
    document = api.get(f"/api/v1/schemes/{b.slug}/policy").get_json()
    document["wellbeing"] = {"scale": "ons4", "every_months": 6}
    assert api.put(f"/api/v1/schemes/{b.slug}/policy", document).status_code == 200

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
        (f"{base}/settings", "member-settings"),
        (f"{base}/leave", "leave"),
        (f"{base}/listings", "listings"),
        (f"{base}/listings/new", "listing-new"),
        (f"{base}/listings/{objects.listing}", "listing"),
        (f"{base}/listings/{objects.listing}/edit", "listing-edit"),
        (f"{base}/responses/{objects.response}", "conversation"),
        (f"{base}/partners", "partners-directory"),
        (f"{base}/card", "partners-card"),
        (f"{base}/wellbeing/", "wellbeing"),
    ):
        visit(member, live_server, path, name, too_wide)

    staff = browser_context(viewport=PHONE).new_page()
    log_in(staff, live_server, pharmacy.staff.email, PASSWORD)
    for path, name in (
        (f"{base}/partners/{pharmacy.id}/counter", "partner-counter"),
        (f"{base}/partners/{pharmacy.id}/charge", "partner-charge"),
        (f"{base}/partners/{pharmacy.id}/statement", "partner-statement"),
        (f"{base}/partners/{pharmacy.id}/offers", "partner-offers"),
    ):
        visit(staff, live_server, path, name, too_wide)

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
        (f"{manage}/cards", "cards"),
        (f"{manage}/checks", "checks"),
        (f"{manage}/members/{objects.member}/statement/print", "statement-print"),
        ("/guardian", "guardian"),
        (f"{manage}/groups", "groups"),
        (f"{manage}/groups/{objects.group}", "group"),
        (f"{manage}/groups/{objects.group}/award", "group-award"),
        (f"{manage}/goals", "goals"),
        (f"{base}/referrals/", "referrals-queue"),
        (f"{base}/referrals/links", "referral-links"),
        (f"{base}/partners/manage", "manage-partner-organisations"),
        (f"{base}/partners/manage/{pharmacy.id}", "manage-partner-organisation"),
        (f"{base}/billing", "billing"),
        (f"{manage}/impact/?preset=year", "impact-report"),
        (f"{manage}/impact/pack?preset=year", "funder-pack"),
        (f"{base}/wellbeing/member/{objects.member}", "wellbeing-member"),
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

    # A referrer (no member) and anyone holding a referral link.
    referrer = make_referrer(world, b)
    world.api(referrer).post(f"/api/v1/schemes/{b.slug}/referrals", REFERRAL)
    referring = browser_context(viewport=PHONE).new_page()
    log_in(referring, live_server, referrer.email, PASSWORD)
    visit(referring, live_server, "/", "referrer-home", too_wide)
    visit(referring, live_server, f"{base}/referrals/", "referrer-referrals", too_wide)
    link = world.api(b.coordinator).post(
        f"/api/v1/schemes/{b.slug}/referral-links", {"label": "Front desk"}
    )
    visit(anonymous, live_server, f"/refer/{link.get_json()['token']}", "refer-link", too_wide)
    visit(console, live_server, "/operator/impact", "operator-impact", too_wide)
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


def test_youth_court_pages_fit_a_phone(
    world: World, live_server: LiveServer, browser_context: Any
) -> None:
    """The youth court's pages (sittings, rota, credit, orders, letter, report, member's page)."""
    from datetime import timedelta

    from tests.tenants.courts.conftest import local_today, make_court

    court = make_court(world.app, "river-court", "River Youth Court")
    api = world.api(court.coordinator)
    url = f"/api/v1/schemes/{court.slug}"
    tomorrow = (local_today() + timedelta(days=1)).isoformat()
    sitting = api.post(f"{url}/sittings", {"starts_at": f"{tomorrow}T17:00:00"}).get_json()
    young = court.members[0]
    young_id = young.member_ids[court.slug]
    api.post(
        f"{url}/sittings/{sitting['id']}/assignments",
        {"member_id": young_id, "role_id": sitting["roles"][0]["id"]},
    )
    api.post(f"{url}/sittings/{sitting['id']}/attendance", {"present": [young_id]})
    order = api.post(
        f"{url}/orders",
        {
            "member_id": young_id,
            "minutes_ordered": 60,
            "due_on": tomorrow,
            "referrer": "River Youth Offending Team",
            "reference": "YOT-2026-000123",
        },
    ).get_json()
    api.post(
        f"{url}/orders/{order['id']}/hours",
        {"minutes": 60, "performed_on": local_today().isoformat()},
    )
    too_wide: list[str] = []
    coordinator = browser_context(viewport=PHONE).new_page()
    log_in(coordinator, live_server, court.coordinator.email, PASSWORD)
    base = f"/s/{court.slug}"
    for path, name in (
        (f"{base}/manage/sittings", "court-sittings"),
        (f"{base}/manage/sittings/{sitting['id']}", "court-sitting"),
        (f"{base}/manage/sittings/{sitting['id']}/credit", "court-credit"),
        (f"{base}/manage/orders", "court-orders"),
        (f"{base}/manage/orders/{order['id']}", "court-order"),
        (f"{base}/manage/orders/{order['id']}/letter", "court-letter"),
        (f"{base}/manage/orders/report", "court-report"),
    ):
        visit(coordinator, live_server, path, name, too_wide)
    member = browser_context(viewport=PHONE).new_page()
    log_in(member, live_server, young.email, PASSWORD)
    visit(member, live_server, f"{base}/court", "court-member", too_wide)
    assert not too_wide, too_wide
