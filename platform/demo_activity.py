"""Demo history: a few weeks of help given and received in each scheme."""

from __future__ import annotations

from sqlalchemy import select

from timebank.platform import tenancy
from timebank.platform.db import db
from timebank.platform.identity.models import User
from timebank.platform.schemes.models import Scheme
from timebank.tenants.ledger.models import Transaction
from timebank.tenants.ledger.services import post_transfer
from timebank.tenants.memberships.models import Member


def _member(email: str) -> Member:
    return db.session.execute(
        select(Member).join(User, User.id == Member.user_id).where(User.email == email)
    ).scalar_one()


def seed_activity() -> None:
    """Add demo transfers once (skipped when the scheme already has history)."""
    transfers = {
        "rushey-green": [
            ("alan@rusheygreen.example", "maud@rusheygreen.example", 90, "Lift to the eye clinic"),
            ("maud@rusheygreen.example", "samuel@gracehill.example", 60, "Fixed my bicycle bell"),
        ],
        "grace-hill": [
            ("samuel@gracehill.example", "alan@rusheygreen.example", 120, "Garden clearance"),
        ],
    }
    for slug, rows in transfers.items():
        scheme = db.session.execute(select(Scheme).where(Scheme.slug == slug)).scalar_one()
        with tenancy.scheme_context(scheme.id):
            if db.session.execute(select(Transaction.id).limit(1)).first():
                continue
            for payer_email, payee_email, minutes, memo in rows:
                payer, payee = _member(payer_email), _member(payee_email)
                post_transfer(
                    scheme,
                    payer,
                    to_member_id=payee.id,
                    amount=minutes,
                    memo=memo,
                    actor_user_id=payer.user_id,
                )
