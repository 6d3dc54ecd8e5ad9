"""Youth court pages: sittings (schedule, rota, attendance, credit), orders, the member's page.

Forms are posted as a browser would (CSRF on); the other youth court and the
community scheme without sittings see nothing of it.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Flask

from tests.factories import World
from tests.tenants.courts.conftest import Court, balance, ledger_rows, local_today, make_court
from tests.web.conftest import Pages, text


@pytest.fixture
def court(app: Flask, world: World) -> Court:
    return Court(
        world=world,
        scheme=make_court(app, "river-court", "River Youth Court"),
        other=make_court(app, "hill-court", "Hill Youth Court"),
    )


def sitting_id_of(location: str) -> int:
    match = re.search(r"/manage/sittings/(\d+)$", location)
    assert match, location
    return int(match.group(1))


def test_a_sitting_through_the_pages(court: Court, pages: Pages) -> None:
    pages.login(court.coordinator)
    base = "/s/river-court/manage/sittings"
    form = text(pages.get(base))
    assert "Schedule a sitting" in form and "No sittings yet" in form
    tomorrow = (local_today() + timedelta(days=1)).isoformat()
    refused = pages.post(base, {"date": "", "time": "17:00", "role_0_name": "Juror"})
    assert refused.status_code == 422 and "Enter the date" in text(refused)
    made = pages.post(
        base,
        {
            "date": tomorrow,
            "time": "17:30",
            "place": "Town hall",
            "role_0_name": "Juror",
            "role_0_minutes": "2",
            "role_0_places": "3",
            "role_1_name": "Clerk",
            "role_1_minutes": "2:30",
            "role_1_places": "1",
        },
    )
    assert made.status_code == 302, text(made)
    sitting_id = sitting_id_of(made.headers["Location"])
    page = pages.get(f"{base}/{sitting_id}")
    assert "Sitting scheduled" in text(page) and "17:30" in text(page)
    roles = dict(
        re.findall(r'<option value="(\d+)"[^>]*>(Juror|Clerk) \(', page.get_data(as_text=True))
    )
    juror = next(i for i, name in roles.items() if name == "Juror")
    clerk = next(i for i, name in roles.items() if name == "Clerk")
    ann, ben, cat = court.members[:3]
    for person, role in ((ann, juror), (ben, juror), (cat, clerk)):
        done = pages.post(
            f"{base}/{sitting_id}",
            {"action": "assign", "member_id": court.member_id(person), "role_id": role},
        )
        assert done.status_code == 302, text(done)
    full = pages.post(
        f"{base}/{sitting_id}",
        {"action": "assign", "member_id": court.member_id(court.members[3]), "role_id": clerk},
    )
    assert full.status_code == 422 and "Every place for Clerk is taken" in text(full)
    present = [court.member_id(ann), court.member_id(cat)]
    marked = pages.post(f"{base}/{sitting_id}", {"action": "attendance", "present": present})
    assert marked.status_code == 302
    confirm = text(pages.get(f"{base}/{sitting_id}/credit"))
    assert "2 members, 4:30 hours in all" in confirm
    credited = pages.post(f"{base}/{sitting_id}/credit", {"idempotency_key": "page-credit-1"})
    assert credited.status_code == 302
    assert "Credited 2 members" in text(pages.get(f"{base}/{sitting_id}"))
    again = pages.post(f"{base}/{sitting_id}/credit", {"idempotency_key": "page-credit-2"})
    assert again.status_code == 422 and "credited already" in text(again)
    assert [balance(court, p) for p in (ann, ben, cat)] == [120, 0, 150]


def test_member_page_sign_up_and_order_progress(app: Flask, court: Court, pages: Pages) -> None:
    api = court.world.api(court.coordinator)
    tomorrow = (local_today() + timedelta(days=1)).isoformat()
    sitting = api.post(court.url("sittings"), {"starts_at": f"{tomorrow}T18:00:00"}).get_json()
    young = court.members[0]
    order = api.post(
        court.url("orders"),
        {
            "member_id": court.member_id(young),
            "minutes_ordered": 600,
            "due_on": (local_today() + timedelta(days=30)).isoformat(),
            "reference": "YO-9",
        },
    ).get_json()
    api.post(
        court.url(f"orders/{order['id']}/hours"),
        {"minutes": 150, "performed_on": local_today().isoformat()},
    )
    pages.login(young)
    mine = text(pages.get("/s/river-court/court"))
    assert "You have no role at this sitting" in mine and "2:30 hours of 10:00 hours done" in mine
    juror = sitting["roles"][0]["id"]
    signed = pages.post(f"/s/river-court/court/sittings/{sitting['id']}/signup", {"role_id": juror})
    assert signed.status_code == 302
    assert "You are Juror." in text(pages.get("/s/river-court/court"))
    # Members reach none of the coordinator's pages, and no other member's order.
    assert pages.get("/s/river-court/manage/sittings").status_code == 403
    assert pages.get(f"/s/river-court/manage/orders/{order['id']}").status_code == 403
    assert pages.get("/s/hill-court/court").status_code == 404
    assert balance(court, young) == 0


def test_order_pages_letter_and_report(app: Flask, court: Court, pages: Pages) -> None:
    young, other = court.members[:2]
    rows = ledger_rows(app, court.scheme.id)
    pages.login(court.coordinator)
    base = "/s/river-court/manage/orders"
    assert "No orders here yet" in text(pages.get(base))
    made = pages.post(
        base,
        {
            "member_id": court.member_id(young),
            "hours": "24",
            "due_on": (local_today() + timedelta(days=60)).isoformat(),
            "referrer": "River YOT",
            "reference": "YO-24",
        },
    )
    assert made.status_code == 302, text(made)
    order_url = made.headers["Location"]
    assert pages.get(order_url + "/letter").status_code == 302  # not completed yet
    for hours in ("10", "14"):
        recorded = pages.post(
            order_url,
            {"hours": hours, "performed_on": local_today().isoformat(), "note": "Garden"},
        )
        assert recorded.status_code == 302, text(recorded)
    shown = text(pages.get(order_url))
    assert "the order is complete" in shown and "24:00 hours of 24:00 hours done" in shown
    letter = text(pages.get(order_url + "/letter"))
    assert "has completed the 24:00 hours ordered" in letter and "River YOT" in letter
    pages.post(
        base,
        {
            "member_id": court.member_id(other),
            "hours": "5",
            "due_on": (local_today() + timedelta(days=9)).isoformat(),
            "referrer": "Hill Panel",
        },
    )
    report = text(pages.get(base + "/report?referrer=River+YOT"))
    assert "YO-24" in report and young.name in report and other.name not in report
    assert "Completed (1)" in report and "Open (0)" in report
    assert ledger_rows(app, court.scheme.id) == rows  # no ledger rows for ordered hours
    assert pages.get(order_url.replace("river-court", "hill-court")).status_code == 404


def test_other_schemes_and_schemes_without_sittings(court: Court, pages: Pages) -> None:
    api = court.world.api(court.coordinator)
    tomorrow = (local_today() + timedelta(days=1)).isoformat()
    sitting = api.post(court.url("sittings"), {"starts_at": f"{tomorrow}T18:00:00"}).get_json()
    order = api.post(
        court.url("orders"),
        {
            "member_id": court.member_id(court.members[0]),
            "minutes_ordered": 60,
            "due_on": tomorrow,
        },
    ).get_json()
    pages.login(court.other.coordinator)
    assert pages.get(f"/s/hill-court/manage/sittings/{sitting['id']}").status_code == 404
    assert pages.get(f"/s/hill-court/manage/sittings/{sitting['id']}/credit").status_code == 404
    assert pages.get(f"/s/hill-court/manage/orders/{order['id']}").status_code == 404
    assert pages.get(f"/s/hill-court/manage/orders/{order['id']}/letter").status_code == 404
    recorded = pages.post(
        f"/s/hill-court/manage/orders/{order['id']}",
        {"hours": "1", "performed_on": local_today().isoformat()},
    )
    assert recorded.status_code == 404
    assert "Young" not in text(pages.get("/s/hill-court/manage/orders/report")).replace(
        "Hill Youth Court", ""
    )
    assert pages.get(f"/s/river-court/manage/sittings/{sitting['id']}").status_code == 404
    pages.login(court.world.a.coordinator)
    off = pages.get("/s/alpha-bank/manage/sittings")
    assert off.status_code == 403 and "does not hold court sittings" in text(off)
    assert pages.get("/s/alpha-bank/court").status_code == 403
    assert "Sittings" not in text(pages.get("/s/alpha-bank/manage/"))


def test_the_rules_page_turns_sittings_on_and_keeps_what_it_does_not_show(
    court: Court, pages: Pages
) -> None:
    alpha = court.world.a
    api = court.world.api(alpha.coordinator)
    before = api.get("/api/v1/schemes/alpha-bank/policy").get_json()
    pages.login(alpha.coordinator)
    form = {
        "balance_min": "10",
        "balance_max": "",
        "peer_enabled": "yes",
        "peer_max": "",
        "claims_enabled": "yes",
        "claims_approval": before["claims"]["approval"],
        "claims_max": "8",
        "cap_minutes": "",
        "cap_period": "month",
        "max_age_days": "",
        "rewards_enabled": "yes",
        "expiry_days": "",
        "exchange_enabled": "yes",
        "directory": before["privacy"]["member_directory"],
        "sittings_enabled": "yes",
        "orders_enabled": "yes",
    }
    saved = pages.post("/s/alpha-bank/manage/rules", form)
    assert saved.status_code == 302, text(saved)
    after = api.get("/api/v1/schemes/alpha-bank/policy").get_json()
    assert after["sittings"]["enabled"] is True and after["sittings"]["self_signup"] is False
    assert after["sittings"]["roles"] == before["sittings"]["roles"]
    assert after["orders"] == {"enabled": True, "extra_hours_earn_credits": False}
    assert after["listings"] == before["listings"]  # not on the form: kept as it was
    assert "court sittings" in text(pages.get("/s/alpha-bank/manage/rules"))
    assert pages.get("/s/alpha-bank/manage/sittings").status_code == 200
    assert "Sittings" in text(pages.get("/s/alpha-bank/manage/"))


def test_a_sitting_with_children_refuses_an_adult_without_a_check(
    court: Court, pages: Pages
) -> None:
    pages.login(court.coordinator)
    base = "/s/river-court/manage/sittings"
    assert 'name="with_children"' in pages.get(base).get_data(as_text=True)
    tomorrow = (local_today() + timedelta(days=1)).isoformat()
    made = pages.post(
        base,
        {
            "date": tomorrow,
            "time": "17:30",
            "with_children": "yes",
            "role_0_name": "Juror",
            "role_0_minutes": "2",
            "role_0_places": "3",
        },
    )
    assert made.status_code == 302, text(made)
    sitting_id = sitting_id_of(made.headers["Location"])
    api = court.world.api(court.coordinator)
    sitting = api.get(court.url(f"sittings/{sitting_id}")).get_json()
    assert sitting["with_children"] is True
    juror = sitting["roles"][0]["id"]
    ann = court.members[0]
    refused = pages.post(
        f"{base}/{sitting_id}",
        {"action": "assign", "member_id": court.member_id(ann), "role_id": juror},
    )
    assert refused.status_code == 422 and "needs a safeguarding check" in text(refused)
    # The other court sees nothing of it.
    other = court.world.api(court.other.coordinator)
    assert other.get(court.url(f"sittings/{sitting_id}")).status_code == 404
