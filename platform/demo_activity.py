"""Demo history: a few weeks of help given and received in each scheme.

Everything goes through the real services (claims, approvals, awards,
redemptions, transfers), so the demo ledgers pass ``timebank ledger verify``.
Skipped for a scheme that already has history, so ``timebank demo`` can run twice.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from timebank.platform import tenancy
from timebank.platform.db import db
from timebank.platform.identity.models import User
from timebank.platform.schemes.models import Scheme
from timebank.tenants.earning.awards import award
from timebank.tenants.earning.models import Activity
from timebank.tenants.earning.services import approve_claim, scheme_today, submit_claim
from timebank.tenants.ledger.models import Transaction
from timebank.tenants.ledger.services import post_transfer
from timebank.tenants.memberships.models import Member
from timebank.tenants.spending.models import Reward
from timebank.tenants.spending.services import redeem

# scheme: (who, activity name, minutes, days ago, approved?)
CLAIMS = {
    "rushey-green": [
        ("alan@rusheygreen.example", "Lift to an appointment", 90, 12, True),
        (
            "alan@rusheygreen.example",
            "Befriending a patient referred by the practice",
            120,
            5,
            True,
        ),
        ("samuel@gracehill.example", "Small DIY repair", 60, 3, True),
        ("maud@rusheygreen.example", "Home visit", 60, 1, False),
    ],
    "lincoln-park-tutors": [
        ("maria@lincolnpark.example", "Maths tutoring", 60, 13, True),
        ("maria@lincolnpark.example", "Maths tutoring", 120, 6, True),
        ("maria@lincolnpark.example", "Maths tutoring", 60, 2, True),
        ("tom@lincolnpark.example", "Reading tutoring", 45, 4, True),
        ("tom@lincolnpark.example", "Homework club", 90, 1, False),
    ],
    "grace-hill": [
        ("samuel@gracehill.example", "Helping a neighbour", 120, 10, True),
        ("alan@rusheygreen.example", "Food bank shift", 180, 6, True),
    ],
}
# scheme: [(activity name, minutes, first names, note)]
AWARDS = {
    "dc-youth-court": [
        ("Juror at a court session", 240, ["jamal", "ana"], "Tuesday evening session"),
        ("Training session", 240, ["ana"], "Peer advocacy training day"),
    ]
}
REDEMPTIONS = {
    "rushey-green": ("alan@rusheygreen.example", "Place at the Tuesday lunch club"),
    "lincoln-park-tutors": ("maria@lincolnpark.example", "Book of your choice"),
    "dc-youth-court": ("ana@dcyouthcourt.example", "Sports equipment voucher"),
    "grace-hill": ("samuel@gracehill.example", "Basic food parcel"),
}
TRANSFERS = {
    "rushey-green": [
        ("alan@rusheygreen.example", "maud@rusheygreen.example", 30, "Tea and a chat")
    ],
    "grace-hill": [("alan@rusheygreen.example", "samuel@gracehill.example", 60, "Fixed my bike")],
}


def _member(email: str) -> Member:
    return db.session.execute(
        select(Member).join(User, User.id == Member.user_id).where(User.email == email)
    ).scalar_one()


def _coordinator() -> Member:
    return db.session.execute(
        select(Member).where(Member.role == "coordinator").order_by(Member.id).limit(1)
    ).scalar_one()


def _activity(name: str) -> Activity:
    return db.session.execute(select(Activity).where(Activity.name == name)).scalar_one()


def seed_activity() -> None:
    schemes = db.session.execute(select(Scheme).order_by(Scheme.id)).scalars().all()
    for scheme in schemes:
        with tenancy.scheme_context(scheme.id):
            if db.session.execute(select(Transaction.id).limit(1)).first():
                continue
            _seed_scheme(scheme)


def _seed_scheme(scheme: Scheme) -> None:
    coordinator = _coordinator()
    today = scheme_today(scheme)
    for email, activity_name, minutes, days_ago, approved in CLAIMS.get(scheme.slug, []):
        member = _member(email)
        claim = submit_claim(
            scheme,
            coordinator,
            activity_id=_activity(activity_name).id,
            minutes=minutes,
            performed_on=today - timedelta(days=days_ago),
            note=None,
            member_id=member.id,
            is_coordinator=True,
            actor_user_id=coordinator.user_id,
        )
        if approved and claim.status == "pending":
            approve_claim(
                scheme,
                claim.id,
                coordinator,
                is_coordinator=True,
                actor_user_id=coordinator.user_id,
            )
    for activity_name, minutes, first_names, note in AWARDS.get(scheme.slug, []):
        members = [_member(f"{name}@dcyouthcourt.example").id for name in first_names]
        award(
            scheme,
            activity_id=_activity(activity_name).id,
            minutes=minutes,
            member_ids=members,
            note=note,
            actor_user_id=coordinator.user_id,
        )
    for payer, payee, minutes, memo in TRANSFERS.get(scheme.slug, []):
        post_transfer(
            scheme,
            _member(payer),
            to_member_id=_member(payee).id,
            amount=minutes,
            memo=memo,
            actor_user_id=_member(payer).user_id,
        )
    if scheme.slug in REDEMPTIONS:
        email, reward_name = REDEMPTIONS[scheme.slug]
        member = _member(email)
        reward = db.session.execute(select(Reward).where(Reward.name == reward_name)).scalar_one()
        redeem(scheme, member, reward_id=reward.id, quantity=1, actor_user_id=member.user_id)
