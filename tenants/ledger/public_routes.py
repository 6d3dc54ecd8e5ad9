"""Public API of the ledger: each scheme's published daily roots (anyone may read them)."""

from __future__ import annotations

from typing import Any

from timebank.platform.api.blueprint import Blueprint
from timebank.tenants.ledger import proofs
from timebank.tenants.ledger.schemas import RootFeedOut, RootOut

blp = Blueprint(
    "ledger_public",
    __name__,
    url_prefix="/api/v1/public/schemes/<slug>",
    description="Published ledger roots",
    credentials="user",
    public=("latest_root", "root_feed"),
)


@blp.route("/roots/latest")
@blp.response(200, RootOut)
def latest_root(slug: str) -> dict[str, Any]:
    return proofs.latest_root(slug)


@blp.route("/roots")
@blp.response(200, RootFeedOut)
def root_feed(slug: str) -> dict[str, Any]:
    return proofs.root_feed(slug)
