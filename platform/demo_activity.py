"""Demo history: twelve weeks of help given and received in each scheme.

Everything goes through the real services (claims, approvals, awards,
redemptions, transfers), so the demo ledgers pass ``timebank ledger verify``.
Each week of the last twelve repeats the scheme's pattern under a clock set to
that week (``clock_at``), so the dashboard's charts show a living scheme rather
than one bar. Skipped for a scheme that already has history, so ``timebank
demo`` can run twice.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from timebank.platform import tenancy
from timebank.platform.db import clock_at, db
from timebank.platform.identity.models import User
from timebank.platform.schemes.models import Scheme
from timebank.tenants.earning.awards import award
from timebank.tenants.earning.models import Activity
from timebank.tenants.earning.services import approve_claim, submit_claim
from timebank.tenants.ledger.models import Account, Transaction
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


WEEKS = 12
REDEEM_EVERY = 3  # weeks


def _seed_scheme(scheme: Scheme) -> None:
    now = datetime.now(UTC)
    for weeks_ago in range(WEEKS - 1, -1, -1):
        # Mid-morning on a weekday-ish spread, oldest week first (ids follow time).
        moment = now - timedelta(weeks=weeks_ago, hours=(weeks_ago % 3) * 5)
        with clock_at(moment):
            _seed_week(scheme, moment, weeks_ago)


def _seed_week(scheme: Scheme, moment: datetime, weeks_ago: int) -> None:
    coordinator = _coordinator()
    day = moment.astimezone(ZoneInfo(scheme.timezone)).date()  # the scheme's own calendar
    for email, activity_name, minutes, days_ago, approved in CLAIMS.get(scheme.slug, []):
        member = _member(email)
        # Within the moment's own calendar week: weekly caps hold for every week.
        performed_on = day - timedelta(days=min(days_ago % 7, day.weekday()))
        claim = submit_claim(
            scheme,
            coordinator,
            activity_id=_activity(activity_name).id,
            minutes=minutes,
            performed_on=performed_on,
            note=None,
            member_id=member.id,
            is_coordinator=True,
            actor_user_id=coordinator.user_id,
        )
        # Older claims were all decided; this week's unapproved ones still wait.
        if (approved or weeks_ago > 0) and claim.status == "pending":
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
        if _balance(_member(payer)) < minutes:
            continue
        post_transfer(
            scheme,
            _member(payer),
            to_member_id=_member(payee).id,
            amount=minutes,
            memo=memo,
            actor_user_id=_member(payer).user_id,
        )
    if scheme.slug in REDEMPTIONS and weeks_ago % REDEEM_EVERY == 0:
        email, reward_name = REDEMPTIONS[scheme.slug]
        member = _member(email)
        reward = db.session.execute(select(Reward).where(Reward.name == reward_name)).scalar_one()
        if _balance(member) >= reward.price and (reward.stock is None or reward.stock > 0):
            redeem(scheme, member, reward_id=reward.id, quantity=1, actor_user_id=member.user_id)


def _balance(member: Member) -> int:
    return int(
        db.session.execute(
            select(Account.balance).where(Account.member_id == member.id)
        ).scalar_one_or_none()
        or 0
    )
