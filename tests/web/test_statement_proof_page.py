"""The statement page carries the account's head and the latest root (QR code and text)
and a link to the proof JSON; another scheme's member stays a 404."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from flask import Flask

from tests.factories import World, fund
from tests.web.conftest import Pages, text
from timebank.tenants.ledger import chain
from timebank.tenants.ledger.proofs import take_roots


def test_statement_shows_head_root_qr_and_proof_download(
    app: Flask, world: World, pages: Pages, tmp_path: Path
) -> None:
    member = world.a.members[0]
    fund(app, world.a, member, 90)
    pages.login(member)
    before = pages.get("/s/alpha-bank/statement")
    assert before.status_code == 200
    assert "None published yet" in text(before)
    with app.app_context():
        take_roots(date(2026, 11, 30))
    page = pages.get("/s/alpha-bank/statement")
    body = page.get_data(as_text=True)
    proof = json.loads(pages.get("/api/v1/schemes/alpha-bank/statement/proof").get_data())
    assert (
        "<svg" in body
        and 'class="segno"' in body
        and "style=" not in body.split('class="segno"')[1][:2000]
    )
    assert proof["head"] in body and proof["root"]["root"] in body
    assert "Scheme's published code of 2026-11-30" in text(page)
    assert 'download="alpha-bank-statement-proof.json"' in body
    assert "/api/v1/schemes/alpha-bank/statement/proof" in body
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(proof))
    assert chain.main([str(path)]) == 0


def test_coordinator_sees_a_members_check_but_not_another_schemes(
    app: Flask, world: World, pages: Pages
) -> None:
    member_id = world.a.members[0].member_ids[world.a.slug]
    beta_id = world.b.members[0].member_ids[world.b.slug]
    pages.login(world.a.coordinator)
    page = pages.get(f"/s/alpha-bank/statement?member_id={member_id}")
    assert page.status_code == 200 and "Checking this statement" in text(page)
    assert f"statement/proof?member_id={member_id}" in page.get_data(as_text=True)
    assert pages.get(f"/s/alpha-bank/statement?member_id={beta_id}").status_code == 404
    assert (
        pages.get(f"/api/v1/schemes/alpha-bank/statement/proof?member_id={beta_id}").status_code
        == 404
    )
