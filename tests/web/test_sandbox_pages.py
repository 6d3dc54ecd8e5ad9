"""The pages of a sandbox and of the policy dry-run (test client; the browser test of
turning a sandbox live is in ``test_sandbox_browser.py``)."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from tests.factories import World, make_user
from tests.web.conftest import Pages, text
from timebank.platform.db import db
from timebank.tenants.access import ACT_AS_KEY

RULES = {
    "balance_min": "10",
    "balance_max": "",
    "peer_enabled": "yes",
    "peer_max": "1",
    "claims_enabled": "yes",
    "claims_approval": "auto",
    "claims_max": "2",
    "cap_minutes": "3",
    "cap_period": "week",
    "max_age_days": "",
    "rewards_enabled": "yes",
    "expiry_days": "",
    "exchange_enabled": "yes",
    "directory": "full",
}


def sandbox(world: World, person: object, slug: str) -> None:
    response = world.api(person).post(  # type: ignore[arg-type]
        "/api/v1/schemes",
        {"name": "Try Us", "slug": slug, "template": "community", "sandbox": True},
    )
    assert response.status_code == 201, response.data


def member_ids(app: Flask, slug: str) -> list[int]:
    from timebank.platform import tenancy
    from timebank.platform.identity.models import User
    from timebank.platform.schemes.models import Scheme
    from timebank.tenants.memberships.models import Member

    with app.app_context():
        scheme_id = db.session.execute(select(Scheme.id).where(Scheme.slug == slug)).scalar_one()
        with tenancy.scheme_context(scheme_id):
            return list(
                db.session.execute(
                    select(Member.id)
                    .join(User, User.id == Member.user_id)
                    .where(User.email.like("%@sandbox.invalid"))
                    .order_by(Member.id)
                ).scalars()
            )


def test_trying_rules_before_saving_them(world: World, pages: Pages) -> None:
    pages.login(world.a.coordinator)
    api = world.api(world.a.coordinator)
    version = api.get("/api/v1/schemes/alpha-bank/policy").get_json()["version"]
    rules = pages.get("/s/alpha-bank/manage/rules")
    assert "Try them on the last 12 months first" in text(rules)
    tried = pages.post("/s/alpha-bank/manage/rules/try", RULES)
    assert tried.status_code == 200, tried.get_data(as_text=True)[:2000]
    page = text(tried)
    assert "What these rules would have done in the last 12 months" in page
    assert "Nothing has been saved yet" in page
    assert "In force" in page and "Your draft" in page and "earning cap" in page
    assert "3:00 hours a week" in page  # the draft's cap, beside the one in force
    assert api.get("/api/v1/schemes/alpha-bank/policy").get_json()["version"] == version
    # A bad draft: the error beside its field, nothing replayed.
    bad = pages.post("/s/alpha-bank/manage/rules/try", {**RULES, "cap_period": "fortnight"})
    assert bad.status_code == 422
    assert "What these rules would have done" not in text(bad)
    # Another scheme's coordinator cannot try rules here; a member cannot either.
    other = Pages(world.app).login(world.b.coordinator)
    assert other.post("/s/alpha-bank/manage/rules/try", RULES).status_code == 404
    member = Pages(world.app).login(world.a.members[0])
    assert member.post("/s/alpha-bank/manage/rules/try", RULES).status_code == 403


def test_acting_as_a_generated_member_and_back(app: Flask, world: World, pages: Pages) -> None:
    person = make_user(app)
    sandbox(world, person, "try-act")
    pages.login(person)
    overview = pages.get("/s/try-act/sandbox/")
    assert overview.status_code == 200
    assert "Sandbox." in text(overview) and "See the pages as" in text(overview)
    first = member_ids(app, "try-act")[0]
    acted = pages.post(f"/s/try-act/sandbox/act-as/{first}")
    assert acted.status_code == 302
    page = text(pages.get("/s/try-act/"))
    assert "a made-up member" in page and "Back to being" in page
    # While acting, the coordinator's pages are closed (they are a member now).
    assert pages.get("/s/try-act/manage/").status_code == 403
    back = pages.post("/s/try-act/sandbox/act-as/exit")
    assert back.status_code == 302
    assert "a made-up member" not in text(pages.get("/s/try-act/"))
    assert pages.get("/s/try-act/manage/").status_code == 200
    # Someone who is not in the sandbox: a 404, as for any scheme not theirs.
    stranger = Pages(app).login(world.a.coordinator)
    assert stranger.get("/s/try-act/sandbox/").status_code == 404
    assert stranger.post(f"/s/try-act/sandbox/act-as/{first}").status_code == 404


def test_never_acting_as_anyone_in_a_live_scheme(app: Flask, world: World, pages: Pages) -> None:
    a = world.a
    pages.login(a.coordinator)
    assert pages.get(f"/s/{a.slug}/sandbox/").status_code == 404
    target = a.members[0].member_ids[a.slug]
    assert pages.post(f"/s/{a.slug}/sandbox/act-as/{target}").status_code == 404
    # Even a forged session mark is ignored outside a sandbox.
    with pages.client.session_transaction() as session:
        session[ACT_AS_KEY] = {a.slug: target}
    page = text(pages.get(f"/s/{a.slug}/"))
    assert "a made-up member" not in page and "Sandbox." not in page
    assert pages.get(f"/s/{a.slug}/manage/").status_code == 200


def test_starting_a_sandbox_from_the_start_page(app: Flask, pages: Pages) -> None:
    person = make_user(app)
    pages.login(person)
    start = pages.get("/start")
    assert "Try it first as a sandbox" in text(start)
    made = pages.post(
        "/start",
        {"name": "Try Start", "slug": "try-start", "template": "school",
         "timezone": "Europe/London", "sandbox": "yes"},
    )  # fmt: skip
    assert made.status_code == 302, made.get_data(as_text=True)[:2000]
    assert made.headers["Location"].endswith("/s/try-start/sandbox/")
    assert len(member_ids(app, "try-start")) == 10
    for path in ("/s/try-start/", "/s/try-start/manage/", "/s/try-start/manage/rules"):
        assert "Sandbox." in text(pages.get(path)), path
    live = pages.post("/s/try-start/sandbox/go-live")
    assert live.status_code == 302
    assert member_ids(app, "try-start") == []
    assert "Sandbox." not in text(pages.get("/s/try-start/manage/"))
