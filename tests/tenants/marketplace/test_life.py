"""A listing's life: the warning mail before it expires (once), the nightly expiry,
renewing with one click, and the weekly digest for members who opted in."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from flask import Flask

from tests.factories import World, problem
from tests.tenants.marketplace.support import category_ids, listing, mails, snapshot, url


def test_warned_once_then_expired_then_renewed(app: Flask, world: World, outbox: Path) -> None:
    from timebank.tenants.marketplace import jobs

    ann, arthur = world.a.members
    today = date.today()
    ending = listing(
        world, ann, world.a, title="Ironing", expires_on=(today + timedelta(days=3)).isoformat()
    )
    lasting = listing(world, ann, world.a, title="Baking")
    other_before = snapshot(app, world.b)
    with app.app_context():
        assert jobs.warn_expiring_listings(world.a.id, today.isoformat()) == 1
        assert jobs.warn_expiring_listings(world.a.id, today.isoformat()) == 0  # once
        assert jobs.warn_expiring_listings(world.a.id, (today + timedelta(1)).isoformat()) == 0
    warning = [mail for mail in mails(outbox) if "Ironing" in mail and "Renew" in mail]
    assert len(warning) == 1 and f"/s/{world.a.slug}/listings/{ending['id']}?renew=1" in warning[0]

    with app.app_context():
        assert jobs.expire_listings(world.a.id, (today + timedelta(days=3)).isoformat()) == 0
        assert jobs.expire_listings(world.a.id, (today + timedelta(days=4)).isoformat()) == 1
        assert jobs.expire_listings(world.a.id, (today + timedelta(days=4)).isoformat()) == 0
    mine = world.api(ann).get(url(world.a, f"listings/{ending['id']}")).get_json()
    assert mine["status"] == "expired"
    assert world.api(arthur).get(url(world.a, f"listings/{ending['id']}")).status_code == 404
    assert [
        i["id"] for i in world.api(arthur).get(url(world.a, "listings")).get_json()["items"]
    ] == [lasting["id"]]
    republish = world.api(ann).patch(
        url(world.a, f"listings/{ending['id']}"), {"status": "published"}
    )
    assert republish.status_code == 422 and problem(republish)["code"] == "listing_expired"
    renewed = world.api(ann).post(url(world.a, f"listings/{ending['id']}/renew"))
    assert renewed.get_json()["status"] == "published"
    # Renewed: a new expiry date earns a new warning when it comes near.
    new_end = date.fromisoformat(renewed.get_json()["expires_on"])
    with app.app_context():
        assert jobs.warn_expiring_listings(world.a.id, (new_end - timedelta(2)).isoformat()) == 2
    assert snapshot(app, world.b) == other_before


def test_weekly_digest_of_new_listings_in_chosen_categories(
    app: Flask, world: World, outbox: Path
) -> None:
    from timebank.tenants.marketplace import jobs

    ann, arthur = world.a.members
    cats = category_ids(world, world.a)
    world.api(arthur).put(url(world.a, "listings/digest"), {"category_ids": [cats["Gardening"]]})
    listing(world, ann, world.a, title="Pruning roses")  # Gardening
    listing(world, ann, world.a, title="Fix my bike", category_id=cats["DIY and repairs"])
    listing(world, arthur, world.a, title="My own garden")  # his own: not in his digest
    week = datetime.now(UTC).strftime("%G-W%V")
    with app.app_context():
        assert jobs.send_listings_digest(world.a.id, week) == 1
        assert jobs.send_listings_digest(world.a.id, week) == 0  # once a week
        assert jobs.send_listings_digest(world.b.id, week) == 0
    digests = [mail for mail in mails(outbox) if "New offers and requests" in mail]
    assert len(digests) == 1 and arthur.email in digests[0]
    assert "Pruning roses" in digests[0]
    assert "Fix my bike" not in digests[0] and "My own garden" not in digests[0]
