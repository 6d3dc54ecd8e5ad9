"""Locking accounts: the one place the ledger takes row locks (part of the posting service).

Every service that moves credits or must read something consistent with a
balance locks the accounts it touches here, ``SELECT … FOR UPDATE`` in
account id order (the ledger's one lock order, so two writers never wait for
each other in a circle), in one query: by account ids, by the members whose
accounts they are, and the clearing account for a partner scheme (exchange).
The query names the scheme explicitly, so it needs no scheme context of the
ORM (an exchange locks both schemes' legs, one scheme after the other).
SQLite has no row locks: there, one writer at a time holds the database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, or_, select

from timebank.platform.api.errors import NotFound
from timebank.platform.db import db
from timebank.tenants.ledger.models import Account
from timebank.tenants.memberships.models import Member

_ACCOUNTS, _MEMBERS = Account.__table__, Member.__table__


@dataclass(frozen=True)
class LockedAccounts:
    """The locked accounts, by id in lock order, with their members' status.

    Each account is an ``Account`` (fresh from the row, so the session's copy is
    current), or with ``rows=True`` a Core row of the same columns plus
    ``member_status`` (the transfer hot path: no ORM objects to build).
    """

    by_id: dict[int, Any]
    member_status: dict[int, str] = field(default_factory=dict)

    def of_member(self, member_id: int) -> Any | None:
        return next((a for a in self.by_id.values() if a.member_id == member_id), None)

    def clearing(self, partner_scheme_id: int) -> Any | None:
        return next(
            (
                a
                for a in self.by_id.values()
                if a.kind == "clearing" and a.partner_scheme_id == partner_scheme_id
            ),
            None,
        )


_MEMBER_IDS: Any = bindparam("member_ids", expanding=True)
# The transfer hot path, built once: filtering both tables by the member ids
# keeps the plan on two index probes whatever the statistics say.
_BY_MEMBERS = (
    select(*_ACCOUNTS.c, _MEMBERS.c.status.label("member_status"))
    .join(
        _MEMBERS,
        and_(_MEMBERS.c.scheme_id == _ACCOUNTS.c.scheme_id, _MEMBERS.c.id == _ACCOUNTS.c.member_id),
    )
    .where(
        _ACCOUNTS.c.scheme_id == bindparam("scheme_id"),
        _MEMBERS.c.scheme_id == bindparam("scheme_id"),
        _ACCOUNTS.c.member_id.in_(_MEMBER_IDS),
        _MEMBERS.c.id.in_(_MEMBER_IDS),
    )
    .order_by(_ACCOUNTS.c.id)
    .with_for_update(of=_ACCOUNTS)
)
_STATEMENTS: dict[tuple[bool, bool, bool], Select[Any]] = {(False, True, False): _BY_MEMBERS}


def _statement(by_ids: bool, by_members: bool, by_clearing: bool) -> Select[Any]:
    key = (by_ids, by_members, by_clearing)
    if key not in _STATEMENTS:
        conditions: list[ColumnElement[bool]] = []
        if by_ids:
            conditions.append(_ACCOUNTS.c.id.in_(bindparam("account_ids", expanding=True)))
        if by_members:
            conditions.append(_ACCOUNTS.c.member_id.in_(_MEMBER_IDS))
        if by_clearing:
            conditions.append(
                and_(
                    _ACCOUNTS.c.kind == "clearing",
                    _ACCOUNTS.c.partner_scheme_id == bindparam("partner_scheme_id"),
                )
            )
        _STATEMENTS[key] = (
            select(*_ACCOUNTS.c, _MEMBERS.c.status.label("member_status"))
            .select_from(
                _ACCOUNTS.outerjoin(
                    _MEMBERS,
                    and_(
                        _MEMBERS.c.scheme_id == _ACCOUNTS.c.scheme_id,
                        _MEMBERS.c.id == _ACCOUNTS.c.member_id,
                    ),
                )
            )
            .where(_ACCOUNTS.c.scheme_id == bindparam("scheme_id"), or_(*conditions))
            .order_by(_ACCOUNTS.c.id)
            .with_for_update(of=_ACCOUNTS)
        )
    return _STATEMENTS[key]


def lock_accounts(
    scheme_id: int,
    *,
    account_ids: Iterable[int] = (),
    member_ids: Iterable[int] = (),
    clearing_partner_id: int | None = None,
    rows: bool = False,
) -> LockedAccounts:
    """Lock the scheme's accounts named by id, by member, and its clearing account for
    ``clearing_partner_id``, in id order, in one query. 404 if an account asked for by
    id does not exist in the scheme (members without an account are simply absent)."""
    ids, members = sorted(set(account_ids)), sorted(set(member_ids))
    if not (ids or members or clearing_partner_id is not None):
        return LockedAccounts({})
    db.session.flush()  # the read must see the caller's pending changes
    statement = _statement(bool(ids), bool(members), clearing_partner_id is not None)
    params = {
        "scheme_id": scheme_id,
        "account_ids": ids,
        "member_ids": members,
        "partner_scheme_id": clearing_partner_id,
    }
    if rows:
        found: list[Any] = list(db.session.connection().execute(statement, params).all())
    else:  # the session's objects, refreshed from the locked rows
        found = list(
            db.session.execute(
                select(Account).from_statement(statement).execution_options(populate_existing=True),
                params,
            ).scalars()
        )
    if not set(ids) <= {account.id for account in found}:
        raise NotFound("An account of this transaction does not exist in this scheme.")
    statuses = (
        {row.member_id: row.member_status for row in found if row.member_id is not None}
        if rows
        else {}
    )
    return LockedAccounts({account.id: account for account in found}, statuses)
