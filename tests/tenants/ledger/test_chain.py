"""Posting chains, daily roots and statement proofs: tampering with any field of any
posting in the database is found by ``ledger verify`` and by the stand-alone verifier;
roots are idempotent; another scheme's roots and proofs stay out of reach."""

from __future__ import annotations

import base64
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from flask import Flask
from sqlalchemy import create_engine, func, select, text

from tests.conftest import Database
from tests.factories import World, fund
from timebank.platform import tenancy
from timebank.platform.db import db
from timebank.tenants.ledger import chain
from timebank.tenants.ledger.models import Account, LedgerRoot
from timebank.tenants.ledger.proofs import canonical_json, take_roots

DAY = date(2026, 11, 30)


def _pay(world: World, amount: int = 40) -> int:
    fund(world.app, world.a, world.a.members[0], 100)
    response = world.api(world.a.members[0]).post(
        f"/api/v1/schemes/{world.a.slug}/transfers",
        {"to_member_id": world.a.members[1].member_ids[world.a.slug], "amount": amount},
    )
    assert response.status_code == 201, response.data
    return int(response.get_json()["id"])


def _proof(world: World) -> dict[str, Any]:
    response = world.api(world.a.members[0]).get(f"/api/v1/schemes/{world.a.slug}/statement/proof")
    assert response.status_code == 200, response.data
    proof: dict[str, Any] = response.get_json()
    return proof


def _roots(app: Flask, day: date = DAY) -> dict[str, int]:
    with app.app_context():
        return take_roots(day)


def _tamper(app: Flask, database: Database, statement: str, params: dict[str, Any]) -> None:
    """Change a ledger row as the tables' owner, past the immutability triggers."""
    url = database.owner_url_string() if database.postgres else app.config["DATABASE_URL"]
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            if database.postgres:
                conn.execute(text("ALTER TABLE postings DISABLE TRIGGER postings_immutable"))
                conn.execute(
                    text("ALTER TABLE transactions DISABLE TRIGGER transactions_immutable")
                )
            else:
                for trigger in ("postings_no_update", "transactions_no_update"):
                    conn.execute(text(f"DROP TRIGGER IF EXISTS {trigger}"))
            assert conn.execute(text(statement), params).rowcount == 1
            if database.postgres:
                conn.execute(text("ALTER TABLE postings ENABLE TRIGGER postings_immutable"))
                conn.execute(text("ALTER TABLE transactions ENABLE TRIGGER transactions_immutable"))
    finally:
        engine.dispose()


def _verify_file(app: Flask, tmp_path: Path, proof: dict[str, Any]) -> Any:
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(proof))
    return app.test_cli_runner().invoke(args=["statement", "verify", str(path)])


def test_chain_verifies_and_proof_reaches_the_published_root(
    app: Flask, world: World, tmp_path: Path
) -> None:
    _pay(world)
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["ledger", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "posting hashes recomputed" in ok.output

    before = _proof(world)
    assert [p["account_version"] for p in before["postings"]] == [1, 2]
    assert before["postings"][0]["prev_hash"] == chain.ZERO_HASH
    assert before["postings"][1]["prev_hash"] == before["postings"][0]["hash"]
    assert before["head"] == before["postings"][-1]["hash"] and before["root"] is None
    unrooted = _verify_file(app, tmp_path, before)
    assert unrooted.exit_code == 0 and "no published root yet" in unrooted.output

    assert _roots(app) == {"taken": 2, "already": 0}
    latest = world.api().get(f"/api/v1/public/schemes/{world.a.slug}/roots/latest")
    assert latest.status_code == 200
    proof = _proof(world)
    assert latest.get_json() == {
        "scheme": world.a.slug,
        "date": "2026-11-30",
        "root": proof["root"]["root"],
    }
    with app.app_context(), tenancy.scheme_context(world.a.id):
        heads = db.session.execute(select(Account.id, Account.head_hash)).all()
    assert proof["root"]["root"] == chain.root_hash(world.a.id, [tuple(h) for h in heads])
    result = _verify_file(app, tmp_path, proof)
    assert result.exit_code == 0, result.output
    assert f"valid up to root {proof['root']['root']} of date 2026-11-30" in result.output

    # Postings after the root: still a valid chain, anchored up to the root.
    _pay(world, 10)
    later = _verify_file(app, tmp_path, _proof(world))
    assert later.exit_code == 0 and "(2 posting(s))" in later.output


def test_roots_are_idempotent_and_per_scheme(app: Flask, world: World) -> None:
    _pay(world)
    assert _roots(app) == {"taken": 2, "already": 0}
    first = world.api().get(f"/api/v1/public/schemes/{world.a.slug}/roots/latest").get_json()
    _pay(world, 5)  # a second run of the same day changes nothing, even after new postings
    assert _roots(app) == {"taken": 0, "already": 2}
    assert app.test_cli_runner().invoke(args=["ledger", "roots", "--day", "2026-11-30"]).output == (
        "roots taken: 0, already published: 2\n"
    )
    again = world.api().get(f"/api/v1/public/schemes/{world.a.slug}/roots/latest").get_json()
    assert again == first
    with app.app_context(), tenancy.all_schemes():
        counts = dict(
            db.session.execute(
                select(LedgerRoot.scheme_id, func.count()).group_by(LedgerRoot.scheme_id)
            ).all()
        )
    assert counts == {world.a.id: 1, world.b.id: 1}
    beta = world.api().get(f"/api/v1/public/schemes/{world.b.slug}/roots/latest").get_json()
    assert beta["scheme"] == world.b.slug and beta["root"] != first["root"]
    assert world.api().get("/api/v1/public/schemes/no-such/roots/latest").status_code == 404
    assert world.api().get("/api/v1/public/schemes/no-such/roots").status_code == 404


def test_no_root_yet_is_404(app: Flask, world: World) -> None:
    response = world.api().get(f"/api/v1/public/schemes/{world.a.slug}/roots/latest")
    assert response.status_code == 404


def test_signed_feed_verifies_with_the_published_key(app: Flask, world: World) -> None:
    _pay(world)
    _roots(app)
    _roots(app, date(2026, 12, 1))
    unsigned = world.api().get(f"/api/v1/public/schemes/{world.a.slug}/roots").get_json()
    assert unsigned["signature"] is None and unsigned["key_id"] is None
    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    app.config["ROOT_SIGNING_KEY"] = base64.b64encode(raw).decode()
    feed = world.api().get(f"/api/v1/public/schemes/{world.a.slug}/roots").get_json()
    assert [r["date"] for r in feed["roots"]] == ["2026-12-01", "2026-11-30"]
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(feed["public_key"]))
    body = {k: feed[k] for k in ("scheme", "scheme_id", "key_id", "roots")}
    public.verify(base64.b64decode(feed["signature"]), canonical_json(body))  # raises if not
    body["roots"][0]["root"] = "f" * 64
    with pytest.raises(InvalidSignature):
        public.verify(base64.b64decode(feed["signature"]), canonical_json(body))


def test_another_schemes_proofs_are_out_of_reach(app: Flask, world: World) -> None:
    _pay(world)
    _roots(app)
    beta_member = world.b.members[0]
    alpha_member_id = world.a.members[0].member_ids[world.a.slug]
    # A member of beta asking alpha's route, and alpha's coordinator naming beta's member.
    assert (
        world.api(beta_member).get(f"/api/v1/schemes/{world.a.slug}/statement/proof").status_code
        == 404
    )
    beta_id = beta_member.member_ids[world.b.slug]
    coordinator = world.api(world.a.coordinator)
    assert (
        coordinator.get(
            f"/api/v1/schemes/{world.a.slug}/statement/proof?member_id={beta_id}"
        ).status_code
        == 404
    )
    # A member cannot read another member's proof; the coordinator can.
    other = world.api(world.a.members[1]).get(
        f"/api/v1/schemes/{world.a.slug}/statement/proof?member_id={alpha_member_id}"
    )
    assert other.status_code in (403, 404)
    theirs = coordinator.get(
        f"/api/v1/schemes/{world.a.slug}/statement/proof?member_id={alpha_member_id}"
    ).get_json()
    assert theirs["postings"] == _proof(world)["postings"]
    # Beta's proof carries beta's root and heads, none of alpha's accounts.
    beta_proof = (
        world.api(world.b.coordinator)
        .get(f"/api/v1/schemes/{world.b.slug}/statement/proof?member_id={beta_id}")
        .get_json()
    )
    with app.app_context(), tenancy.scheme_context(world.a.id):
        alpha_accounts = set(db.session.execute(select(Account.id)).scalars())
    assert not alpha_accounts & {a for a, _ in beta_proof["root"]["heads"]}
    assert beta_proof["postings"] == []


TAMPERING = {
    "amount": "UPDATE postings SET amount = amount + 1000 WHERE scheme_id = :s AND id = :p",
    "balance_after": "UPDATE postings SET balance_after = balance_after - 1 WHERE scheme_id = :s AND id = :p",
    "account_version": "UPDATE postings SET account_version = account_version + 100 WHERE scheme_id = :s AND id = :p",
    "transaction_id": "UPDATE postings SET transaction_id = :other_tx WHERE scheme_id = :s AND id = :p",
    "account_id": "UPDATE postings SET account_id = :other_account WHERE scheme_id = :s AND id = :p",
    "prev_hash": "UPDATE postings SET prev_hash = :fake WHERE scheme_id = :s AND id = :p",
    "hash": "UPDATE postings SET hash = :fake WHERE scheme_id = :s AND id = :p",
    "transaction kind": "UPDATE transactions SET kind = 'gift' WHERE scheme_id = :s AND id = :t",
    "transaction created_at": "UPDATE transactions SET created_at = :when WHERE scheme_id = :s AND id = :t",
}


@pytest.mark.parametrize("field", sorted(TAMPERING))
def test_tampering_with_any_field_is_detected(
    app: Flask, world: World, database: Database, tmp_path: Path, field: str
) -> None:
    transaction_id = _pay(world)
    _roots(app)
    honest = _proof(world)
    assert _verify_file(app, tmp_path, honest).exit_code == 0
    posting = honest["postings"][1]  # the payer's leg of the transfer
    first_tx = honest["postings"][0]["transaction_id"]
    payee = world.api(world.a.members[1]).get(f"/api/v1/schemes/{world.a.slug}/statement/proof")
    _tamper(
        app,
        database,
        TAMPERING[field],
        {
            "s": world.a.id,
            "p": posting["id"],
            "t": transaction_id,
            "other_tx": first_tx,
            "other_account": payee.get_json()["account_id"],
            "fake": "a" * 64,
            "when": "2020-01-01 00:00:00",
        },
    )
    report = app.test_cli_runner().invoke(args=["ledger", "verify"])
    assert report.exit_code == 1, report.output
    assert "BREAK: alpha-bank" in report.output
    only_b = app.test_cli_runner().invoke(args=["ledger", "verify", "--scheme", world.b.slug])
    assert only_b.exit_code == 0, only_b.output
    # The member's export taken after the change no longer holds against the root.
    broken = _verify_file(app, tmp_path, _proof(world))
    assert broken.exit_code == 1, broken.output
    assert "BROKEN" in broken.output


@pytest.mark.parametrize(
    "field", ["amount", "balance_after", "transaction_id", "kind", "created_at", "account_version"]
)
def test_editing_a_saved_export_is_detected(
    app: Flask, world: World, tmp_path: Path, field: str
) -> None:
    _pay(world)
    _roots(app)
    proof = _proof(world)
    posting = proof["postings"][0]
    posting[field] = (
        posting[field] + 1
        if isinstance(posting[field], int)
        else {"kind": "gift", "created_at": "2020-01-01T00:00:00.000000Z"}[field]
    )
    result = _verify_file(app, tmp_path, proof)
    assert result.exit_code == 1 and "posting 1" in result.output, result.output


def test_the_verifier_needs_nothing_of_the_platform() -> None:
    source = Path(chain.__file__).read_text()
    imports = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert all("timebank" not in line for line in imports), imports
