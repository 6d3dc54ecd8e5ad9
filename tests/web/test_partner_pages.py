"""Partner pages: the counter for staff, the member's card and directory, the coordinator's
partner pages; staff of one partner cannot open another's, nor member pages."""

from __future__ import annotations

import re

from flask import Flask

from tests.factories import World, fund
from tests.tenants.partners.support import add_offer, make_partner, redeem, url
from tests.web.conftest import Pages, text


def test_staff_honour_a_code_on_the_counter_page(app: Flask, world: World, pages: Pages) -> None:
    store = make_partner(world, world.a, area="Northside", latitude=38.6, longitude=-90.2)
    college = make_partner(world, world.a, name="Northside College")
    offer = add_offer(world, store, name="Food parcel", price=60)
    ann = world.a.members[0]
    fund(app, world.a, ann, 120)
    code = redeem(world, ann, world.a, offer["id"]).get_json()["code"]
    base = f"/s/{world.a.slug}/partners/{store.id}"

    pages.login(store.staff)
    page = pages.get(f"{base}/counter")
    assert page.status_code == 200 and "Check a code" in text(page)
    found = pages.get(f"{base}/counter?code={code.lower()}")
    assert found.status_code == 200
    assert "Food parcel for Ann" in text(found) and "Ann Alpha" not in text(found)
    done = pages.post(f"{base}/counter/honour", {"code": code}, follow_redirects=True)
    assert done.status_code == 200 and "Done: hand over Food parcel to Ann." in text(done)
    again = pages.post(f"{base}/counter/honour", {"code": code})
    assert again.status_code == 422 and "already used" in text(again)
    unknown = pages.get(f"{base}/counter?code=ZZZZZZZZ")
    assert unknown.status_code == 404 and "not found" in text(unknown)
    statement = pages.get(f"{base}/statement")
    assert statement.status_code == 200 and "Food parcel" in text(statement)
    assert pages.get(f"{base}/offers").status_code == 200
    assert pages.get(f"{base}/charge").status_code == 200
    # Not the college's pages, nor the scheme's member pages, nor another scheme's.
    assert pages.get(f"/s/{world.a.slug}/partners/{college.id}/counter").status_code == 404
    assert pages.get(f"/s/{world.a.slug}/").status_code == 404
    assert pages.get(f"/s/{world.b.slug}/partners/{store.id}/counter").status_code == 404


def test_member_card_directory_and_confirming_a_charge(
    app: Flask, world: World, pages: Pages
) -> None:
    college = make_partner(
        world,
        world.a,
        name="Northside College",
        area="Northside",
        latitude=38.6,
        longitude=-90.2,
        categories=["learning"],
    )
    course = add_offer(world, college, name="Evening course", price=600)
    ann = world.a.members[0]
    fund(app, world.a, ann, 900)
    pages.login(ann)
    directory = pages.get(f"/s/{world.a.slug}/partners?area=Northside")
    assert directory.status_code == 200 and "Northside College" in text(directory)
    assert 'id="partner-map"' in directory.get_data(as_text=True)
    card = pages.get(f"/s/{world.a.slug}/card")
    assert card.status_code == 200
    code = re.search(r'class="code"[^>]*>(M[A-Z0-9]+)<', card.get_data(as_text=True))
    assert code
    charge = world.api(college.staff).post(
        college.url("charges"), {"card": code.group(1), "reward_id": course["id"]}
    )
    assert charge.status_code == 201
    overview = pages.get(f"/s/{world.a.slug}/")
    assert "Northside College asks 10:00 hours" in text(overview)
    paid = pages.post(
        f"/s/{world.a.slug}/charges/{charge.get_json()['id']}/confirm", follow_redirects=True
    )
    assert "Paid 10:00 hours to Northside College." in text(paid)
    rewards = pages.get(f"/s/{world.a.slug}/rewards?partner={college.id}")
    assert "Evening course" in text(rewards) and "At Northside College" in text(rewards)
    pin = pages.post(f"/s/{world.a.slug}/card/pin", {"pin": "12"})
    assert pin.status_code == 422 and "4 to 8 digits" in text(pin)
    # Another scheme's member sees nothing of it.
    other = Pages(app).login(world.b.members[0])
    assert "Northside College" not in text(other.get(f"/s/{world.b.slug}/partners"))
    assert other.get(f"/s/{world.a.slug}/partners").status_code == 404


def test_coordinator_adds_a_partner_and_invites_staff(
    app: Flask, world: World, pages: Pages, outbox: object
) -> None:
    pages.login(world.a.coordinator)
    base = f"/s/{world.a.slug}/partners/manage"
    assert pages.get(base).status_code == 200
    added = pages.post(
        base,
        {"name": "St Louis Clinic", "area": "Northside", "categories": "health, doctors"},
        follow_redirects=True,
    )
    assert added.status_code == 200 and "St Louis Clinic is added" in text(added)
    listed = world.api(world.a.coordinator).get(url(world.a, "partners")).get_json()["items"]
    clinic = listed[0]
    assert clinic["categories"] == ["doctors", "health"]
    invited = pages.post(
        f"{base}/{clinic['id']}",
        {"action": "invite", "email": "nurse@example.test"},
        follow_redirects=True,
    )
    assert "An invitation is on its way to nurse@example.test." in text(invited)
    bad = pages.post(f"{base}/{clinic['id']}", {"action": "settle", "minutes": "5"})
    assert bad.status_code == 422 and "below its minimum" in text(bad)
    # A member may not open it; the other scheme's coordinator gets 404.
    member = Pages(app).login(world.a.members[0])
    assert member.get(base).status_code == 403
    other = Pages(app).login(world.b.coordinator)
    assert other.get(f"/s/{world.a.slug}/partners/manage/{clinic['id']}").status_code == 404
    assert other.get(f"/s/{world.b.slug}/partners/manage/{clinic['id']}").status_code == 404
