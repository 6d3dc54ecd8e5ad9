"""A model-based test of the ledger: random transfers, reversals, limit changes and
retries against a plain-Python oracle. Balances and refusals agree after every step."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from tests.factories import Person, World, add_member, fund, make_scheme, make_user

POLICY_MIN = -600  # community template
PEER_MAX = 1200


@dataclass
class Oracle:
    balances: dict[int, int]
    limits: dict[int, tuple[int | None, int | None]] = field(default_factory=dict)

    def effective(self, member: int) -> tuple[int | None, int | None]:
        low, high = self.limits.get(member, (None, None))
        return (POLICY_MIN if low is None else low, high)

    def refusal(self, deltas: dict[int, int]) -> str | None:
        for member, delta in deltas.items():
            low, high = self.effective(member)
            after = self.balances[member] + delta
            if delta < 0 and low is not None and after < low:
                return "insufficient_balance"
            if delta > 0 and high is not None and after > high:
                return "balance_above_maximum"
        return None

    def apply(self, deltas: dict[int, int]) -> None:
        for member, delta in deltas.items():
            self.balances[member] += delta


@dataclass
class Posted:
    id: int
    deltas: dict[int, int]
    is_reversal: bool = False


class LedgerMachine(RuleBasedStateMachine):
    transactions = Bundle("transactions")
    requests = Bundle("requests")

    def __init__(self, world: World) -> None:
        super().__init__()
        # A fresh scheme per example, so that every run starts from the same state.
        app = world.app
        coordinator = make_user(app)
        scheme = make_scheme(app, coordinator, template="community")
        for _ in range(2):
            add_member(app, scheme, make_user(app))
        fund(app, scheme, scheme.members[0], 300)
        self.world = world
        self.slug = scheme.slug
        self.people: list[Person] = [coordinator, *scheme.members]
        self.ids = [p.member_ids[self.slug] for p in self.people]
        self.coordinator = world.api(coordinator)
        self.oracle = Oracle({member_id: 0 for member_id in self.ids})
        self.oracle.balances[self.ids[1]] = 300
        self.reversed: set[int] = set()
        self.keys = itertools.count()

    def balance(self, member_id: int) -> int:
        response = self.coordinator.get(
            f"/api/v1/schemes/{self.slug}/balance?member_id={member_id}"
        )
        return int(response.get_json()["balance"])

    @rule(
        target=requests,
        payer=st.integers(0, 2),
        payee=st.integers(0, 2),
        amount=st.integers(1, 900),
        keyed=st.booleans(),
    )
    def transfer(self, payer: int, payee: int, amount: int, keyed: bool) -> Any:
        body = {"to_member_id": self.ids[payee], "amount": amount}
        headers = {"Idempotency-Key": f"k{next(self.keys)}"} if keyed else {}
        response = self.world.api(self.people[payer]).post(
            f"/api/v1/schemes/{self.slug}/transfers", body, headers=headers
        )
        deltas = {self.ids[payer]: -amount, self.ids[payee]: amount}
        if payer == payee:
            assert response.status_code == 422 and "to_member_id" in response.get_json()["errors"]
            return multiple()
        expected = "amount_above_maximum" if amount > PEER_MAX else self.oracle.refusal(deltas)
        if expected:
            assert response.status_code == 422, response.data
            assert response.get_json()["code"] == expected
        else:
            assert response.status_code == 201, response.data
            self.oracle.apply(deltas)
        if not keyed:
            return multiple()
        return (payer, body, headers, response.status_code, response.get_json())

    @rule(target=transactions, request=requests)
    def remember(self, request: Any) -> Any:
        _payer, _body, _headers, status, payload = request
        if status != 201:
            return multiple()
        deltas = {p["member_id"]: p["amount"] for p in payload["postings"]}
        return Posted(payload["id"], deltas)

    @rule(request=requests)
    def retry(self, request: Any) -> None:
        payer, body, headers, status, payload = request
        again = self.world.api(self.people[payer]).post(
            f"/api/v1/schemes/{self.slug}/transfers", body, headers=headers
        )
        assert again.status_code == status
        assert again.get_json() == payload

    @rule(target=transactions, posted=consumes(transactions))
    def reverse(self, posted: Posted) -> Any:
        response = self.coordinator.post(
            f"/api/v1/schemes/{self.slug}/transactions/{posted.id}/reverse", {}
        )
        if posted.is_reversal:
            assert response.get_json()["code"] == "cannot_reverse_reversal"
            return multiple()
        if posted.id in self.reversed:
            assert response.get_json()["code"] == "already_reversed"
            return multiple()
        mirror = {member: -delta for member, delta in posted.deltas.items()}
        expected = self.oracle.refusal(mirror)
        if expected:
            assert response.status_code == 422 and response.get_json()["code"] == expected
            return multiple(posted)  # it can still be reversed later
        assert response.status_code == 201, response.data
        self.oracle.apply(mirror)
        self.reversed.add(posted.id)
        return multiple(
            Posted(posted.id, posted.deltas), Posted(response.get_json()["id"], mirror, True)
        )

    @rule(
        member=st.integers(0, 2),
        low=st.one_of(st.none(), st.integers(-900, 0)),
        high=st.one_of(st.none(), st.integers(0, 900)),
    )
    def set_limits(self, member: int, low: int | None, high: int | None) -> None:
        member_id = self.ids[member]
        response = self.coordinator.patch(
            f"/api/v1/schemes/{self.slug}/members/{member_id}",
            {"min_balance": low, "max_balance": high},
        )
        balance = self.oracle.balances[member_id]
        if (low is not None and balance < low) or (high is not None and balance > high):
            assert response.status_code == 422, response.data
        else:
            assert response.status_code == 200, response.data
            self.oracle.limits[member_id] = (low, high)

    @invariant()
    def balances_agree(self) -> None:
        for member_id in self.ids:
            assert self.balance(member_id) == self.oracle.balances[member_id]


def test_ledger_agrees_with_the_oracle(app: Flask, world: World) -> None:
    from timebank.tenants.ledger.verify import verify_ledger

    run_state_machine_as_test(
        lambda: LedgerMachine(world),
        settings=settings(
            max_examples=12,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
    with app.app_context():
        report = verify_ledger()
    assert report.breaks == [], report.lines()
    # Scheme B saw none of it.
    b = world.api(world.b.coordinator)
    assert b.get(f"/api/v1/schemes/{world.b.slug}/transactions").get_json()["items"] == []
