"""Ledger API: balance, transfers, statements, transaction detail, reversals."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from flask import Response, stream_with_context

from timebank.platform import tenancy
from timebank.platform.api import spreadsheet
from timebank.platform.api.blueprint import Blueprint
from timebank.platform.api.errors import NotFound
from timebank.platform.api.idempotency import idempotent
from timebank.platform.api.pagination import keyset_page, page
from timebank.platform.api.schemas import MemberPageQuery
from timebank.tenants.access import Access, read_subject, readable_member, scheme_access
from timebank.tenants.ledger import proofs, services
from timebank.tenants.ledger.models import Transaction
from timebank.tenants.ledger.schemas import (
    BalanceOut,
    BalanceQuery,
    ProofOut,
    ReverseIn,
    TransactionOut,
    TransactionPage,
    TransferIn,
)
from timebank.tenants.policy.services import current_policy

blp = Blueprint(
    "ledger",
    __name__,
    url_prefix="/api/v1/schemes/<slug>",
    description="The ledger",
    credentials="scheme",
    guardians=("balance", "transactions"),
)


def _subject(access: Access, member_id: int | None) -> int:
    """Whose account a read is about: the caller's, or any member's for coordinators."""
    subject = readable_member(access, member_id, what="account")
    assert subject is not None
    return subject


@blp.route("/balance")
@blp.arguments(BalanceQuery, location="query")
@blp.response(200, BalanceOut)
def balance(args: dict[str, Any], slug: str) -> dict[str, Any]:
    subject = read_subject(slug, args["member_id"], what="account")
    member_id = subject.member_id
    account = services.member_account(member_id)
    low, high = services.effective_limits(account, current_policy(subject.scheme))
    return {
        "member_id": member_id,
        "balance": account.balance,
        "min_balance": low,
        "max_balance": high,
    }


@blp.route("/statement/proof")
@blp.arguments(BalanceQuery, location="query")
@blp.response(200, ProofOut)
def statement_proof(args: dict[str, Any], slug: str) -> dict[str, Any]:
    """The account's postings with their hashes, and the latest root with its heads."""
    access = scheme_access(slug)
    member_id = _subject(access, args["member_id"])
    account = services.member_account(member_id)
    return proofs.statement_proof(access.scheme, member_id, account.id)


@blp.route("/transfers", methods=["POST"])
@idempotent
@blp.arguments(TransferIn)
@blp.response(201, TransactionOut)
def transfer(body: dict[str, Any], slug: str) -> dict[str, Any]:
    access = scheme_access(slug, write=True)
    if body.get("to_scheme"):
        return services.pay_across_schemes(
            access.scheme,
            access.member,
            to_scheme=body["to_scheme"],
            to_member_id=body["to_member_id"],
            amount=body["amount"],
            memo=body["memo"],
            actor_user_id=access.user.id,
        )
    transaction = services.post_transfer(
        access.scheme,
        access.member,
        to_member_id=body["to_member_id"],
        amount=body["amount"],
        memo=body["memo"],
        actor_user_id=access.user.id,
    )
    return services.describe_transactions([transaction])[0]


@blp.route("/transactions")
@blp.arguments(MemberPageQuery, location="query")
@blp.response(200, TransactionPage)
def transactions(args: dict[str, Any], slug: str) -> dict[str, Any]:
    subject = read_subject(slug, args["member_id"], what="account")
    account = services.member_account(subject.member_id)
    rows, cursor = keyset_page(
        services.statement_query(account.id),
        keys=[Transaction.id],
        limit=args["limit"],
        cursor=args["cursor"],
        key_of=lambda t: [t.id],
    )
    return page(services.describe_transactions(rows), cursor)


@blp.route("/transactions/<int:transaction_id>")
@blp.response(200, TransactionOut)
def transaction_detail(slug: str, transaction_id: int) -> dict[str, Any]:
    access = scheme_access(slug)
    transaction = services.get_transaction(transaction_id)
    if not access.is_coordinator:
        account = services.member_account(access.member.id)
        if not services.transaction_touches(transaction.id, account.id):
            raise NotFound("No such transaction in this scheme.")
    return services.describe_transactions([transaction])[0]


@blp.route("/transactions/<int:transaction_id>/reverse", methods=["POST"])
@idempotent
@blp.arguments(ReverseIn)
@blp.response(201, TransactionOut)
def reverse(body: dict[str, Any], slug: str, transaction_id: int) -> dict[str, Any]:
    access = scheme_access(slug, write=True, coordinator=True)
    reversal = services.reverse_transaction(
        access.scheme, transaction_id, actor_user_id=access.user.id, memo=body["memo"]
    )
    return services.describe_transactions([reversal])[0]


@blp.route("/statement.csv")
@blp.arguments(BalanceQuery, location="query")
@blp.response(200, description="The statement as CSV, oldest first")
def statement_csv(args: dict[str, Any], slug: str) -> Response:
    access = scheme_access(slug)
    member_id = _subject(access, args["member_id"])
    account = services.member_account(member_id)
    scheme_id = access.scheme.id

    if access.is_coordinator:
        names_shown = "full"
    else:
        names_shown = current_policy(access.scheme)["privacy"]["member_directory"]

    def rows() -> Iterator[str]:
        # Streamed after the view returns: name the scheme again for the queries.
        with tenancy.scheme_context(scheme_id):
            yield from _csv_lines(account.id, names_shown)

    filename = f"{access.scheme.slug}-statement-{member_id}.csv"
    return Response(
        stream_with_context(rows()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


CSV_HEADER = [
    "date",
    "transaction_id",
    "kind",
    "other_party",
    "memo",
    "hours",
    "minutes",
    "balance_after",
]
ACCOUNT_WORDS = {
    "issuance": "the scheme",
    "redemption": "rewards",
    "pot": "the community pot",
    "expiry": "credits lapsed",
}


def hours_and_minutes(minutes: int) -> str:
    """``-150`` → ``−2:30`` (a real minus sign, U+2212: an ASCII ``-`` at the start of a
    cell is what the spreadsheet writer neutralises as a possible formula)."""
    sign = "\u2212" if minutes < 0 else ""
    return f"{sign}{abs(minutes) // 60}:{abs(minutes) % 60:02d}"


def _other_party(row: dict[str, Any], names: dict[int, str], names_shown: str) -> str:
    if row["partner_name"]:
        return f"a member of {row['partner_name']}"
    member_id = row["other_member_id"]
    if member_id is not None:
        if names_shown == "hidden":
            return "a member"
        name = names.get(member_id, "a member")
        return name.split(" ")[0] if names_shown == "first_names" else name
    return ACCOUNT_WORDS.get(row["other_account_kind"] or "", "")


def _csv_lines(account_id: int, names_shown: str) -> Iterator[str]:
    """The statement as CSV lines; the header row always (an empty statement is not 0 bytes)."""
    buffer = io.StringIO()
    writer = spreadsheet.writer(buffer)
    writer.writerow(CSV_HEADER)
    yield buffer.getvalue()
    buffer.seek(0)
    buffer.truncate(0)
    names: dict[int, str] = {}
    for row in services.statement_rows(account_id):
        member_id = row["other_member_id"]
        if member_id is not None and member_id not in names:
            names.update(services.member_names([member_id]))
        writer.writerow(
            [
                row["date"].isoformat(),
                row["transaction_id"],
                row["kind"],
                _other_party(row, names, names_shown),
                row["memo"],
                hours_and_minutes(row["amount"]),
                row["amount"],
                row["balance_after"],
            ]
        )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)
