"""Referrals: a referrer refers a patient who is worked through to "active"; the referrer
sees their own referrals and nothing else of the scheme (404 on every other API route);
another referrer and other schemes see nothing; links refer without signing in."""

from __future__ import annotations

import re
from pathlib import Path

from flask import Flask

from tests.factories import SchemeInfo, World, make_scheme, make_user, problem
from tests.tenants.earning.conftest import audit_actions
from tests.tenants.referrals.support import REFERRAL, age_joining, make_referrer, url


def test_a_referral_from_a_referrer_to_active(app: Flask, world: World, outbox: Path) -> None:
    surgery = world.b  # the surgery template switches referrals on
    lina = make_referrer(world, surgery)
    as_lina = world.api(lina)
    coordinator = world.api(surgery.coordinator)
    # Consent must be true; the reason comes from the fixed list.
    refused = as_lina.post(url(surgery, "referrals"), {**REFERRAL, "consent": False})
    assert refused.status_code == 422 and "consent" in problem(refused)["errors"]
    odd = as_lina.post(url(surgery, "referrals"), {**REFERRAL, "reason": "boredom"})
    assert odd.status_code == 422 and "reason" in problem(odd)["errors"]
    created = as_lina.post(url(surgery, "referrals"), REFERRAL)
    assert created.status_code == 201, created.data
    assert created.get_json()["status"] == "referred"
    referral_id = created.get_json()["id"]

    # The coordinator's queue shows it; the referrer is no member.
    queue = coordinator.get(url(surgery, "referrals")).get_json()["items"]
    assert [(r["id"], r["via"], r["name"]) for r in queue] == [
        (referral_id, "referrer", "Pat Patient")
    ]
    names = [m["name"] for m in coordinator.get(url(surgery, "members")).get_json()["items"]]
    assert lina.name not in names

    def move(status: str, **extra: str) -> object:
        return coordinator.patch(
            url(surgery, f"referrals/{referral_id}"), {"status": status, **extra}
        )

    assert move("contacted").status_code == 200
    # Impossible moves are refused with a clear code.
    back = move("referred")
    assert back.status_code == 422 and "status" in problem(back)["errors"]
    skip = move("active")
    assert skip.status_code == 422 and problem(skip)["code"] == "invalid_transition"
    assert problem(skip)["referral_status"] == "contacted"
    before_mail = len(list(outbox.glob("*.eml"))) if outbox.exists() else 0
    assert move("joined").status_code == 200
    mails = sorted(outbox.glob("*.eml"))
    assert len(mails) == before_mail + 1
    mail = mails[-1].read_text()
    assert lina.email in mail and "has joined" in mail and "Pat" not in mail
    assert move("first_exchange").status_code == 200
    early = move("active")
    assert early.status_code == 422 and problem(early)["code"] == "too_early_for_active"
    age_joining(app, surgery, referral_id, days=92)
    done = move("active")
    assert done.status_code == 200 and done.get_json()["status"] == "active"
    final = move("lost", note="Moved away")
    assert final.status_code == 422 and problem(final)["code"] == "invalid_transition"

    # The referrer follows the state of their own referral.
    own = as_lina.get(url(surgery, "referrals")).get_json()["items"]
    assert [(r["id"], r["status"]) for r in own] == [(referral_id, "active")]
    assert "note" not in own[0] and "referrer_id" not in own[0]
    assert as_lina.get(url(surgery, f"referrals/{referral_id}")).status_code == 200
    # ... but cannot work the queue.
    assert (
        as_lina.patch(url(surgery, f"referrals/{referral_id}"), {"status": "lost"}).status_code
        == 404
    )

    # The audit trail names stages, never the person or the note.
    actions = audit_actions(app, surgery.id)
    assert actions.count("referral.status_changed") == 4
    assert "referral.created" in actions and "referrer.joined" in actions
    assert not re.search("Pat Patient|07700|Moved away", _audit_text(app, surgery))

    # The funnel of the period.
    funnel = coordinator.get(url(surgery, "referrals/funnel")).get_json()
    assert {
        k: funnel[k] for k in ("referred", "contacted", "joined", "first_exchange", "active")
    } == {
        "referred": 1,
        "contacted": 1,
        "joined": 1,
        "first_exchange": 1,
        "active": 1,
    }


def _audit_text(app: Flask, scheme: SchemeInfo) -> str:
    from sqlalchemy import select

    from timebank.platform import tenancy
    from timebank.platform.audit import AuditEvent
    from timebank.platform.db import db

    with app.app_context(), tenancy.scheme_context(scheme.id):
        rows = db.session.execute(select(AuditEvent)).scalars().all()
        return " ".join(f"{r.action} {r.target} {r.details}" for r in rows)


def test_closing_needs_a_reason(world: World) -> None:
    surgery = world.b
    coordinator = world.api(surgery.coordinator)
    created = coordinator.post(url(surgery, "referrals"), REFERRAL).get_json()
    path = url(surgery, f"referrals/{created['id']}")
    missing = coordinator.patch(path, {"status": "declined"})
    assert missing.status_code == 422 and "note" in problem(missing)["errors"]
    declined = coordinator.patch(path, {"status": "declined", "note": "Not ready yet"})
    assert declined.status_code == 200 and declined.get_json()["note"] == "Not ready yet"
    funnel = coordinator.get(url(surgery, "referrals/funnel")).get_json()
    assert funnel["referred"] == 1 and funnel["declined"] == 1 and funnel["contacted"] == 0
    assert (
        coordinator.get(url(surgery, "referrals/funnel?from=2026-02-01&to=2026-01-01")).status_code
        == 422
    )


def test_referrer_sees_nothing_else_and_nobody_else_sees_theirs(app: Flask, world: World) -> None:
    surgery = world.b
    lina = make_referrer(world, surgery)
    omar = make_referrer(world, surgery, name="Omar Other")
    mine = world.api(lina).post(url(surgery, "referrals"), REFERRAL).get_json()["id"]
    # Another referrer of the same scheme sees nothing of it.
    assert world.api(omar).get(url(surgery, "referrals")).get_json()["items"] == []
    assert world.api(omar).get(url(surgery, f"referrals/{mine}")).status_code == 404
    # Another surgery: its coordinator and its referrer see nothing of it.
    other = make_scheme(app, make_user(app), template="surgery", slug="gamma-surgery")
    rita = make_referrer(world, other, name="Rita Elsewhere")
    assert world.api(rita).get(url(other, "referrals")).get_json()["items"] == []
    assert world.api(rita).get(url(other, f"referrals/{mine}")).status_code == 404
    assert world.api(rita).get(url(surgery, "referrals")).status_code == 404
    assert world.api(other.coordinator).get(url(other, "referrals")).get_json()["items"] == []
    assert world.api(other.coordinator).get(url(surgery, f"referrals/{mine}")).status_code == 404
    # A member of the surgery is not a referrer: 403; a stranger 404.
    member = world.api(surgery.members[0])
    assert problem(member.get(url(surgery, "referrals")))["code"] == "coordinator_only"
    assert world.api(world.a.members[0]).get(url(surgery, "referrals")).status_code == 404

    # Every other scheme API route answers the referrer 404, as to a stranger.
    allowed = {
        "referrals.create_referral",
        "referrals.referrals",
        "referrals.referral",
    }
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/schemes/<slug>") or rule.endpoint in allowed:
            continue
        path = re.sub(
            r"<(?:int:)?(\w+)>", lambda m: surgery.slug if m.group(1) == "slug" else "1", rule.rule
        )
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            response = world.api(lina).client.open(
                path,
                method=method,
                json={},
                headers={**lina.headers, "Idempotency-Key": f"k{checked}"},
            )
            assert response.status_code == 404, (method, path, response.status_code)
            checked += 1
    assert checked >= 60
    # The scheme, its balance and its members are as unknown to the referrer as a stranger.
    assert world.api(lina).get("/api/v1/me").get_json()["memberships"] == []


def test_referral_links_refer_without_signing_in_until_revoked(app: Flask, world: World) -> None:
    surgery = world.b
    coordinator = world.api(surgery.coordinator)
    made = coordinator.post(url(surgery, "referral-links"), {"label": "Reception desk"})
    assert made.status_code == 201, made.data
    link = made.get_json()
    assert link["url"].endswith(f"/refer/{link['token']}")
    anyone = world.api(None)
    created = anyone.post(f"/api/v1/referral-links/{link['token']}/referrals", REFERRAL)
    assert created.status_code == 201, created.data
    queue = coordinator.get(url(surgery, "referrals")).get_json()["items"]
    assert [(r["via"], r["link_id"]) for r in queue] == [("link", link["id"])]
    listed = coordinator.get(url(surgery, "referral-links")).get_json()["items"]
    assert [(i["label"], i["revoked_at"]) for i in listed] == [("Reception desk", None)]
    assert "token" not in listed[0] or listed[0]["token"] is None
    # Revoked: the link refers nobody any more (nor does a made-up one).
    assert (
        coordinator.client.delete(
            url(surgery, f"referral-links/{link['id']}"), headers=surgery.coordinator.headers
        ).status_code
        == 204
    )
    gone = anyone.post(f"/api/v1/referral-links/{link['token']}/referrals", REFERRAL)
    assert gone.status_code == 410 and problem(gone)["code"] == "referral_link_invalid"
    assert anyone.post("/api/v1/referral-links/made-up/referrals", REFERRAL).status_code == 410
    # Another scheme's coordinator cannot revoke or list it.
    alpha = world.api(world.a.coordinator)
    assert alpha.client.delete(
        url(world.a, f"referral-links/{link['id']}"), headers=world.a.coordinator.headers
    ).status_code in (403, 404)
    assert alpha.get(url(surgery, "referral-links")).status_code == 404


def test_referrals_are_off_unless_the_policy_has_them(world: World) -> None:
    community = world.a
    refused = world.api(community.coordinator).post(url(community, "referrals"), REFERRAL)
    assert refused.status_code == 403 and problem(refused)["code"] == "referrals_disabled"
