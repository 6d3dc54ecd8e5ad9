"""A member's pages: balance, logging hours, paying and giving, rewards, statement, leaving.

Each refusal shows the service's own words and keeps what was typed; each
test checks that the other scheme's ledger did not move.
"""

from __future__ import annotations

from datetime import date, timedelta

from tests.factories import Person, World, fund, make_scheme, make_user
from tests.web.conftest import Pages, text
from tests.web.support import activity_id, balance, ledger_rows, reward_id


def test_overview_shows_balance_limits_and_recent_activity(world: World, pages: Pages) -> None:
    ann = world.a.members[0]
    fund(world.app, world.a, ann, 150)
    pages.login(ann)
    page = text(pages.get("/s/alpha-bank/"))
    assert "Your balance 2:30 hours" in page
    assert "You can go down to −10:00 hours." in page
    assert "Adjustment: test funding" in page
    # alpha-bank (community) has exchange on: the number partner schemes' members pay to.
    assert f"Your member number here: {number_of(world, ann, 'alpha-bank')}" in page


def number_of(world: World, person: Person, slug: str) -> int:
    """The person's member number in a scheme (1, 2, 3 … there), from ``GET /me``."""
    me = world.api(person).get("/api/v1/me").get_json()
    return next(m["member_number"] for m in me["memberships"] if m["scheme"] == slug)


def test_logging_hours_that_are_credited_at_once(world: World, pages: Pages) -> None:
    ann = world.a.members[0]
    before_b = ledger_rows(world.app, world.b)
    helping = activity_id(world, world.a, "Helping a neighbour")  # approval: auto
    pages.login(ann)
    response = pages.post(
        "/s/alpha-bank/log-hours",
        {
            "activity_id": helping,
            "hours": "1:30",
            "performed_on": date.today().isoformat(),
            "note": "",
        },
    )
    assert response.status_code == 302
    page = text(pages.get("/s/alpha-bank/log-hours"))
    assert "Thank you! 1:30 hours logged and credited." in page
    assert balance(world, ann, world.a) == 90
    assert ledger_rows(world.app, world.b) == before_b


def test_logging_hours_that_wait_for_a_coordinator(world: World, pages: Pages) -> None:
    ann = world.a.members[0]
    clean_up = activity_id(world, world.a, "Community clean-up day")  # approval: coordinator
    pages.login(ann)
    pages.post(
        "/s/alpha-bank/log-hours",
        {"activity_id": clean_up, "hours": "2", "performed_on": date.today().isoformat()},
    )
    page = text(pages.get("/s/alpha-bank/log-hours"))
    assert "A coordinator will check and approve them." in page
    assert "waiting for approval" in page
    assert balance(world, ann, world.a) == 0


def test_refused_hours_keep_what_was_typed(world: World, pages: Pages) -> None:
    ann = world.a.members[0]
    helping = activity_id(world, world.a, "Helping a neighbour")
    pages.login(ann)
    too_long = pages.post(
        "/s/alpha-bank/log-hours",
        {
            "activity_id": helping,
            "hours": "9",
            "performed_on": date.today().isoformat(),
            "note": "a long day",
        },
    )
    assert too_long.status_code == 422
    assert "One claim in Alpha Time Bank can be at most 8:00 hours" in text(too_long)
    html = too_long.get_data(as_text=True)
    assert 'value="9"' in html and "a long day</textarea>" in html
    unreadable = pages.post(
        "/s/alpha-bank/log-hours",
        {"activity_id": helping, "hours": "an hour", "performed_on": "yesterday"},
    )
    assert unreadable.status_code == 422
    page = text(unreadable)
    assert "Write the time in hours, like 1:30 (an hour and a half) or 2." in page
    assert "Enter the date as year-month-day" in page
    future = (date.today() + timedelta(days=3)).isoformat()
    later = pages.post(
        "/s/alpha-bank/log-hours", {"activity_id": helping, "hours": "1", "performed_on": future}
    )
    assert later.status_code == 422 and "Cannot be in the future" in text(later)
    assert balance(world, ann, world.a) == 0


def test_a_coordinator_logs_hours_for_a_member(world: World, pages: Pages) -> None:
    arthur = world.a.members[1]
    helping = activity_id(world, world.a, "Helping a neighbour")
    pages.login(world.a.coordinator)
    response = pages.post(
        "/s/alpha-bank/log-hours",
        {
            "member_id": arthur.member_ids["alpha-bank"],
            "activity_id": helping,
            "hours": "1",
            "performed_on": date.today().isoformat(),
        },
    )
    assert response.status_code == 302
    assert balance(world, arthur, world.a) == 60


def test_paying_another_member(world: World, pages: Pages) -> None:
    ann, arthur = world.a.members
    before_b = ledger_rows(world.app, world.b)
    pages.login(ann)
    form = pages.get("/s/alpha-bank/pay").get_data(as_text=True)
    assert "Arthur Alpha" in form and "Ann Alpha</option>" not in form
    response = pages.post(
        "/s/alpha-bank/pay?form=pay",
        {"to": arthur.member_ids["alpha-bank"], "amount": "1.5", "memo": "the shelves"},
    )
    assert response.status_code == 302
    assert "You paid 1:30 hours to Arthur Alpha." in text(pages.get("/s/alpha-bank/"))
    assert balance(world, ann, world.a) == -90 and balance(world, arthur, world.a) == 90
    assert ledger_rows(world.app, world.b) == before_b


def test_a_payment_below_the_floor_is_refused_in_plain_words(world: World, pages: Pages) -> None:
    ann, arthur = world.a.members
    pages.login(ann)
    # 10:00 is the scheme's floor; the peer maximum is 20:00, so the floor refuses first.
    pages.post(
        "/s/alpha-bank/pay?form=pay", {"to": arthur.member_ids["alpha-bank"], "amount": "10"}
    )
    refused = pages.post(
        "/s/alpha-bank/pay?form=pay",
        {"to": arthur.member_ids["alpha-bank"], "amount": "0:01", "memo": "one more minute"},
    )
    assert refused.status_code == 422
    assert (
        "Your balance would go to −10:01 hours, below its minimum of −10:00 hours in Alpha Time Bank."
        in text(refused)
    )
    html = refused.get_data(as_text=True)
    assert 'value="0:01"' in html and 'value="one more minute"' in html
    assert balance(world, ann, world.a) == -600


def test_pay_form_field_messages(world: World, pages: Pages) -> None:
    pages.login(world.a.members[0])
    response = pages.post("/s/alpha-bank/pay?form=pay", {"to": "", "amount": "0"})
    assert response.status_code == 422
    page = text(response)
    assert "Choose who to send the time credits to." in page
    assert "Enter more than zero." in page
    yourself = pages.post(
        "/s/alpha-bank/pay?form=pay",
        {"to": world.a.members[0].member_ids["alpha-bank"], "amount": "1"},
    )
    assert "You cannot pay yourself." in text(yourself)


def test_where_members_cannot_pay_each_other(world: World, pages: Pages) -> None:
    teacher = make_user(world.app, name="Dee Teacher")
    school = make_scheme(
        world.app, teacher, slug="lincoln-tutors", template="school", name="Lincoln Tutors"
    )
    from tests.factories import add_member

    pupils = [make_user(world.app, name=n) for n in ("Maria Lopez", "Tom Nguyen")]
    for pupil in pupils:
        add_member(world.app, school, pupil)
    fund(world.app, school, pupils[0], 60)
    pages.login(pupils[0])
    page = text(pages.get("/s/lincoln-tutors/pay"))
    assert "Members of Lincoln Tutors do not pay each other directly" in page
    refused = pages.post(
        "/s/lincoln-tutors/pay?form=pay",
        {"to": pupils[1].member_ids["lincoln-tutors"], "amount": "1"},
    )
    assert refused.status_code == 422
    assert "Members of Lincoln Tutors cannot pay each other directly." in text(refused)


def test_giving_to_the_community_pot(world: World, pages: Pages) -> None:
    ann = world.a.members[0]
    fund(world.app, world.a, ann, 120)
    pages.login(ann)
    response = pages.post(
        "/s/alpha-bank/pay?form=give", {"to": "pot", "amount": "1", "memo": "for anyone"}
    )
    assert response.status_code == 302
    assert "You gave 1:00 hours to the community pot." in text(pages.get("/s/alpha-bank/"))
    assert "Gift to the community pot" in text(pages.get("/s/alpha-bank/statement"))
    assert balance(world, ann, world.a) == 60


def test_paying_a_member_of_a_partner_scheme(world: World, pages: Pages) -> None:
    from tests.platform.exchange.support import agree

    ann = world.a.members[0]
    ben = world.b.members[0]
    agree(world, world.a, world.b, rate="2", limit=600)
    pages.login(ann)
    page = pages.get("/s/alpha-bank/pay").get_data(as_text=True)
    assert "Pay a member of a partner scheme" in page and "Beta Surgery</option>" in page
    response = pages.post(
        "/s/alpha-bank/pay?form=partner",
        {
            "to_scheme": "beta-surgery",
            "to_member": number_of(world, ben, "beta-surgery"),
            "amount": "0:30",
        },
    )
    assert response.status_code == 302, text(response)
    assert "You paid 0:30 hours; Ben Beta received 1:00 hours in beta-surgery." in text(
        pages.get("/s/alpha-bank/")
    )
    assert balance(world, ben, world.b) == 60
    over = pages.post(
        "/s/alpha-bank/pay?form=partner",
        {
            "to_scheme": "beta-surgery",
            "to_member": number_of(world, ben, "beta-surgery"),
            "amount": "10",
        },
    )
    assert over.status_code == 422
    assert "beyond the agreement's limit" in text(over)
    assert balance(world, ben, world.b) == 60


def test_redeeming_a_reward_shows_its_code(world: World, pages: Pages) -> None:
    ann = world.a.members[0]
    fund(world.app, world.a, ann, 120)
    parcel = reward_id(world, world.a, "Basic food parcel")
    pages.login(ann)
    assert "Basic food parcel" in text(pages.get("/s/alpha-bank/rewards"))
    response = pages.post(f"/s/alpha-bank/rewards/{parcel}/redeem", {"quantity": "2"})
    assert response.status_code == 302
    page = pages.get(response.headers["Location"])
    assert "Show this code to a coordinator" in text(page)
    code = (
        world.api(ann).get("/api/v1/schemes/alpha-bank/redemptions").get_json()["items"][0]["code"]
    )
    assert code in page.get_data(as_text=True)
    assert balance(world, ann, world.a) == 0
    # Over the per-member limit: the rule's words, and the quantity typed is kept.
    refused = pages.post(f"/s/alpha-bank/rewards/{parcel}/redeem", {"quantity": "3"})
    assert refused.status_code == 422
    assert (
        "'Basic food parcel' is limited to 4 per member per month; you have had 2 this month."
        in text(refused)
    )
    assert 'value="3"' in refused.get_data(as_text=True)
    assert balance(world, ann, world.a) == 0


def test_rewards_out_of_stock(world: World, pages: Pages) -> None:
    ann = world.a.members[0]
    fund(world.app, world.a, ann, 6000)
    course = reward_id(world, world.a, "Course at the community college")  # 10 in stock
    pages.login(ann)
    refused = pages.post(f"/s/alpha-bank/rewards/{course}/redeem", {"quantity": "11"})
    assert refused.status_code == 422
    assert "'Course at the community college' is out of stock: only 10 are left." in text(refused)
    assert 'value="11"' in refused.get_data(as_text=True)


def test_statement_pages_and_csv(world: World, pages: Pages) -> None:
    ann = world.a.members[0]
    for _ in range(25):
        fund(world.app, world.a, ann, 1)
    pages.login(ann)
    first = pages.get("/s/alpha-bank/statement")
    html = first.get_data(as_text=True)
    assert html.count("Adjustment: test funding") == 20
    older = html.split('href="/s/alpha-bank/statement?cursor=')[1].split('"')[0]
    second = pages.get(f"/s/alpha-bank/statement?cursor={older}").get_data(as_text=True)
    assert second.count("Adjustment: test funding") == 5
    assert "Newest entries" in second
    csv = pages.get("/api/v1/schemes/alpha-bank/statement.csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert len(csv.get_data(as_text=True).strip().splitlines()) == 26
    assert 'href="/api/v1/schemes/alpha-bank/statement.csv"' in html


def test_leaving_a_scheme(world: World, pages: Pages) -> None:
    ann = world.a.members[0]
    fund(world.app, world.a, ann, 60)
    pages.login(ann)
    unticked = pages.post("/s/alpha-bank/leave", {"balance_to": "pot"})
    assert unticked.status_code == 422
    assert "Tick the box to say you want to leave." in text(unticked)
    response = pages.post("/s/alpha-bank/leave", {"balance_to": "pot", "confirm": "yes"})
    assert response.status_code == 302
    assert "You have left Alpha Time Bank." in text(pages.get("/"))
    assert pages.get("/s/alpha-bank/").status_code == 404


def test_a_member_in_debt_is_told_to_ask_a_coordinator(world: World, pages: Pages) -> None:
    ann, arthur = world.a.members
    pages.login(ann)
    pages.post("/s/alpha-bank/pay?form=pay", {"to": arthur.member_ids["alpha-bank"], "amount": "1"})
    page = text(pages.get("/s/alpha-bank/leave"))
    assert "You owe 1:00 hours" in page
    refused = pages.post("/s/alpha-bank/leave", {"confirm": "yes", "balance_to": "pot"})
    assert refused.status_code == 422
    assert "a coordinator needs to settle it before you can leave" in text(refused)


def test_a_double_click_on_pay_pays_once(world: World, pages: Pages) -> None:
    """Every form carries a fresh key; the same form sent twice moves credits once."""
    import re as _re

    ann, arthur = world.a.members
    pages.login(ann)
    form = pages.get("/s/alpha-bank/pay").get_data(as_text=True)
    key = _re.search(r'name="idempotency_key" value="([0-9a-f]+)"', form)
    assert key, "the pay form carries an idempotency key"
    data = {"to": arthur.member_ids["alpha-bank"], "amount": "1", "idempotency_key": key.group(1)}
    first = pages.post("/s/alpha-bank/pay?form=pay", dict(data))
    second = pages.post("/s/alpha-bank/pay?form=pay", dict(data, csrf_token=pages.token()))
    assert first.status_code == second.status_code == 302
    assert first.location == second.location
    assert balance(world, ann, world.a) == -60 and balance(world, arthur, world.a) == 60
    # A new form (a new key) pays again.
    fresh = pages.get("/s/alpha-bank/pay").get_data(as_text=True)
    other = _re.search(r'name="idempotency_key" value="([0-9a-f]+)"', fresh)
    assert other and other.group(1) != key.group(1)
    pages.post("/s/alpha-bank/pay?form=pay", dict(data, idempotency_key=other.group(1)))
    assert balance(world, ann, world.a) == -120
