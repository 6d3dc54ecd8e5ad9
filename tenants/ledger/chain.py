"""Posting chains and daily roots: the hash rules, and a stand-alone statement verifier.

This module imports only the Python standard library, so it can be copied out
of the platform and run on its own (``python chain.py proof.json``); the
platform uses the same functions to write the chains. The algorithm is
written out in ``docs/verifiable-statements.md`` so that anyone can
reimplement it.

A posting's hash is the SHA-256 (lower-case hex) of the UTF-8 text::

    tbp1|<scheme_id>|<account_id>|<account_version>|<transaction_id>|<kind>|<amount>|<balance_after>|<created_at>|<prev_hash>

integers in decimal (``-`` for negatives, no leading zeros), ``kind`` the
transaction's kind, ``created_at`` the transaction's time in UTC as
``YYYY-MM-DDTHH:MM:SS.ffffffZ`` and ``prev_hash`` the hash of the account's
previous posting (64 zeros for its first). A scheme's root of a day is the
SHA-256 of ``tbr1|<scheme_id>`` followed by ``|<account_id>:<head>`` for each
of the scheme's accounts in account id order, where ``head`` is the hash of
the account's latest posting then (64 zeros for none).
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

ZERO_HASH = "0" * 64
POSTING_TAG = "tbp1"
ROOT_TAG = "tbr1"


def format_time(moment: datetime) -> str:
    """A UTC timestamp as the hash covers it (naive times are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def hash_input_parts(
    *,
    scheme_id: int,
    account_id: int,
    account_version: int,
    kind: str,
    amount: int,
    balance_after: int,
    created_at: str,
    prev_hash: str,
) -> tuple[str, str]:
    """The hashed text before and after the transaction id (which the database may assign)."""
    before = f"{POSTING_TAG}|{scheme_id}|{account_id}|{account_version}|"
    after = f"|{kind}|{amount}|{balance_after}|{created_at}|{prev_hash}"
    return before, after


def posting_hash(
    *,
    scheme_id: int,
    account_id: int,
    account_version: int,
    transaction_id: int,
    kind: str,
    amount: int,
    balance_after: int,
    created_at: str,
    prev_hash: str,
) -> str:
    """The hash of one posting (``created_at`` already formatted by :func:`format_time`)."""
    before, after = hash_input_parts(
        scheme_id=scheme_id,
        account_id=account_id,
        account_version=account_version,
        kind=kind,
        amount=amount,
        balance_after=balance_after,
        created_at=created_at,
        prev_hash=prev_hash,
    )
    return hashlib.sha256(f"{before}{transaction_id}{after}".encode()).hexdigest()


def root_hash(scheme_id: int, heads: Iterable[tuple[int, str]]) -> str:
    """The root over ``(account_id, head)`` pairs (sorted here by account id)."""
    text = ROOT_TAG + f"|{scheme_id}" + "".join(f"|{a}:{h}" for a, h in sorted(heads))
    return hashlib.sha256(text.encode()).hexdigest()


class Broken(Exception):
    """The proof does not hold; the message says where."""


def verify_proof(proof: dict[str, Any]) -> str:
    """Check a statement proof; return what holds, raise ``Broken`` where it breaks."""
    try:
        scheme_id = int(proof["scheme_id"])
        account_id = int(proof["account_id"])
        postings: Sequence[dict[str, Any]] = proof["postings"]
        head = str(proof["head"])
    except (KeyError, TypeError, ValueError) as error:
        raise Broken(f"not a statement proof: {error!r}") from error
    previous = ZERO_HASH
    seen = {ZERO_HASH: 0}
    for position, posting in enumerate(postings, start=1):
        where = f"posting {position} (id {posting.get('id')})"
        if int(posting["account_version"]) != position:
            raise Broken(f"{where}: account_version {posting['account_version']}, not {position}")
        if posting["prev_hash"] != previous:
            raise Broken(f"{where}: prev_hash does not match the previous posting's hash")
        expected = posting_hash(
            scheme_id=scheme_id,
            account_id=account_id,
            account_version=int(posting["account_version"]),
            transaction_id=int(posting["transaction_id"]),
            kind=str(posting["kind"]),
            amount=int(posting["amount"]),
            balance_after=int(posting["balance_after"]),
            created_at=str(posting["created_at"]),
            prev_hash=previous,
        )
        if posting["hash"] != expected:
            raise Broken(f"{where}: hash does not match its fields (altered)")
        earlier = int(postings[position - 2]["balance_after"]) if position > 1 else 0
        if earlier + int(posting["amount"]) != int(posting["balance_after"]):
            raise Broken(f"{where}: balance_after is not the previous balance plus amount")
        previous = expected
        seen[expected] = position
    if head != previous:
        raise Broken("head is not the last posting's hash")
    root = proof.get("root")
    if not root:
        return f"valid chain of {len(postings)} posting(s), head {head}; no published root yet"
    heads = [(int(a), str(h)) for a, h in root["heads"]]
    if root_hash(scheme_id, heads) != root["root"]:
        raise Broken(f"the heads listed do not hash to root {root['root']}")
    covered = dict(heads).get(account_id, ZERO_HASH)
    if covered not in seen:
        raise Broken(f"the root's head for account {account_id} is not in this chain")
    return f"valid up to root {root['root']} of date {root['date']} ({seen[covered]} posting(s))"


def main(argv: Sequence[str] | None = None) -> int:
    """``chain.py FILE``: 0 and "valid up to root R of date D", or 1 and where it breaks."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: verify FILE (a statement proof, JSON)", file=sys.stderr)
        return 2
    try:
        with open(args[0], encoding="utf-8") as handle:
            proof = json.load(handle)
    except (OSError, ValueError) as error:
        print(f"cannot read {args[0]}: {error}", file=sys.stderr)
        return 2
    try:
        print(verify_proof(proof))
    except Broken as error:
        print(f"BROKEN: {error}")
        return 1
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        print(f"BROKEN: malformed proof: {error!r}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
