"""Daily roots, the signed root feed and statement proofs (``docs/verifiable-statements.md``).

A scheme's root of a day is :func:`chain.root_hash` over its accounts' head
hashes, read in one statement (one snapshot) by :func:`take_roots`, which the
scheduler runs every day; a day's root is written once (the unique key on
``(scheme_id, day)`` makes a second run, or a second worker, a no-op). The
``heads`` it was computed from are kept with it, so a member's proof can carry
them and anyone can recompute the root from the proof alone.

The feed of a scheme's roots is signed with Ed25519 over its canonical JSON
(sorted keys, no spaces, UTF-8) with the key in ``TIMEBANK_ROOT_SIGNING_KEY``
(32 bytes, base64); ``key_id`` names the public key that verifies it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import date, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from timebank.platform import tenancy
from timebank.platform.api.errors import NotFound
from timebank.platform.db import db, utcnow
from timebank.platform.schemes.models import Scheme
from timebank.tenants.ledger.chain import format_time, root_hash
from timebank.tenants.ledger.models import (
    Account,
    LedgerRoot,
    Posting,
    Transaction,
    posting_transaction,
)

FEED_DAYS = 90


def publishes_roots(scheme: Scheme) -> bool:
    """Sandboxes (made-up people and history) publish no roots; every other scheme
    does, suspended ones too: their members' statements stay checkable."""
    return not scheme.sandbox


def take_roots(day: date | None = None) -> dict[str, int]:
    """Write each scheme's root of ``day`` unless written already.

    A day's root covers every posting committed when it is taken: the scheduler takes
    the root of a day just after it ends (UTC); the default ``day`` is yesterday."""
    day = day or utcnow().date() - timedelta(days=1)
    with tenancy.all_schemes():
        scheme_ids = [
            scheme.id
            for scheme in db.session.execute(select(Scheme).order_by(Scheme.id)).scalars()
            if publishes_roots(scheme)
        ]
        db.session.rollback()
    taken = skipped = 0
    for scheme_id in scheme_ids:
        with tenancy.scheme_context(scheme_id):
            if _take_root(scheme_id, day):
                taken += 1
            else:
                skipped += 1
    return {"taken": taken, "already": skipped}


def _take_root(scheme_id: int, day: date) -> bool:
    exists = db.session.execute(
        select(LedgerRoot.id).where(LedgerRoot.day == day)
    ).scalar_one_or_none()
    if exists is not None:
        db.session.rollback()
        return False
    heads = [
        (account_id, head)
        for account_id, head in db.session.execute(
            select(Account.id, Account.head_hash).order_by(Account.id)
        ).all()
    ]
    db.session.add(
        LedgerRoot(
            scheme_id=scheme_id,
            day=day,
            root=root_hash(scheme_id, heads),
            heads=json.dumps(heads, separators=(",", ":")),
            taken_at=utcnow(),
        )
    )
    try:
        db.session.commit()
    except IntegrityError:  # another worker wrote the day's root first
        db.session.rollback()
        return False
    return True


def public_scheme(slug: str) -> Scheme:
    """A scheme whose roots anyone may read; 404 for an unknown one or a sandbox."""
    scheme = db.session.execute(select(Scheme).where(Scheme.slug == slug)).scalar_one_or_none()
    if scheme is None or not publishes_roots(scheme):
        raise NotFound("No such scheme.")
    return scheme


def _roots(scheme: Scheme, limit: int) -> list[LedgerRoot]:
    with tenancy.scheme_context(scheme.id):
        return list(
            db.session.execute(
                select(LedgerRoot).order_by(LedgerRoot.day.desc()).limit(limit)
            ).scalars()
        )


def latest_root(slug: str) -> dict[str, Any]:
    """``{scheme, date, root}`` of the scheme's latest root; 404 when none is published."""
    scheme = public_scheme(slug)
    roots = _roots(scheme, 1)
    if not roots:
        raise NotFound("This scheme has published no root yet.")
    return {"scheme": scheme.slug, "date": roots[0].day.isoformat(), "root": roots[0].root}


def canonical_json(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def signing_key() -> Ed25519PrivateKey | None:
    raw = current_app.config.get("ROOT_SIGNING_KEY")
    if not raw:
        return None
    return Ed25519PrivateKey.from_private_bytes(base64.b64decode(raw))


def public_key_text(key: Ed25519PrivateKey) -> tuple[str, str]:
    """``(key_id, public key in base64)``: key_id is the first 16 hex of its SHA-256."""
    public = key.public_key().public_bytes(
        encoding=serialization.Encoding.Raw, format=serialization.PublicFormat.Raw
    )
    return hashlib.sha256(public).hexdigest()[:16], base64.b64encode(public).decode()


def root_feed(slug: str) -> dict[str, Any]:
    """The scheme's last ``FEED_DAYS`` roots, newest first, signed (when a key is set)."""
    scheme = public_scheme(slug)
    key = signing_key()
    key_id, public = public_key_text(key) if key is not None else (None, None)
    body: dict[str, Any] = {
        "scheme": scheme.slug,
        "scheme_id": scheme.id,
        "key_id": key_id,
        "roots": [
            {"date": row.day.isoformat(), "root": row.root} for row in _roots(scheme, FEED_DAYS)
        ],
    }
    signature = key.sign(canonical_json(body)) if key is not None else None
    return {
        **body,
        "public_key": public,
        "signature": base64.b64encode(signature).decode() if signature else None,
    }


def statement_proof(scheme: Scheme, member_id: int, account_id: int) -> dict[str, Any]:
    """Everything needed to recompute the account's chain up to the latest root."""
    rows = db.session.execute(
        select(Posting, Transaction.kind, Transaction.created_at)
        .join(Transaction, posting_transaction())
        .where(Posting.account_id == account_id)
        .order_by(Posting.account_version)
    ).all()
    postings = [
        {
            "id": posting.id,
            "transaction_id": posting.transaction_id,
            "kind": kind,
            "amount": posting.amount,
            "balance_after": posting.balance_after,
            "account_version": posting.account_version,
            "created_at": format_time(created_at),
            "prev_hash": posting.prev_hash,
            "hash": posting.hash,
        }
        for posting, kind, created_at in rows
    ]
    latest = db.session.execute(
        select(LedgerRoot).order_by(LedgerRoot.day.desc()).limit(1)
    ).scalar_one_or_none()
    root = None
    if latest is not None and publishes_roots(scheme):
        root = {
            "date": latest.day.isoformat(),
            "root": latest.root,
            "heads": json.loads(latest.heads),
        }
    return {
        "scheme": scheme.slug,
        "scheme_id": scheme.id,
        "member_id": member_id,
        "account_id": account_id,
        "postings": postings,
        "head": postings[-1]["hash"] if postings else "0" * 64,
        "root": root,
        "generated_at": format_time(datetime.now().astimezone()),
    }


def statement_anchor(scheme: Scheme, account: Account) -> dict[str, Any]:
    """What the printed statement carries: the account's head and the latest root."""
    latest = db.session.execute(
        select(LedgerRoot.day, LedgerRoot.root).order_by(LedgerRoot.day.desc()).limit(1)
    ).first()
    published = latest is not None and publishes_roots(scheme)
    return {
        "account_id": account.id,
        "head": account.head_hash,
        "date": latest.day.isoformat() if published and latest else None,
        "root": latest.root if published and latest else None,
    }
