"""Tenancy over the page routes: another scheme's pages and objects are the same 404 as missing.

Parametrised over the URL map, like the API's check: every page under
``/s/<slug>/`` of a scheme the caller does not belong to answers 404, for GET
and POST; and a scheme's own pages pointed at another scheme's objects
(members, activities, rewards, redemptions, transactions, agreements,
imports) answer 404 too, never showing or changing them.
"""

from __future__ import annotations

import re

import pytest
from flask import Flask

from tests.factories import World
from tests.web.conftest import Pages
from tests.web.support import BetaObjects, beta_objects, ledger_rows


def scheme_rules(app: Flask) -> list[tuple[str, str]]:
    rules = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/s/<slug>"):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            rules.append((rule.rule, method))
    return sorted(rules)


def fill(rule: str, slug: str, objects: BetaObjects) -> str:
    values = {
        "member_id": objects.member,
        "activity_id": objects.activity,
        "reward_id": objects.reward,
        "redemption_id": objects.redemption,
        "transaction_id": objects.transaction,
        "agreement_id": objects.agreement,
        "import_id": objects.import_id,
        "listing_id": objects.listing,
        "response_id": objects.response,
        "category_id": objects.category,
        # Beta (a surgery) holds no sittings or orders: the scheme gate answers
        # first; tests/web/test_court_pages.py points one youth court's pages at
        # another's real sittings and orders.
        "sitting_id": 1,
        "order_id": 1,
        "referral_id": objects.referral,
        "link_id": objects.link,
        "group_id": objects.group,
        "referrer_id": 1,
        "partner_id": objects.partner,
        "charge_id": objects.charge,
    }
    path = rule.replace("<slug>", slug)
    path = re.sub(r"<any\(([^,)]+)[^>]*\):\w+>", lambda m: m.group(1), path)
    return re.sub(r"<(?:int:)?(\w+)>", lambda m: str(values[m.group(1)]), path)


def test_the_page_map_is_covered(app: Flask) -> None:
    # A new page under /s/<slug>/ is checked automatically; this guards the count.
    assert len(scheme_rules(app)) >= 35


def test_another_schemes_pages_are_404_for_get_and_post(world: World, pages: Pages) -> None:
    objects = beta_objects(world)
    before = ledger_rows(world.app, world.b)
    pages.login(world.a.coordinator)  # a coordinator, but of alpha only
    checked = 0
    for rule, method in scheme_rules(world.app):
        path = fill(rule, "beta-surgery", objects)
        if method == "GET":
            response = pages.get(path)
        else:
            response = pages.post(path, {"amount": "1", "to": str(objects.member), "reason": "x"})
        assert response.status_code == 404, (method, path, response.status_code)
        assert "Page not found" in response.get_data(as_text=True)
        checked += 1
    assert checked >= 35
    # The same answer as a scheme that does not exist at all.
    missing = pages.get("/s/no-such-scheme/").get_data(as_text=True)
    other = pages.get("/s/beta-surgery/").get_data(as_text=True)
    assert missing == other
    assert ledger_rows(world.app, world.b) == before


@pytest.mark.parametrize(
    "path",
    [
        "/s/alpha-bank/manage/members/{member}",
        "/s/alpha-bank/manage/activities/{activity}",
        "/s/alpha-bank/manage/rewards/{reward}",
        "/s/alpha-bank/redemptions/{redemption}",
        "/s/alpha-bank/manage/transactions/{transaction}/reverse",
        "/s/alpha-bank/manage/imports/{import_id}",
        "/s/alpha-bank/statement?member_id={member}",
        "/s/alpha-bank/manage/?member_id={member}",
        "/s/alpha-bank/listings/{listing}",
        "/s/alpha-bank/listings/{listing}/edit",
        "/s/alpha-bank/responses/{response}",
    ],
)
def test_own_pages_with_another_schemes_ids_are_404(world: World, pages: Pages, path: str) -> None:
    objects = beta_objects(world)
    pages.login(world.a.coordinator)
    response = pages.get(path.format(**vars(objects)))
    assert response.status_code == 404


def test_own_forms_cannot_touch_another_schemes_objects(world: World, pages: Pages) -> None:
    objects = beta_objects(world)
    before = ledger_rows(world.app, world.b)
    pages.login(world.a.coordinator)
    for path in (
        f"/s/alpha-bank/manage/transactions/{objects.transaction}/reverse",
        f"/s/alpha-bank/manage/redemptions/{objects.redemption}/cancel",
        f"/s/alpha-bank/manage/partners/{objects.agreement}/end",
        f"/s/alpha-bank/rewards/{objects.reward}/redeem",
        f"/s/alpha-bank/manage/members/{objects.member}",
        f"/s/alpha-bank/manage/rewards/{objects.reward}",
        f"/s/alpha-bank/listings/{objects.listing}/respond",
        f"/s/alpha-bank/listings/{objects.listing}/close",
        f"/s/alpha-bank/responses/{objects.response}",
        f"/s/alpha-bank/responses/{objects.response}/confirm",
        f"/s/alpha-bank/manage/listings/{objects.listing}/hide",
        f"/s/alpha-bank/manage/listings/categories/{objects.category}",
    ):
        assert pages.post(path, {"quantity": "1", "role": "member"}).status_code == 404, path
    # A claim id of B in the queue form: refused by name, nothing decided.
    response = pages.post(
        "/s/alpha-bank/manage/claims", {"claim_ids": str(objects.claim), "action": "approve"}
    )
    assert response.status_code == 422
    assert "No such claim in this scheme" in response.get_data(as_text=True)
    assert ledger_rows(world.app, world.b) == before
    pending = world.api(world.b.coordinator).get(
        "/api/v1/schemes/beta-surgery/claims?status=pending"
    )
    assert [item["id"] for item in pending.get_json()["items"]] == [objects.claim]


def test_members_cannot_open_coordinator_pages(world: World, pages: Pages) -> None:
    pages.login(world.a.members[0])
    for path in (
        "/s/alpha-bank/manage/",
        "/s/alpha-bank/manage/claims",
        "/s/alpha-bank/manage/rules",
    ):
        response = pages.get(path)
        assert response.status_code == 403
        assert "Only a coordinator" in response.get_data(as_text=True)


def test_signed_out_people_are_sent_to_log_in(world: World, pages: Pages) -> None:
    response = pages.get("/s/alpha-bank/statement")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/s/alpha-bank/statement")
