"""A coordinator's pages: the claims queue, members, imports, awards, catalogue, rules,
reversals, partner agreements and the dashboard. Nothing reaches the other scheme."""

from __future__ import annotations

import io
from pathlib import Path

from tests.factories import World, fund
from tests.web.conftest import Pages, text
from tests.web.support import activity_id, balance, claim, ledger_rows, reward_id


def test_approving_several_claims_at_once(world: World, pages: Pages) -> None:
    ann, arthur = world.a.members
    before_b = ledger_rows(world.app, world.b)
    clean_up = activity_id(world, world.a, "Community clean-up day")
    first = claim(world, world.a, ann, 60, clean_up)
    second = claim(world, world.a, arthur, 90, clean_up)
    pages.login(world.a.coordinator)
    queue = text(pages.get("/s/alpha-bank/manage/claims"))
    assert "Ann Alpha" in queue and "Arthur Alpha" in queue
    response = pages.post(
        "/s/alpha-bank/manage/claims",
        {"claim_ids": [str(first["id"]), str(second["id"])], "action": "approve"},
    )
    assert response.status_code == 302
    assert "2 claims approved." in text(pages.get("/s/alpha-bank/manage/claims"))
    assert balance(world, ann, world.a) == 60 and balance(world, arthur, world.a) == 90
    assert ledger_rows(world.app, world.b) == before_b


def test_refusing_claims_with_a_reason_the_member_sees(
    world: World, pages: Pages, outbox: Path
) -> None:
    ann = world.a.members[0]
    made = claim(world, world.a, ann, 60, activity_id(world, world.a, "Community clean-up day"))
    pages.login(world.a.coordinator)
    pages.post(
        "/s/alpha-bank/manage/claims",
        {
            "claim_ids": str(made["id"]),
            "action": "reject",
            "reason": "Log it as helping a neighbour",
        },
    )
    member = Pages(world.app).login(ann)
    page = text(member.get("/s/alpha-bank/log-hours"))
    assert "not approved" in page and "Log it as helping a neighbour" in page
    assert balance(world, ann, world.a) == 0


def test_the_queue_names_each_claim_it_could_not_decide(world: World, pages: Pages) -> None:
    from tests.factories import add_member, make_user

    second = make_user(world.app, name="Cora Coordinator")
    add_member(world.app, world.a, second, role="coordinator")
    clean_up = activity_id(world, world.a, "Community clean-up day")
    own = claim(world, world.a, world.a.coordinator, 60, clean_up)
    other = claim(world, world.a, world.a.members[0], 60, clean_up)
    pages.login(world.a.coordinator)
    response = pages.post(
        "/s/alpha-bank/manage/claims",
        {"claim_ids": [str(own["id"]), str(other["id"])], "action": "approve"},
    )
    assert response.status_code == 422
    page = text(response)
    assert f"Claim {own['id']}: You cannot decide your own claim; another coordinator must." in page
    assert "Ann Alpha's 1:00 hours: approved." in page
    nothing = pages.post("/s/alpha-bank/manage/claims", {"action": "approve"})
    assert "Tick at least one claim." in text(nothing)


def test_inviting_a_member(world: World, pages: Pages, outbox: Path) -> None:
    pages.login(world.a.coordinator)
    bad = pages.post("/s/alpha-bank/manage/invitations", {"email": "nope", "role": "member"})
    assert bad.status_code == 422 and "Enter an e-mail address like name@example.org." in text(bad)
    assert 'value="nope"' in bad.get_data(as_text=True)
    done = pages.post(
        "/s/alpha-bank/manage/invitations", {"email": "zoe@example.test", "role": "member"}
    )
    assert done.status_code == 302
    page = text(pages.get("/s/alpha-bank/manage/members"))
    assert "Invitation sent to zoe@example.test." in page and "zoe@example.test (member)" in page
    assert any(b"zoe@example.test" in p.read_bytes() for p in outbox.glob("*.eml"))


def test_importing_members_from_csv_shows_progress(world: World, pages: Pages) -> None:
    pages.login(world.a.coordinator)
    csv = "name,email,role\nZoe Z,zoe@example.test,member\nBad Row,not-an-email,member\n"
    response = pages.post(
        "/s/alpha-bank/manage/imports",
        {"file": (io.BytesIO(csv.encode()), "people.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    page = pages.get(response.headers["Location"])
    html = page.get_data(as_text=True)
    assert 'data-url="/api/v1/schemes/alpha-bank/imports/' in html
    assert "import-progress.js" in html
    body = text(page)
    # No Redis in these tests: the job ran inline, so the import is already done.
    assert "2 of 2 rows done: 1 invited" in body and "Finished." in body
    assert "not-an-email" not in body or "email" in body
    empty = pages.post(
        "/s/alpha-bank/manage/imports",
        {"file": (io.BytesIO(b"name,email,role\n"), "empty.csv")},
        content_type="multipart/form-data",
    )
    assert empty.status_code == 422 and "The file has a header but no rows." in text(empty)
    missing = pages.post("/s/alpha-bank/manage/imports", {}, content_type="multipart/form-data")
    assert "Choose a CSV file to upload." in text(missing)


def test_changing_a_members_role_status_and_limits(world: World, pages: Pages) -> None:
    ann = world.a.members[0]
    member_id = ann.member_ids["alpha-bank"]
    pages.login(world.a.coordinator)
    form = {"role": "member", "status": "suspended", "min_balance": "2", "max_balance": ""}
    assert pages.post(f"/s/alpha-bank/manage/members/{member_id}", form).status_code == 302
    limits = world.api(world.a.coordinator).get(
        f"/api/v1/schemes/alpha-bank/balance?member_id={member_id}"
    )
    assert limits.get_json()["min_balance"] == -120
    member = Pages(world.app).login(ann)
    refused = member.post("/s/alpha-bank/pay?form=give", {"to": "pot", "amount": "1"})
    assert refused.status_code == 403
    assert "Your membership of this scheme is suspended; ask a coordinator." in text(refused)
    bad = pages.post(
        f"/s/alpha-bank/manage/members/{member_id}",
        {"role": "member", "status": "active", "min_balance": "lots", "max_balance": ""},
    )
    assert bad.status_code == 422 and "Write the limit in hours" in text(bad)
    last = pages.post(
        f"/s/alpha-bank/manage/members/{world.a.coordinator.member_ids['alpha-bank']}",
        {"role": "member", "status": "active", "min_balance": "", "max_balance": ""},
    )
    assert last.status_code == 422
    assert "A scheme needs at least one active coordinator" in text(last)


def test_bulk_award(world: World, pages: Pages) -> None:
    ann, arthur = world.a.members
    clean_up = activity_id(world, world.a, "Community clean-up day")
    pages.login(world.a.coordinator)
    response = pages.post(
        "/s/alpha-bank/manage/award",
        {
            "activity_id": clean_up,
            "hours": "3",
            "member_ids": [ann.member_ids["alpha-bank"], arthur.member_ids["alpha-bank"]],
            "note": "Saturday",
        },
    )
    assert response.status_code == 302
    assert "Credited 3:00 hours to 2 members." in text(pages.get("/s/alpha-bank/manage/award"))
    assert balance(world, ann, world.a) == 180 and balance(world, arthur, world.a) == 180
    nobody = pages.post("/s/alpha-bank/manage/award", {"activity_id": clean_up, "hours": "3"})
    assert nobody.status_code == 422 and "Tick the members who took part." in text(nobody)


def test_activities_and_rewards_catalogue(world: World, pages: Pages) -> None:
    pages.login(world.a.coordinator)
    bad = pages.post(
        "/s/alpha-bank/manage/activities", {"name": "Gardening", "rate": "lots", "approval": "auto"}
    )
    assert bad.status_code == 422
    assert 'Must be a decimal number written as a string, such as "1"' in text(bad)
    assert 'value="Gardening"' in bad.get_data(as_text=True)
    good = pages.post(
        "/s/alpha-bank/manage/activities", {"name": "Gardening", "rate": "1.5", "approval": "auto"}
    )
    assert good.status_code == 302
    gardening = activity_id(world, world.a, "Gardening")
    assert pages.get(f"/s/alpha-bank/manage/activities/{gardening}").status_code == 200
    pages.post(
        f"/s/alpha-bank/manage/activities/{gardening}",
        {"name": "Gardening", "rate": "1.5", "approval": "auto", "active": ""},
    )
    member = Pages(world.app).login(world.a.members[0])
    assert "Gardening" not in member.get("/s/alpha-bank/log-hours").get_data(as_text=True)

    no_price = pages.post("/s/alpha-bank/manage/rewards", {"name": "Bike repair", "price": ""})
    assert no_price.status_code == 422 and "Enter the time in hours" in text(no_price)
    added = pages.post(
        "/s/alpha-bank/manage/rewards",
        {
            "name": "Bike repair",
            "price": "1:30",
            "stock": "5",
            "limit_quantity": "1",
            "limit_period": "month",
        },
    )
    assert added.status_code == 302
    bike = reward_id(world, world.a, "Bike repair")
    assert "Bike repair" in text(member.get("/s/alpha-bank/rewards"))
    assert pages.get(f"/s/alpha-bank/manage/rewards/{bike}").status_code == 200
    # The other scheme's catalogue is untouched.
    names = [
        r["name"]
        for r in world.api(world.b.coordinator)
        .get("/api/v1/schemes/beta-surgery/rewards")
        .get_json()["items"]
    ]
    assert "Bike repair" not in names


def test_handing_over_and_cancelling_redemptions(world: World, pages: Pages) -> None:
    ann = world.a.members[0]
    fund(world.app, world.a, ann, 600)
    parcel = reward_id(world, world.a, "Basic food parcel")
    made = [
        world.api(ann)
        .post("/api/v1/schemes/alpha-bank/redemptions", {"reward_id": parcel})
        .get_json()
        for _ in range(2)
    ]
    pages.login(world.a.coordinator)
    assert made[0]["code"] in text(pages.get("/s/alpha-bank/manage/rewards"))
    pages.post(f"/s/alpha-bank/manage/redemptions/{made[0]['id']}/fulfil")
    pages.post(f"/s/alpha-bank/manage/redemptions/{made[1]['id']}/cancel")
    page = text(pages.get("/s/alpha-bank/manage/rewards"))
    assert f"Code {made[1]['code']}: cancelled and the hours given back." in page
    assert balance(world, ann, world.a) == 600 - 60
    again = pages.post(f"/s/alpha-bank/manage/redemptions/{made[1]['id']}/cancel")
    assert "was already cancelled and refunded" in text(pages.get(again.headers["Location"]))


def test_the_rules_form(world: World, pages: Pages) -> None:
    pages.login(world.a.coordinator)
    page = pages.get("/s/alpha-bank/manage/rules").get_data(as_text=True)
    assert 'id="balance_min" name="balance_min" type="text" value="10:00"' in page
    form = {
        "balance_min": "10",
        "balance_max": "5",
        "peer_enabled": "yes",
        "peer_max": "20",
        "claims_enabled": "yes",
        "claims_approval": "coordinator",
        "claims_max": "8",
        "cap_minutes": "80",
        "cap_period": "fortnight",
        "max_age_days": "60",
        "rewards_enabled": "yes",
        "expiry_days": "365",
        "exchange_enabled": "yes",
        "directory": "full",
    }
    refused = pages.post("/s/alpha-bank/manage/rules", form)
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert 'id="cap_period-error"' in html and "Must be one of: week, month, year." in text(refused)
    assert 'value="5"' in html
    version = (
        world.api(world.a.coordinator)
        .get("/api/v1/schemes/alpha-bank/policy")
        .get_json()["version"]
    )
    form["cap_period"] = "week"
    form["balance_max"] = ""
    form["wellbeing_scale"] = "swemwbs"
    form["wellbeing_every"] = "3"
    assert pages.post("/s/alpha-bank/manage/rules", form).status_code == 302
    saved = world.api(world.a.coordinator).get("/api/v1/schemes/alpha-bank/policy").get_json()
    assert saved["version"] == version + 1
    assert saved["claims"]["approval"] == "coordinator"
    assert saved["claims"]["cap"] == {"minutes": 4800, "period": "week"}
    assert saved["wellbeing"] == {"scale": "swemwbs", "every_months": 3}
    history = text(pages.get("/s/alpha-bank/manage/rules"))
    assert f"Saved the rules (version {version + 1})." in history
    assert "who approves hours" in history and "first rules" in history
    beta = world.api(world.b.coordinator).get("/api/v1/schemes/beta-surgery/policy").get_json()
    assert beta["version"] == 1


def test_reversing_a_transaction(world: World, pages: Pages) -> None:
    ann, arthur = world.a.members
    paid = (
        world.api(ann)
        .post(
            "/api/v1/schemes/alpha-bank/transfers",
            {"to_member_id": arthur.member_ids["alpha-bank"], "amount": 45},
        )
        .get_json()
    )
    pages.login(world.a.coordinator)
    assert "Payment: Ann Alpha → Arthur Alpha" in text(
        pages.get("/s/alpha-bank/manage/transactions")
    )
    confirm = text(pages.get(f"/s/alpha-bank/manage/transactions/{paid['id']}/reverse"))
    assert f"Reverse entry {paid['id']}?" in confirm
    done = pages.post(
        f"/s/alpha-bank/manage/transactions/{paid['id']}/reverse", {"memo": "paid twice"}
    )
    assert done.status_code == 302
    assert balance(world, ann, world.a) == 0 and balance(world, arthur, world.a) == 0
    again = pages.post(f"/s/alpha-bank/manage/transactions/{paid['id']}/reverse", {})
    assert again.status_code == 422
    assert "This transaction has already been reversed." in text(again)


def test_proposing_and_accepting_an_agreement(world: World, pages: Pages) -> None:
    pages.login(world.a.coordinator)
    bad = pages.post(
        "/s/alpha-bank/manage/partners", {"partner": "nowhere", "rate": "1", "limit": "10"}
    )
    assert bad.status_code == 422 and "No scheme with this address." in text(bad)
    done = pages.post(
        "/s/alpha-bank/manage/partners", {"partner": "beta-surgery", "rate": "1", "limit": "10"}
    )
    assert done.status_code == 302
    page = text(pages.get("/s/alpha-bank/manage/partners"))
    assert "Proposed an agreement to Beta Surgery." in page and "waiting for them" in page
    beta = Pages(world.app).login(world.b.coordinator)
    listed = (
        world.api(world.b.coordinator).get("/api/v1/schemes/beta-surgery/agreements").get_json()
    )
    agreement = listed["items"][0]["id"]
    assert "waiting for you" in text(beta.get("/s/beta-surgery/manage/partners"))
    proposer_accepts = pages.post(f"/s/alpha-bank/manage/partners/{agreement}/accept")
    assert "Only the partner scheme's coordinator can accept" in text(
        pages.get(proposer_accepts.headers["Location"])
    )
    beta.post(f"/s/beta-surgery/manage/partners/{agreement}/accept")
    assert "is now active" in text(beta.get("/s/beta-surgery/manage/partners"))


def test_the_dashboard_counts_and_csv(world: World, pages: Pages) -> None:
    ann = world.a.members[0]
    helping = activity_id(world, world.a, "Helping a neighbour")
    claim(world, world.a, ann, 120, helping)  # credited at once
    fund(world.app, world.a, ann, 600)
    parcel = reward_id(world, world.a, "Basic food parcel")
    world.api(ann).post("/api/v1/schemes/alpha-bank/redemptions", {"reward_id": parcel})
    fund(world.app, world.b, world.b.members[0], 6000)  # the other scheme's activity
    pages.login(world.a.coordinator)
    page = pages.get(f"/s/alpha-bank/manage/?member_id={ann.member_ids['alpha-bank']}")
    html = page.get_data(as_text=True)
    assert html.count("<svg") == 3  # hours, active members, one member's given/received
    body = text(page)
    assert "Helping a neighbour 2:00 hours" in body
    assert "3 active members" in body
    assert "Ann Alpha: hours given and received" in body
    csv = pages.get("/s/alpha-bank/manage/report.csv").get_data(as_text=True).splitlines()
    assert csv[0].startswith("week_starting,minutes_earned,minutes_spent")
    assert len(csv) == 53
    assert csv[-1].split(",")[1:3] == ["120", "60"]
    assert csv[-1].split(",")[4] == "1"
