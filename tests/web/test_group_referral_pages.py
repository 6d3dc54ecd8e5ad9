"""Pages of groups, goals and referrals: a class awarded from its page; a referrer's pages
(their own referrals only; every other page of the scheme a 404); the coordinator's queue
and the funnel on the dashboard; the public referral link."""

from __future__ import annotations

import re

from flask import Flask

from tests.factories import World, add_member, make_scheme, make_user
from tests.tenants.referrals.support import REFERRAL, make_referrer
from tests.web.conftest import Pages, text
from tests.web.support import beta_objects
from tests.web.test_page_tenancy import fill, scheme_rules


def test_a_coordinator_makes_a_class_and_awards_it_from_the_pages(
    app: Flask, world: World, pages: Pages
) -> None:
    teacher = make_user(app, name="Tess Teacher")
    school = make_scheme(app, teacher, template="school", slug="oak-school")
    pupils = [make_user(app, name=f"Pupil {n}") for n in range(3)]
    ids = [add_member(app, school, pupil) for pupil in pupils]
    pages.login(teacher)
    base = "/s/oak-school/manage"
    made = pages.post(f"{base}/groups", {"name": "Class 4", "kind": "class"})
    assert made.status_code == 302, text(made)
    group_id = int(made.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    saved = pages.post(f"{base}/groups/{group_id}", {"member_ids": [str(i) for i in ids]})
    assert saved.status_code == 302
    assert "Class 4 now has 3 members." in text(pages.get(saved.headers["Location"]))
    activity = world.api(school.coordinator).get("/api/v1/schemes/oak-school/activities")
    tutoring = activity.get_json()["items"][0]["id"]
    award_page = pages.get(f"{base}/groups/{group_id}/award")
    assert "Each of the 3 members of Class 4" in text(award_page)
    awarded = pages.post(
        f"{base}/groups/{group_id}/award",
        {"activity_id": str(tutoring), "hours": "1", "note": "Spelling bee"},
    )
    assert awarded.status_code == 302, text(awarded)
    assert "to each of the 3 members of Class 4" in text(pages.get(awarded.headers["Location"]))
    for pupil in pupils:
        body = world.api(pupil).get("/api/v1/schemes/oak-school/balance").get_json()
        assert body["balance"] == 60
    listing = text(pages.get(f"{base}/groups"))
    assert "Class 4" in listing and "Only coordinators see this table" in listing
    # Goals: the computer is a goal reward; a pupil picks it; the coordinator sees them.
    rewards = world.api(pupils[0]).get("/api/v1/schemes/oak-school/rewards").get_json()["items"]
    computer = next(r for r in rewards if r["goal"])
    world.api(pupils[0]).put("/api/v1/schemes/oak-school/goal", {"reward_id": computer["id"]})
    goals = text(pages.get(f"{base}/goals"))
    assert "Pupil 0" in goals and "Recycled computer" in goals and "2%" in goals
    assert "Goal" in text(pages.get(f"{base}/rewards"))
    # Another scheme's coordinator: 404 on these pages.
    other = Pages(app).login(world.a.coordinator)
    assert other.get(f"{base}/groups/{group_id}").status_code == 404
    assert other.get(f"/s/{world.a.slug}/manage/groups/{group_id}").status_code == 403


def test_a_referrer_sees_only_their_referrals_and_every_other_page_is_404(
    app: Flask, world: World, pages: Pages
) -> None:
    objects = beta_objects(world)  # B, the surgery, with a referral of its coordinator's
    b = world.b
    lina = make_referrer(world, b)
    pages.login(lina)
    home = text(pages.get("/"))
    assert "Beta Surgery: your referrals" in home
    page = pages.get(f"/s/{b.slug}/referrals/")
    assert page.status_code == 200
    assert "not referred anyone yet" in text(page) and "Pat Patient" not in text(page)
    refused = pages.post(
        f"/s/{b.slug}/referrals/",
        {"name": "Sam Smith", "contact": "sam@example.test", "reason": "bereavement"},
    )
    assert refused.status_code == 422 and "must agree to be referred" in text(refused)
    sent = pages.post(
        f"/s/{b.slug}/referrals/",
        {
            "name": "Sam Smith",
            "contact": "sam@example.test",
            "reason": "bereavement",
            "consent": "yes",
        },
    )
    assert sent.status_code == 302
    mine = text(pages.get(f"/s/{b.slug}/referrals/"))
    assert "Sam Smith" in mine and "Referred" in mine and "Pat Patient" not in mine

    # Every other page of the scheme: 404, as to a stranger.
    allowed = {"/s/<slug>/referrals/"}
    checked = 0
    for rule, method in scheme_rules(app):
        if rule in allowed:
            continue
        path = fill(rule, b.slug, objects)
        response = pages.get(path) if method == "GET" else pages.post(path, {"status": "lost"})
        assert response.status_code == 404, (method, path, response.status_code)
        checked += 1
    assert checked >= 40
    # Another referrer of the scheme sees nothing of Lina's.
    omar = make_referrer(world, b, name="Omar Other")
    theirs = text(Pages(app).login(omar).get(f"/s/{b.slug}/referrals/"))
    assert "Sam Smith" not in theirs and "Pat Patient" not in theirs
    # Another scheme's coordinator: 404 on B's referral pages.
    alpha = Pages(app).login(world.a.coordinator)
    assert alpha.get(f"/s/{b.slug}/referrals/").status_code == 404


def test_the_queue_moves_referrals_and_the_dashboard_draws_the_funnel(
    app: Flask, world: World, pages: Pages
) -> None:
    b = world.b
    lina = make_referrer(world, b)
    made = world.api(lina).post(f"/api/v1/schemes/{b.slug}/referrals", REFERRAL).get_json()
    pages.login(b.coordinator)
    queue = text(pages.get(f"/s/{b.slug}/referrals/"))
    assert "Pat Patient" in queue and "07700 900123" in queue and "by a referrer" in queue
    moved = pages.post(f"/s/{b.slug}/referrals/{made['id']}", {"status": "contacted"})
    assert moved.status_code == 302
    assert "is now: contacted" in text(pages.get(moved.headers["Location"]))
    wrong = pages.post(f"/s/{b.slug}/referrals/{made['id']}", {"status": "active"})
    assert "was not changed" in text(pages.get(wrong.headers["Location"]))
    closed = pages.post(f"/s/{b.slug}/referrals/{made['id']}", {"status": "lost"})
    assert "Say why" in text(pages.get(closed.headers["Location"]))
    dashboard = pages.get(f"/s/{b.slug}/manage/")
    body = dashboard.get_data(as_text=True)
    assert "referral-funnel" in body and "<svg" in body
    table = re.search(r'id="referral-funnel.*?</table>', body, re.S)
    assert table is not None and "Contacted" in table.group(0)
    # A member of the scheme (not a coordinator, not a referrer) may not open the queue.
    member = Pages(app).login(b.members[0])
    assert member.get(f"/s/{b.slug}/referrals/").status_code == 403


def test_a_referral_link_refers_without_signing_in_until_withdrawn(
    app: Flask, world: World, pages: Pages
) -> None:
    b = world.b
    pages.login(b.coordinator)
    made = pages.post(f"/s/{b.slug}/referrals/links", {"label": "Reception desk"})
    assert made.status_code == 200
    link = re.search(r"/refer/([\w-]+)", made.get_data(as_text=True))
    assert link is not None
    anyone = Pages(app)
    form = anyone.get(f"/refer/{link.group(1)}")
    assert form.status_code == 200 and "Refer someone to Beta Surgery" in text(form)
    sent = anyone.post(f"/refer/{link.group(1)}", {**REFERRAL, "consent": "yes"})
    assert sent.status_code == 200 and "the referral has been sent" in text(sent)
    assert "Pat Patient" in text(pages.get(f"/s/{b.slug}/referrals/"))
    listed = world.api(b.coordinator).get(f"/api/v1/schemes/{b.slug}/referral-links").get_json()
    link_id = listed["items"][0]["id"]
    pages.post(f"/s/{b.slug}/referrals/links/{link_id}/revoke")
    assert anyone.get(f"/refer/{link.group(1)}").status_code == 410


def test_a_removed_referrer_sees_nothing_any_more(app: Flask, world: World, pages: Pages) -> None:
    b = world.b
    lina = make_referrer(world, b)
    world.api(lina).post(f"/api/v1/schemes/{b.slug}/referrals", REFERRAL)
    pages.login(b.coordinator)
    listed = text(pages.get(f"/s/{b.slug}/referrals/links"))
    assert lina.name in listed and "referring" in listed
    referrers = world.api(b.coordinator).get(f"/api/v1/schemes/{b.slug}/referrers").get_json()
    removed = pages.post(f"/s/{b.slug}/referrals/referrers/{referrers['items'][0]['id']}/remove")
    assert removed.status_code == 302
    assert Pages(app).login(lina).get(f"/s/{b.slug}/referrals/").status_code == 404
    assert world.api(lina).get(f"/api/v1/schemes/{b.slug}/referrals").status_code == 404
    # Their referral stays in the queue.
    assert "Pat Patient" in text(pages.get(f"/s/{b.slug}/referrals/"))


def test_the_rules_page_switches_groups_and_referrals_and_keeps_other_sections(
    app: Flask, world: World, pages: Pages
) -> None:
    school = make_scheme(app, make_user(app), template="school", slug="elm-school")
    pages.login(school.coordinator)
    page = pages.get("/s/elm-school/manage/rules").get_data(as_text=True)
    assert 'name="groups_enabled" value="yes" checked' in page
    form = {
        "balance_min": "0",
        "claims_enabled": "yes",
        "claims_approval": "coordinator",
        "claims_max": "2",
        "cap_minutes": "5",
        "cap_period": "week",
        "rewards_enabled": "yes",
        "directory": "first_names",
        "groups_enabled": "yes",
        "league_table": "yes",
        "referrals_enabled": "yes",
    }
    assert pages.post("/s/elm-school/manage/rules", form).status_code == 302
    saved = world.api(school.coordinator).get("/api/v1/schemes/elm-school/policy").get_json()
    assert saved["groups"] == {"enabled": True, "league_table": True}
    assert saved["referrals"] == {"enabled": True}
    # The listings section, not on this form, is kept as the school template set it.
    assert saved["listings"]["brokered"] is True and saved["listings"]["approval"] == "coordinator"
    assert "Referrals" in text(pages.get("/s/elm-school/manage/"))
