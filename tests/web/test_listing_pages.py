"""Offers and requests pages (CSRF on): post, refuse bad input, respond, agree, confirm once."""

from __future__ import annotations

import re

from flask import Flask

from tests.factories import World, fund
from tests.tenants.marketplace.support import category_ids, snapshot
from tests.web.conftest import Pages, text
from tests.web.support import balance

KEY = re.compile(r'name="idempotency_key" value="([^"]+)"')


def test_the_whole_path_through_the_pages(app: Flask, world: World) -> None:
    ann, arthur = world.a.members
    fund(app, world.a, ann, 120)
    gardening = category_ids(world, world.a)["Gardening"]
    ann_pages = Pages(app).login(ann)
    form = ann_pages.get("/s/alpha-bank/listings/new")
    assert form.status_code == 200
    before = snapshot(app, world.a)
    refused = ann_pages.post(
        "/s/alpha-bank/listings/new",
        {"kind": "request", "title": "", "category_id": str(gardening), "minutes": "0"},
    )
    assert refused.status_code == 422
    assert "Please fill this in" in text(refused)
    assert "Enter more than zero" in text(refused)
    assert snapshot(app, world.a) == before
    posted = ann_pages.post(
        "/s/alpha-bank/listings/new",
        {
            "kind": "request",
            "title": "Mow my lawn",
            "category_id": str(gardening),
            "minutes": "1:30",
            "where": "in_person",
            "area": "Catford",
        },
    )
    assert posted.status_code == 302, text(posted)
    listing_path = posted.headers["Location"]
    assert "Mow my lawn" in text(ann_pages.get(listing_path))

    arthur_pages = Pages(app).login(arthur)
    found = arthur_pages.get("/s/alpha-bank/listings?q=lawn&area=catford")
    assert "Mow my lawn" in text(found)
    assert "Mow my lawn" not in text(arthur_pages.get("/s/alpha-bank/listings?q=bicycle"))
    sent = arthur_pages.post(listing_path + "/respond", {"message": "I have a mower"})
    assert sent.status_code == 302, text(sent)
    conversation = sent.headers["Location"]
    agreed = arthur_pages.post(conversation + "/agree", {"minutes": "1:30", "on": ""})
    assert agreed.status_code == 302, text(agreed)

    page = ann_pages.get(conversation)
    assert "I have a mower" in text(page) and "Has the help happened?" in text(page)
    key = KEY.findall(page.get_data(as_text=True))[-1]
    for _ in range(2):  # a double click: the same form key pays once
        confirmed = ann_pages.post(
            conversation + "/confirm", {"minutes": "1:30", "idempotency_key": key}
        )
        assert confirmed.status_code == 302, text(confirmed)
    assert balance(world, ann, world.a) == 30 and balance(world, arthur, world.a) == 90
    overview = text(arthur_pages.get("/s/alpha-bank/"))
    assert "1:30 hours given" in overview and "1 person helped" in overview
    statement = text(ann_pages.get("/s/alpha-bank/statement"))
    assert "1:30 hours received" in statement
    coordinator = Pages(app).login(world.a.coordinator)
    about_ann = text(
        coordinator.get(f"/s/alpha-bank/statement?member_id={ann.member_ids['alpha-bank']}")
    )
    assert "Ann Alpha: help given and received" in about_ann and "1:30 hours received" in about_ann


def test_coordinators_queue_hide_and_categories(app: Flask, world: World) -> None:
    ann = world.a.members[0]
    cats = category_ids(world, world.a)
    made = world.api(ann).post(
        "/api/v1/schemes/alpha-bank/listings",
        {"kind": "offer", "title": "Cheap raffle tickets", "category_id": cats["Cooking"]},
    )
    lid = made.get_json()["id"]
    member = Pages(app).login(ann)
    assert member.get("/s/alpha-bank/manage/listings").status_code == 403
    coordinator = Pages(app).login(world.a.coordinator)
    queue = coordinator.get("/s/alpha-bank/manage/listings?days=0")
    assert queue.status_code == 200 and "Download every listing" in text(queue)
    empty = coordinator.post(f"/s/alpha-bank/manage/listings/{lid}/hide", {"reason": ""})
    assert empty.status_code == 302
    assert (
        world.api(ann).get(f"/api/v1/schemes/alpha-bank/listings/{lid}").get_json()["status"]
        == "published"
    )
    hidden = coordinator.post(
        f"/s/alpha-bank/manage/listings/{lid}/hide", {"reason": "Not a time bank offer"}
    )
    assert hidden.status_code == 302
    seen = text(member.get(f"/s/alpha-bank/listings/{lid}"))
    assert "A coordinator has hidden this listing" in seen and "Not a time bank offer" in seen
    added = coordinator.post("/s/alpha-bank/manage/listings/categories", {"name": "Pets"})
    assert added.status_code == 302
    assert "Pets" in category_ids(world, world.a)
    assert "Pets" not in category_ids(world, world.b)
