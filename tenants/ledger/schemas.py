from __future__ import annotations

from marshmallow import Schema, fields, validate

from timebank.platform.api.pagination import page_schema
from timebank.platform.api.schemas import Strict, free_text, minutes, object_id, query_id


class TransferIn(Strict):
    to_member_id = object_id(required=True)
    amount = minutes(required=True)
    memo = free_text()
    to_scheme = fields.String(load_default=None, validate=validate.Length(min=1, max=40))


class ReverseIn(Strict):
    memo = free_text()


class PostingOut(Schema):
    account = fields.String()
    account_id = fields.Integer()
    member_id = fields.Integer(allow_none=True)
    amount = fields.Integer()
    balance_after = fields.Integer()


class ExchangeLegOut(Schema):
    """What the payer of a cross-scheme payment learns (only in that response)."""

    id = fields.Integer()
    agreement_id = fields.Integer()
    rate = fields.String()
    credited = fields.Integer(metadata={"description": "Minutes the payee got, in their scheme"})
    payee_name = fields.String(allow_none=True)


class TransactionOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    amount = fields.Integer()
    memo = fields.String(allow_none=True)
    created_at = fields.DateTime()
    reverses_id = fields.Integer(allow_none=True)
    reversed_by_id = fields.Integer(allow_none=True)
    partner = fields.String(allow_none=True)
    partner_name = fields.String(allow_none=True)
    postings = fields.List(fields.Nested(PostingOut))
    exchange = fields.Nested(ExchangeLegOut)


TransactionPage = page_schema(TransactionOut, "TransactionPage")


class BalanceQuery(Strict):
    member_id = query_id(load_default=None)


class BalanceOut(Schema):
    member_id = fields.Integer()
    balance = fields.Integer()
    min_balance = fields.Integer(allow_none=True)
    max_balance = fields.Integer(allow_none=True)


class ProofPostingOut(Schema):
    id = fields.Integer()
    transaction_id = fields.Integer()
    kind = fields.String()
    amount = fields.Integer()
    balance_after = fields.Integer()
    account_version = fields.Integer()
    created_at = fields.String()
    prev_hash = fields.String()
    hash = fields.String()


class ProofRootOut(Schema):
    date = fields.String()
    root = fields.String()
    heads = fields.List(fields.List(fields.Raw()))


class ProofOut(Schema):
    scheme = fields.String()
    scheme_id = fields.Integer()
    member_id = fields.Integer()
    account_id = fields.Integer()
    postings = fields.List(fields.Nested(ProofPostingOut))
    head = fields.String()
    root = fields.Nested(ProofRootOut, allow_none=True)
    generated_at = fields.String()


class RootOut(Schema):
    scheme = fields.String()
    date = fields.String()
    root = fields.String()


class RootDayOut(Schema):
    date = fields.String()
    root = fields.String()


class RootFeedOut(Schema):
    scheme = fields.String()
    scheme_id = fields.Integer()
    key_id = fields.String(allow_none=True)
    public_key = fields.String(allow_none=True)
    roots = fields.List(fields.Nested(RootDayOut))
    signature = fields.String(allow_none=True)
