"""Real-browser scenarios (Chromium through Playwright) against a live server.

A member logs hours, a coordinator approves them, the member sees the new
balance and redeems a reward; an organisation starts a scheme and invites a
member who joins; a member of two schemes switches between them with the
keyboard; an operator suspends a scheme and its members see why they cannot
pay; a coordinator watches an import's progress bar fill. Every main page is
checked with axe-core (no serious or critical violations) and photographed at
desktop and phone width into ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.factories import PASSWORD, World, add_member, fund, make_operator, make_user
from tests.web.browser import LiveServer, axe_violations, log_in, needs_chromium, screenshot
from tests.web.support import balance

pytestmark = [pytest.mark.slow, needs_chromium]


def check(page: Any, name: str) -> None:
    """Screenshots at both widths, and no serious or critical accessibility violations."""
    screenshot(page, name)
    violations = axe_violations(page)
    assert not violations, (name, violations)


def test_hours_logged_approved_and_spent(
    world: World, live_server: LiveServer, browser_context: Any
) -> None:
    ann = world.a.members[0]
    member = browser_context().new_page()
    log_in(member, live_server, ann.email, PASSWORD)
    check(member, "home")
    member.get_by_role("link", name="Alpha Time Bank").click()
    check(member, "member-overview-empty")
    member.get_by_role("link", name="Log hours I gave").click()
    member.get_by_label("What did you do?").select_option(label="Community clean-up day")
    member.get_by_label("How long?").fill("9")
    member.get_by_role("button", name="Log these hours").click()
    assert member.get_by_role("alert").is_visible()
    assert "can be at most 8:00 hours" in member.get_by_role("alert").inner_text()
    assert member.get_by_label("How long?").input_value() == "9"
    check(member, "log-hours-refused")
    member.get_by_label("How long?").fill("2:30")
    member.get_by_role("button", name="Log these hours").click()
    assert "A coordinator will check and approve them." in member.locator(".flash").inner_text()

    coordinator = browser_context().new_page()
    log_in(coordinator, live_server, world.a.coordinator.email, PASSWORD)
    coordinator.goto(live_server.url + "/s/alpha-bank/manage/claims")
    check(coordinator, "claims-queue")
    coordinator.get_by_label(re.compile("Claim by Ann Alpha")).check()
    coordinator.get_by_role("button", name="Approve ticked claims").click()
    assert "1 claim approved." in coordinator.locator(".flash").inner_text()
    coordinator.goto(live_server.url + "/s/alpha-bank/manage/")
    check(coordinator, "dashboard")

    member.goto(live_server.url + "/s/alpha-bank/")
    assert "2:30 hours" in member.locator(".balance").inner_text()
    check(member, "member-overview")
    member.get_by_role("link", name="See rewards").click()
    check(member, "rewards")
    card = member.locator(".card", has_text="Doctor's fee contribution")
    card.get_by_role("button", name=re.compile("Redeem")).click()
    code = member.locator(".code").inner_text()
    assert re.fullmatch(r"[A-Z2-9]{8}", code)
    check(member, "reward-code")
    assert balance(world, ann, world.a) == 150 - 120
    member.goto(live_server.url + "/s/alpha-bank/statement")
    check(member, "statement")
    # The coordinator sees the code waiting to be handed over; Beta saw nothing.
    coordinator.goto(live_server.url + "/s/alpha-bank/manage/rewards")
    assert code in coordinator.content()
    assert balance(world, world.b.members[0], world.b) == 0


def test_an_organisation_starts_a_scheme_and_a_member_joins(
    world: World, live_server: LiveServer, browser_context: Any, outbox: Path
) -> None:
    page = browser_context().new_page()
    page.goto(live_server.url + "/")
    check(page, "welcome")
    page.get_by_role("link", name="start their own time bank").click()
    page.get_by_label("Name of the scheme").fill("Rushey Green Time Bank")
    page.get_by_label("Its web address").fill("rushey-green")
    page.get_by_label("A GP surgery time bank").check()
    page.get_by_label("Your name").fill("Ruth Okafor")
    page.get_by_label("Your e-mail address").fill("ruth@example.test")
    page.get_by_label("Choose a password").fill("surgery garden")
    check(page, "start-scheme")
    page.get_by_role("button", name="Create the scheme").click()
    page.wait_for_url(live_server.url + "/s/rushey-green/manage/welcome")
    check(page, "first-steps")
    page.get_by_label("Their e-mail address").fill("maud@example.test")
    page.get_by_role("button", name="Send the invitation").click()
    assert "Invitation sent to maud@example.test." in page.locator(".flash").inner_text()

    mail = next(
        p.read_text() for p in sorted(outbox.glob("*.eml")) if "maud@example.test" in p.read_text()
    )
    link = re.search(r"(http://127\.0\.0\.1:\d+/invitations/\S+)", mail).group(1)
    maud = browser_context(viewport={"width": 375, "height": 740}).new_page()
    maud.goto(link)
    check(maud, "invitation")
    maud.locator("#main").get_by_role("link", name="Create an account").click()
    assert maud.get_by_label("E-mail address").input_value() == "maud@example.test"
    maud.get_by_label("Your name").fill("Maud Ellis")
    maud.get_by_label("Choose a password").fill("tea and biscuits")
    check(maud, "signup")
    maud.get_by_role("button", name="Create my account").click()
    maud.wait_for_url(live_server.url + "/s/rushey-green/")
    assert "you have joined Rushey Green Time Bank" in maud.locator(".flash").inner_text()
    assert maud.get_by_role("heading", name="Rushey Green Time Bank", level=1).is_visible()
    page.goto(live_server.url + "/s/rushey-green/manage/members")
    assert "Maud Ellis" in page.locator("table").inner_text()
    check(page, "members")


def test_a_member_of_two_schemes_switches_with_the_keyboard(
    world: World, live_server: LiveServer, browser_context: Any
) -> None:
    sam = make_user(world.app, name="Sam Jones")
    add_member(world.app, world.a, sam)
    add_member(world.app, world.b, sam)
    fund(world.app, world.a, sam, 90)
    page = browser_context().new_page()
    # Keyboard alone: type, Tab, type, Enter.
    page.goto(live_server.url + "/login")
    page.get_by_label("E-mail address").focus()
    page.keyboard.type(sam.email)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(live_server.url + "/")
    cards = page.locator(".cards").inner_text()
    assert "Alpha Time Bank" in cards and "1:30 hours" in cards and "Beta Surgery" in cards
    page.get_by_role("link", name="Alpha Time Bank").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(live_server.url + "/s/alpha-bank/")
    assert "1:30 hours" in page.locator(".balance").inner_text()
    page.locator(".switcher summary").focus()
    page.keyboard.press("Enter")
    check(page, "switcher-open")
    page.locator(".switcher").get_by_role("link", name=re.compile("Beta Surgery")).focus()
    page.keyboard.press("Enter")
    page.wait_for_url(live_server.url + "/s/beta-surgery/")
    assert page.get_by_role("heading", name="Beta Surgery", level=1).is_visible()
    assert "0:00 hours" in page.locator(".balance").inner_text()
    # A focused control is visibly outlined.
    page.locator(".switcher summary").focus()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"


def test_an_operator_suspends_a_scheme_and_members_see_why(
    world: World, live_server: LiveServer, browser_context: Any
) -> None:
    operator = make_operator(world.app)
    console = browser_context().new_page()
    log_in(console, live_server, operator.email, PASSWORD, landing="/operator/")
    console.goto(live_server.url + "/operator/")
    check(console, "operator-console")
    console.get_by_label("Reason for suspending Alpha Time Bank").fill(
        "The subscription has lapsed."
    )
    console.locator("form", has_text="Reason for suspending Alpha Time Bank").get_by_role(
        "button", name="Suspend"
    ).click()
    assert "Alpha Time Bank is now suspended." in console.locator(".flash").inner_text()

    ann = world.a.members[0]
    member = browser_context(viewport={"width": 375, "height": 740}).new_page()
    log_in(member, live_server, ann.email, PASSWORD)
    member.goto(live_server.url + "/s/alpha-bank/pay")
    assert "The subscription has lapsed." in member.locator(".notice.warning").inner_text()
    section = member.locator("section", has_text="Pay someone for help")
    section.get_by_label("Who helped you?").select_option(label="Arthur Alpha")
    section.get_by_label("How many hours?").fill("1")
    section.get_by_role("button", name="Pay").click()
    alert = member.get_by_role("alert").inner_text()
    assert "Alpha Time Bank is suspended: nothing can be changed until it is reactivated." in alert
    assert "The subscription has lapsed." in alert
    check(member, "suspended-pay")
    assert balance(world, ann, world.a) == 0


def test_the_import_progress_bar_follows_the_job(
    world: World, live_server: LiveServer, browser_context: Any
) -> None:
    from timebank.platform import tenancy
    from timebank.platform.db import db
    from timebank.platform.identity.models import User
    from timebank.platform.schemes.models import Scheme
    from timebank.tenants.memberships import imports

    rows = "".join(f"Person {n},person{n}@import.test,member\n" for n in range(30))
    with world.app.app_context(), tenancy.scheme_context(world.a.id):
        scheme = db.session.get(Scheme, world.a.id)
        actor = db.session.get(User, world.a.coordinator.user_id)
        started = imports.start_import(
            scheme,
            actor=actor,
            filename="people.csv",
            content="name,email,role\n" + rows,
            queue=False,
        )
        import_id = started.id
    page = browser_context().new_page()
    log_in(page, live_server, world.a.coordinator.email, PASSWORD)
    page.goto(f"{live_server.url}/s/alpha-bank/manage/imports/{import_id}")
    assert "Waiting to start" in page.locator("#import-summary").inner_text()
    with world.app.app_context():
        imports.run_import(world.a.id, import_id)
    # A selector, not wait_for_function: that evaluates a string, which the CSP refuses.
    page.locator("#import[data-status='done']").wait_for()
    assert page.locator("#import-progress").evaluate("bar => [bar.value, bar.max]") == [30, 30]
    assert "30 invited" in page.locator("#import-summary").inner_text()
    check(page, "import-progress")


@pytest.mark.parametrize(
    ("path", "who"),
    [
        ("/login", None),
        ("/signup", None),
        ("/password/forgot", None),
        ("/start", None),
        ("/s/alpha-bank/pay", "member"),
        ("/s/alpha-bank/leave", "member"),
        ("/s/alpha-bank/manage/members", "coordinator"),
        ("/s/alpha-bank/manage/award", "coordinator"),
        ("/s/alpha-bank/manage/activities", "coordinator"),
        ("/s/alpha-bank/manage/rewards", "coordinator"),
        ("/s/alpha-bank/manage/rules", "coordinator"),
        ("/s/alpha-bank/manage/transactions", "coordinator"),
        ("/s/alpha-bank/manage/partners", "coordinator"),
    ],
)
def test_more_pages_are_accessible(
    world: World, live_server: LiveServer, browser_context: Any, path: str, who: str | None
) -> None:
    fund(world.app, world.a, world.a.members[0], 60)
    page = browser_context().new_page()
    if who is not None:
        person = world.a.members[0] if who == "member" else world.a.coordinator
        log_in(page, live_server, person.email, PASSWORD)
    page.goto(live_server.url + path)
    name = path.strip("/").replace("/", "-").replace("s-alpha-bank-", "") or "root"
    check(page, name)
