"""Gifts: a member gives credits to the community pot or to another member;
coordinators grant from the pot.

All are ``gift`` transactions through the posting service. The pot account
has a minimum of zero, so it can only give what it holds
(``insufficient_balance`` names "The community pot").
"""

from __future__ import annotations

from timebank.platform import audit
from timebank.platform.api.errors import Forbidden, RuleViolation
from timebank.platform.db import atomic
from timebank.platform.schemes.models import Scheme
from timebank.tenants.ledger.credit_mail import notify_credit
from timebank.tenants.ledger.services import (
    Leg,
    Posted,
    format_minutes,
    member_account,
    post_transaction,
    resolve_payee,
    scheme_account,
)
from timebank.tenants.memberships.models import Member
from timebank.tenants.policy.services import current_policy


def pot_balance() -> int:
    return scheme_account("pot").balance


@atomic
def give(
    scheme: Scheme,
    giver: Member,
    *,
    to: int | str,
    amount: int,
    memo: str | None,
    actor_user_id: int,
) -> Posted:
    """Give credits to the community pot (always allowed) or to another member.

    A gift to a member follows the policy's ``peer_transfers`` rules
    (``peer_transfers_disabled``, ``amount_above_maximum``).
    """
    giver_account = member_account(giver.id)
    if to == "pot":
        target = scheme_account("pot")
        names = {giver_account.id: "Your balance"}
    else:
        payee = resolve_payee("to", int(to), payer=giver)
        check_peer_rules(scheme, amount)
        target = member_account(payee.id)
        names = {giver_account.id: "Your balance", target.id: "The recipient's balance"}
    posted = post_transaction(
        scheme,
        kind="gift",
        legs=[Leg(giver_account.id, -amount), Leg(target.id, amount)],
        actor_user_id=actor_user_id,
        memo=memo,
        names=names,
    )
    if to != "pot" and target.member_id is not None:
        notify_credit(
            scheme,
            member_id=target.member_id,
            kind="gifted",
            amount=amount,
            transaction_id=posted.id,
            from_member_id=giver.id,
        )
    return posted


def check_peer_rules(scheme: Scheme, amount: int | None) -> None:
    """Refuse a member-to-member movement the policy forbids (``amount`` None: no cap check)."""
    rules = current_policy(scheme)["peer_transfers"]
    if not rules["enabled"]:
        raise RuleViolation(
            f"Members of {scheme.name} cannot give credits to each other directly; "
            "give them to the community pot instead.",
            code="peer_transfers_disabled",
        )
    if amount is not None and rules["max_amount"] is not None and amount > rules["max_amount"]:
        raise RuleViolation(
            f"A gift in {scheme.name} can be at most {format_minutes(rules['max_amount'])}.",
            code="amount_above_maximum",
            extra={"max_amount": rules["max_amount"]},
        )


@atomic
def grant_from_pot(
    scheme: Scheme,
    coordinator: Member,
    *,
    to_member_id: int,
    amount: int,
    memo: str | None,
    actor_user_id: int,
) -> Posted:
    """A coordinator gives credits from the pot to a member; the pot cannot go below zero.

    Raises 403 ``own_grant`` for a grant to the coordinator's own membership
    (another coordinator must decide it, as with claims).
    """
    payee = resolve_payee("to_member_id", to_member_id)
    if payee.id == coordinator.id:
        raise Forbidden(
            "You cannot grant credits from the pot to yourself; ask another coordinator.",
            code="own_grant",
        )
    pot = scheme_account("pot")
    payee_account = member_account(payee.id)
    transaction = post_transaction(
        scheme,
        kind="gift",
        legs=[Leg(pot.id, -amount), Leg(payee_account.id, amount)],
        actor_user_id=actor_user_id,
        memo=memo or "From the community pot",
        names={pot.id: "The community pot", payee_account.id: "The member's balance"},
    )
    notify_credit(
        scheme, member_id=payee.id, kind="gifted", amount=amount, transaction_id=transaction.id
    )
    audit.record(
        scheme.id,
        "pot.granted",
        actor_user_id=actor_user_id,
        target=f"member:{payee.id}",
        details={"amount": amount, "transaction_id": transaction.id},
    )
    return transaction
