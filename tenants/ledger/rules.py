"""The policy's rules as pure functions of the policy and a state: one copy.

The live path (claims, transfers, redemptions, the posting service's limits)
and the policy dry-run (:mod:`timebank.tenants.reports.dryrun`, which replays
history under a draft policy without writing) call these same functions, so a
prediction can never drift from what the live code would do. Each raises the
``RuleViolation`` the API answers with (its ``code`` names the rule) and reads
nothing from the database: the caller hands in the state (a balance, the
minutes already credited in a period).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from timebank.platform.api.errors import RuleViolation
from timebank.tenants.ledger.posting import _check_limits, format_minutes

# The posting service's limit check (an account's own limits, else the policy's
# default for members), handed on under its public name.
check_limits = _check_limits

__all__ = [
    "check_cap",
    "check_claim_length",
    "check_claims_enabled",
    "check_limits",
    "check_rewards_enabled",
    "check_transfer",
]


def check_claims_enabled(policy: dict[str, Any], scheme_name: str) -> None:
    """Claims switched off (``claims_disabled``)."""
    if not policy["claims"]["enabled"]:
        raise RuleViolation(
            f"{scheme_name} does not take claims for hours at the moment.", code="claims_disabled"
        )


def check_claim_length(policy: dict[str, Any], scheme_name: str, minutes: int) -> None:
    """One claim longer than the policy allows (``claim_too_long``)."""
    longest = policy["claims"]["max_minutes_per_claim"]
    if longest is not None and minutes > longest:
        raise RuleViolation(
            f"One claim in {scheme_name} can be at most {format_minutes(longest)}; "
            "split longer work into separate claims.",
            code="claim_too_long",
            extra={"max_minutes_per_claim": longest},
        )


def check_cap(
    cap: dict[str, Any] | None,
    *,
    used: int,
    credited: int,
    period_start: date,
    scheme_name: str,
    whose: str,
) -> None:
    """Refuse (``cap_exceeded``) crediting ``credited`` minutes when the member's
    approved claims of the period already hold ``used``. ``whose``: "You have",
    "Ann has"."""
    if cap is None:
        return
    remaining = max(0, cap["minutes"] - used)
    if credited > remaining:
        raise RuleViolation(
            f"This claim would credit {format_minutes(credited)}, but {whose} "
            f"only {format_minutes(remaining)} left of the {format_minutes(cap['minutes'])} "
            f"that can be earned per {cap['period']} in {scheme_name} "
            f"({cap['period']} from {period_start.isoformat()}).",
            code="cap_exceeded",
            extra={"remaining": remaining, "cap": cap},
        )


def check_transfer(policy: dict[str, Any], scheme_name: str, amount: int) -> None:
    """Peer payments off (``peer_transfers_disabled``) or too large (``amount_above_maximum``)."""
    rules = policy["peer_transfers"]
    if not rules["enabled"]:
        raise RuleViolation(
            f"Members of {scheme_name} cannot pay each other directly.",
            code="peer_transfers_disabled",
        )
    if rules["max_amount"] is not None and amount > rules["max_amount"]:
        raise RuleViolation(
            f"A payment in {scheme_name} can be at most {format_minutes(rules['max_amount'])}.",
            code="amount_above_maximum",
            extra={"max_amount": rules["max_amount"]},
        )


def check_rewards_enabled(policy: dict[str, Any], scheme_name: str) -> None:
    if not policy["rewards"]["enabled"]:
        raise RuleViolation(
            f"{scheme_name} is not offering rewards at the moment.", code="rewards_disabled"
        )
