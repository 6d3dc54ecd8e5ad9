"""A member's first hour on the pages: warnings and progress they can act on."""

from __future__ import annotations

import re

from flask import Flask

from tests.factories import Person, SchemeInfo, World, add_member, fund, make_scheme, make_user
from tests.platform.exchange.support import agree, pay
from tests.tenants.earning.conftest import claim
from tests.tenants.earning.test_cap_warnings import DAY, capped
from tests.tenants.spending.support import create_reward, snapshot
from tests.web.conftest import Pages, text


def test_logging_hours_past_the_cap_warns_on_the_form(
    app: Flask, world: World, pages: Pages
) -> None:
    scheme, member, activity_id = capped(app, world)
    claim(world, member, scheme, activity_id, 300, DAY)
    pages.login(member)
    form = {"activity_id": str(activity_id), "hours": "4", "performed_on": DAY.isoformat()}
    response = pages.post(f"/s/{scheme.slug}/log-hours", form)
    assert response.status_code == 302, text(response)
    page = pages.get(response.headers["Location"])
    body = page.get_data(as_text=True)
    assert "A coordinator will check and approve them." in text(page)
    assert 'class="flash warning"' in body
    assert "With your claims still waiting for approval" in text(page)
    assert "9:00 hours, more than the 8:00 hours" in text(page)


def test_the_claims_queue_warns_the_coordinator(app: Flask, world: World, pages: Pages) -> None:
    scheme, member, activity_id = capped(app, world)
    claim(world, member, scheme, activity_id, 300, DAY)
    claim(world, member, scheme, activity_id, 240, DAY)
    pages.login(scheme.coordinator)
    page = text(pages.get(f"/s/{scheme.slug}/manage/claims"))
    assert page.count("With Mo Member's claims still waiting for approval") == 2
    # Beta's queue shows none of it.
    pages.login(world.b.coordinator)
    beta = text(pages.get("/s/beta-surgery/manage/claims"))
    assert "Mo Member" not in beta and "still waiting for approval" not in beta


def school_with_computer(app: Flask, world: World) -> tuple[SchemeInfo, Person, int]:
    """A school scheme (balances cannot go below zero), a pupil with 2:30 hours."""
    scheme = make_scheme(app, make_user(app, name="Sam Teacher"), template="school")
    pupil = make_user(app, name="Pia Pupil")
    add_member(app, scheme, pupil)
    fund(app, scheme, pupil, 150)
    # A goal reward: the school template marks its own computer as one, so members choose
    # their goal among goal rewards.
    reward = create_reward(world, scheme, name="Pupils' computer", price=600, goal=True)
    return scheme, pupil, int(reward["id"])


def test_rewards_too_dear_say_what_is_missing_and_a_goal_shows_progress(
    app: Flask, world: World, pages: Pages
) -> None:
    scheme, pupil, computer = school_with_computer(app, world)
    create_reward(world, scheme, name="Pencil", price=30)
    beta_reward = create_reward(world, world.b, name="Beta only", price=60)
    beta_before = snapshot(app, world.b)
    pages.login(pupil)
    rewards = pages.get(f"/s/{scheme.slug}/rewards")
    body = rewards.get_data(as_text=True)
    assert "7:30 hours to go" in text(rewards)
    assert re.search(r"<button type=\"submit\" disabled[^>]*>Redeem Pupils&#39; computer", body)
    assert re.search(r"<button type=\"submit\">Redeem Pencil", body)
    assert "Your goal" not in text(pages.get(f"/s/{scheme.slug}/"))
    made = pages.post(f"/s/{scheme.slug}/rewards/{computer}/goal")
    assert made.status_code == 302
    overview = pages.get(f"/s/{scheme.slug}/")
    assert "Your goal: Pupils' computer" in text(overview)
    assert '<progress id="goal-progress" class="goal" max="600" value="150">' in (
        overview.get_data(as_text=True)
    )
    assert "7:30 hours to go" in text(overview)
    # Another scheme's reward cannot be a goal here (404, nothing written).
    assert pages.post(f"/s/{scheme.slug}/rewards/{beta_reward['id']}/goal").status_code == 404
    assert "Your goal: Pupils' computer" in text(pages.get(f"/s/{scheme.slug}/"))
    pages.post(f"/s/{scheme.slug}/goal/clear")
    assert "Your goal" not in text(pages.get(f"/s/{scheme.slug}/"))
    assert snapshot(app, world.b) == beta_before


def test_a_short_password_is_refused_in_plain_words(world: World, pages: Pages) -> None:
    page = pages.post("/signup", {"name": "Short", "email": "s@example.test", "password": "abc"})
    assert page.status_code == 422
    assert "Your password is too short: use at least 8 characters." in text(page)
    assert "Length must be" not in text(page)
    api = world.app.test_client().post(
        "/api/v1/users", json={"name": "Short", "email": "s@example.test", "password": "abc"}
    )
    assert api.status_code == 422
    assert "Your password is too short: use at least 8 characters." in str(api.get_json())
    assert "Length must be" not in str(api.get_json())
    # Nothing was written, in either scheme or on the platform.
    assert pages.post("/login", {"email": "s@example.test", "password": "abc"}).status_code == 401
    for scheme in (world.a, world.b):
        names = [
            m["name"]
            for m in world.api(scheme.coordinator)
            .get(f"/api/v1/schemes/{scheme.slug}/members")
            .get_json()["items"]
        ]
        assert "Short" not in names


def test_leaving_with_a_reward_not_collected_warns(app: Flask, world: World, pages: Pages) -> None:
    ann = world.a.members[0]
    fund(app, world.a, ann, 120)
    reward = create_reward(world, world.a, name="Garden voucher", price=60)
    redeemed = world.api(ann).post(
        "/api/v1/schemes/alpha-bank/redemptions", {"reward_id": reward["id"], "quantity": 1}
    )
    assert redeemed.status_code == 201, redeemed.get_json()
    code = redeemed.get_json()["code"]
    beta_before = snapshot(app, world.b)
    pages.login(ann)
    page = pages.get("/s/alpha-bank/leave")
    assert "You have a reward not collected yet" in text(page)
    assert "Garden voucher" in text(page) and code in text(page)
    # Once collected, no warning; looking wrote nothing in Beta, and Beta's
    # leave page shows nothing of Alpha's reward.
    fulfilled = world.api(world.a.coordinator).post(
        f"/api/v1/schemes/alpha-bank/redemptions/{redeemed.get_json()['id']}/fulfil"
    )
    assert fulfilled.status_code == 200, fulfilled.get_json()
    assert "not collected yet" not in text(pages.get("/s/alpha-bank/leave"))
    assert snapshot(app, world.b) == beta_before
    pages.login(world.b.members[0])
    beta_page = text(pages.get("/s/beta-surgery/leave"))
    assert "not collected yet" not in beta_page and "Garden voucher" not in beta_page


def test_the_favicon_is_served_and_linked(app: Flask, world: World, pages: Pages) -> None:
    icon = pages.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.mimetype == "image/vnd.microsoft.icon"
    assert icon.get_data()[:4] == b"\x00\x00\x01\x00"  # an ICO header
    pages.login(world.a.members[0])
    assert '<link rel="icon" href="/favicon.ico"' in pages.get("/s/alpha-bank/").get_data(
        as_text=True
    )


def test_the_stylesheet_prints_statements_and_overviews_without_the_chrome(pages: Pages) -> None:
    css = pages.get("/static/timebank.css").get_data(as_text=True)
    printed = css[css.index("@media print") :]
    for hidden in ("header.top", ".scheme-nav", ".actions", ".pager", "form"):
        assert hidden in printed.split("display: none")[0]
    assert "thead { display: table-header-group; }" in printed


def test_payments_between_schemes_name_the_partner_scheme_not_its_slug(
    app: Flask, world: World, pages: Pages
) -> None:
    agree(world, world.a, world.b, rate="1", limit=600)
    ann, ben = world.a.members[0], world.b.members[0]
    fund(app, world.a, ann, 120)
    paid = pay(world, ann, world.a, world.b, ben, 30)
    assert paid.status_code == 201, paid.get_json()
    assert paid.get_json()["partner"] == "beta-surgery"
    assert paid.get_json()["partner_name"] == "Beta Surgery"
    pages.login(ann)
    for path in ("/s/alpha-bank/", "/s/alpha-bank/statement"):
        page = text(pages.get(path))
        assert "Payment to a member of Beta Surgery" in page
        assert "beta-surgery" not in page
    pages.login(ben)
    page = text(pages.get("/s/beta-surgery/statement"))
    assert "Payment from a member of Alpha Time Bank" in page and "alpha-bank" not in page
    # Each side sees only its own leg: Bella in Beta has no line about it.
    pages.login(world.b.members[1])
    assert "Payment from a member" not in text(pages.get("/s/beta-surgery/statement"))
