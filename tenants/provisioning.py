"""How a new scheme is set up from its template: policy, accounts, first coordinator."""

from __future__ import annotations

from typing import Any

from timebank.platform.identity.models import User
from timebank.platform.schemes.models import Scheme
from timebank.platform.schemes.services import provisioner
from timebank.tenants.ledger.services import open_scheme_accounts
from timebank.tenants.memberships.services import join_scheme
from timebank.tenants.policy.schemas import validate_policy
from timebank.tenants.policy.services import write_version


@provisioner(order=10)
def provision_policy(scheme: Scheme, data: dict[str, Any], creator: User) -> None:
    write_version(scheme, validate_policy(data["policy"]), actor_user_id=creator.id)


@provisioner(order=20)
def provision_accounts(scheme: Scheme, data: dict[str, Any], creator: User) -> None:
    open_scheme_accounts(scheme.id)


@provisioner(order=30)
def provision_coordinator(scheme: Scheme, data: dict[str, Any], creator: User) -> None:
    join_scheme(scheme, creator, role="coordinator", actor_user_id=creator.id)
