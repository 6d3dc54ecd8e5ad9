"""The impact report pages, their CSVs and the funder pack (coordinators only), and the
wellbeing pages: a member answers or skips and sees only their own answers; a coordinator
enters a member's from paper. Nothing of one scheme shows in the other."""

from __future__ import annotations

from flask import Flask

from tests.factories import World, fund, make_operator
from tests.tenants.partners.support import add_offer, make_partner, redeem
from tests.tenants.reports.test_breakdowns import award, new_group, record_ages
from tests.web.conftest import Pages, text


def switch_on(world: World, scale: str) -> None:
    api = world.api(world.a.coordinator)
    document = api.get(f"/api/v1/schemes/{world.a.slug}/policy").get_json()
    document["wellbeing"] = {"scale": scale, "every_months": 6}
    assert api.put(f"/api/v1/schemes/{world.a.slug}/policy", json=document).status_code == 200


def test_the_report_page_shows_people_helped_for_a_period(
    app: Flask, world: World, pages: Pages
) -> None:
    ann, arthur = world.a.members
    fund(app, world.a, ann, 120)
    response = world.api(ann).post(
        f"/api/v1/schemes/{world.a.slug}/transfers",
        json={"to_member_id": arthur.member_ids[world.a.slug], "amount": 60},
    )
    assert response.status_code == 201
    pages.login(world.a.coordinator)
    page = text(pages.get("/s/alpha-bank/manage/impact/?preset=year"))
    assert "1 people helped" in page and "1 people helping" in page
    assert "Members active each month" in page and "Hours given and spent" in page
    for preset in ("month", "quarter", "launch"):
        assert pages.get(f"/s/alpha-bank/manage/impact/?preset={preset}").status_code == 200
    bad = pages.get("/s/alpha-bank/manage/impact/?from=2026-05-02&to=2026-05-01")
    assert bad.status_code == 422 and "The end must not be before the start." in text(bad)
    csv = pages.get("/s/alpha-bank/manage/impact/figures.csv?preset=year")
    assert csv.mimetype == "text/csv" and ",people_helped,1" in csv.get_data(as_text=True)
    assert pages.get("/s/alpha-bank/manage/impact/nonsense.csv").status_code == 404
    pack = pages.get("/s/alpha-bank/manage/impact/pack?preset=year")
    assert "<svg" in pack.get_data(as_text=True)
    assert "Alpha Time Bank" in text(pack) and "Our impact" in text(pack)
    # A member: 403; another scheme's coordinator: 404.
    pages.login(ann)
    assert pages.get("/s/alpha-bank/manage/impact/").status_code == 403
    assert pages.get("/s/alpha-bank/manage/impact/pack").status_code == 403
    pages.login(world.b.coordinator)
    assert pages.get("/s/alpha-bank/manage/impact/").status_code == 404
    assert "1 people helped" not in text(pages.get("/s/beta-surgery/manage/impact/?preset=year"))


def test_the_operator_sees_figures_across_schemes(app: Flask, world: World, pages: Pages) -> None:
    operator = make_operator(app)
    pages.login(operator)
    page = text(pages.get("/operator/impact?preset=launch"))
    assert "Alpha Time Bank" in page and "Beta Surgery" in page and "All schemes" in page
    pages.login(world.a.coordinator)
    assert pages.get("/operator/impact").status_code == 403


def test_a_member_answers_skips_and_sees_only_their_own(world: World, pages: Pages) -> None:
    switch_on(world, "swemwbs")
    ann, arthur = world.a.members
    pages.login(ann)
    assert "Answer a few short questions" in text(pages.get("/s/alpha-bank/"))
    page = text(pages.get("/s/alpha-bank/wellbeing/"))
    assert "I've been feeling optimistic about the future" in page
    incomplete = pages.post("/s/alpha-bank/wellbeing/", {"q0": "4", "action": "answer"})
    assert incomplete.status_code == 422 and "Answer all 7 questions." in text(incomplete)
    answers = {f"q{index}": "4" for index in range(7)}
    done = pages.post("/s/alpha-bank/wellbeing/", {**answers, "consent": "yes", "action": "answer"})
    assert done.status_code == 302
    page = text(pages.get("/s/alpha-bank/wellbeing/"))
    assert "25.03 (raw 28 of 35)" in page
    assert "Answer a few short questions" not in text(pages.get("/s/alpha-bank/"))
    # Arthur skips, and sees none of Ann's answers.
    pages.login(arthur)
    assert pages.post("/s/alpha-bank/wellbeing/", {"action": "skip"}).status_code == 302
    page = text(pages.get("/s/alpha-bank/wellbeing/"))
    assert "25.03" not in page and "No answers yet." in page
    ann_id = ann.member_ids[world.a.slug]
    assert pages.get(f"/s/alpha-bank/wellbeing/member/{ann_id}").status_code == 403
    # The coordinator sees Ann's and enters Arthur's from paper.
    pages.login(world.a.coordinator)
    assert "25.03" in text(pages.get(f"/s/alpha-bank/wellbeing/member/{ann_id}"))
    arthur_id = arthur.member_ids[world.a.slug]
    entered = pages.post(
        f"/s/alpha-bank/wellbeing/member/{arthur_id}", {f"q{i}": "3" for i in range(7)}
    )
    assert entered.status_code == 302
    assert "19.25 (raw 21 of 35)" in text(pages.get(f"/s/alpha-bank/wellbeing/member/{arthur_id}"))
    # Another scheme: its coordinator finds no such member.
    pages.login(world.b.coordinator)
    assert pages.get(f"/s/beta-surgery/wellbeing/member/{ann_id}").status_code == 404
    assert pages.get(f"/s/alpha-bank/wellbeing/member/{ann_id}").status_code == 404


def test_the_report_and_pack_show_the_breakdowns_with_their_tables(
    app: Flask, world: World, pages: Pages
) -> None:
    ann, arthur = world.a.members
    ann_id, arthur_id = ann.member_ids[world.a.slug], arthur.member_ids[world.a.slug]
    store = make_partner(world, world.a, name="Corner Food Store")
    offer = add_offer(world, store, price=90)
    fund(app, world.a, ann, 300)
    assert redeem(world, ann, world.a, offer["id"]).status_code == 201
    new_group(world, world.a, "Blue Class", [ann_id, arthur_id])
    award(world, world.a, [ann_id, arthur_id], 45)
    pages.login(world.a.coordinator)
    page = text(pages.get("/s/alpha-bank/manage/impact/?preset=year"))
    assert "Hours spent by partner" in page and "Corner Food Store" in page
    assert "Hours given by members of each group" in page and "Blue Class" in page
    assert "Members by age band" not in page  # nobody's age is recorded yet: no chart, no CSV
    record_ages(app, world.a.id, {ann_id: (None, "16_17")})
    pack = pages.get("/s/alpha-bank/manage/impact/pack?preset=year")
    body = pack.get_data(as_text=True)
    assert 'id="partners-chart-title"' in body and 'id="groups-chart-title"' in body
    assert 'id="age-bands-chart-title"' in body and "16 and 17" in text(pack)
    for name in ("partners", "groups", "age_bands"):
        csv = pages.get(f"/s/alpha-bank/manage/impact/{name}.csv?preset=year")
        assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert "Blue Class" in pages.get("/s/alpha-bank/manage/impact/groups.csv").get_data(
        as_text=True
    )
    # Another scheme's coordinator: 404 on A's tables, and nothing of A's in their own.
    pages.login(world.b.coordinator)
    assert pages.get("/s/alpha-bank/manage/impact/partners.csv").status_code == 404
    own = text(pages.get("/s/beta-surgery/manage/impact/?preset=year"))
    assert "Corner Food Store" not in own and "Blue Class" not in own
