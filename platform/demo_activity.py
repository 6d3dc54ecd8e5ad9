"""Demo history: twelve weeks of help given and received in each scheme.

Everything goes through the real services (claims, approvals, awards,
redemptions, transfers), so the demo ledgers pass ``timebank ledger verify``.
Each week of the last twelve repeats the scheme's pattern under a clock set to
that week (``clock_at``), so the dashboard's charts show a living scheme rather
than one bar. Skipped for a scheme that already has history, so ``timebank
demo`` can run twice.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from sqlalchemy import select

from timebank.platform import tenancy
from timebank.platform.api.errors import FieldError, RuleViolation
from timebank.platform.db import clock_at, db, run_atomic
from timebank.platform.identity.models import User
from timebank.platform.identity.services import register_user
from timebank.platform.schemes.models import Scheme
from timebank.platform.schemes.sandboxes import generated_email, register_sandbox_filler
from timebank.tenants.earning.awards import award
from timebank.tenants.earning.models import Activity
from timebank.tenants.earning.services import approve_claim, submit_claim
from timebank.tenants.ledger.models import Account, Transaction
from timebank.tenants.ledger.services import post_transfer
from timebank.tenants.memberships.models import Member
from timebank.tenants.memberships.services import join_scheme
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


# --- generated history (sandbox schemes) ---------------------------------------

FIRST_NAMES = ("Alex", "Bea", "Cal", "Dee", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jo", "Kit", "Lou")


def seed_generated(scheme: Scheme, coordinator: User, *, people: int = 10, weeks: int = 4) -> None:
    """Generated members and ``weeks`` of claims, transfers and redemptions (a sandbox).

    Like the demo's history, week by week under ``clock_at`` and through the real
    services; a rule that refuses one (a cap, a limit) skips it. Sittings are not
    generated (no scheme has them yet).
    """
    rng = random.Random(scheme.id)
    members = run_atomic(lambda: _generated_members(scheme, coordinator, people))
    now = datetime.now(UTC)
    for weeks_ago in range(weeks - 1, -1, -1):
        moment = now - timedelta(weeks=weeks_ago)
        with clock_at(moment):
            run_atomic(partial(_generated_week, scheme, coordinator, members, moment, rng))


def _generated_members(scheme: Scheme, coordinator: User, people: int) -> list[int]:
    with tenancy.scheme_context(scheme.id):
        ids = []
        for n in range(people):
            user = register_user(
                email=generated_email(scheme.id, n),
                password=secrets.token_urlsafe(24),
                name=f"{FIRST_NAMES[n % len(FIRST_NAMES)]} Example {n + 1}",
            )
            ids.append(join_scheme(scheme, user, role="member", actor_user_id=coordinator.id).id)
        return ids


def _generated_week(
    scheme: Scheme,
    coordinator: User,
    members: list[int],
    moment: datetime,
    rng: random.Random,
) -> None:
    with tenancy.scheme_context(scheme.id):
        me = db.session.execute(select(Member).where(Member.user_id == coordinator.id)).scalar_one()
        activities = list(
            db.session.execute(select(Activity).where(Activity.active.is_(True))).scalars()
        )
        day = moment.astimezone(ZoneInfo(scheme.timezone)).date()
        for member_id in members:
            if not activities:
                break
            _try(
                partial(
                    _generated_claim, scheme, me, member_id, rng.choice(activities),
                    rng.choice((30, 60, 90, 120)),
                    day - timedelta(days=rng.randint(0, day.weekday())),
                )
            )  # fmt: skip
        for payer_id in rng.sample(members, k=min(3, len(members))):
            payer = db.session.execute(select(Member).where(Member.id == payer_id)).scalar_one()
            payee = rng.choice([m for m in members if m != payer_id] or [me.id])
            _try(
                partial(
                    post_transfer, scheme, payer, to_member_id=payee,
                    amount=rng.choice((15, 30, 60)), memo="Thank you",
                    actor_user_id=coordinator.id,
                )
            )  # fmt: skip
        rewards = list(db.session.execute(select(Reward).where(Reward.active.is_(True))).scalars())
        if rewards:
            cheapest = min(rewards, key=lambda reward: reward.price)
            buyer_id = rng.choice(members)
            buyer = db.session.execute(select(Member).where(Member.id == buyer_id)).scalar_one()
            if _balance(buyer) >= cheapest.price:
                _try(
                    lambda: redeem(
                        scheme, buyer, reward_id=cheapest.id, quantity=1,
                        actor_user_id=coordinator.id,
                    )
                )  # fmt: skip


def _generated_claim(
    scheme: Scheme, me: Member, member_id: int, activity: Activity, minutes: int, day: date
) -> None:
    claim = submit_claim(
        scheme, me, activity_id=activity.id, minutes=minutes, performed_on=day, note="Generated",
        member_id=member_id, is_coordinator=True, actor_user_id=me.user_id,
    )  # fmt: skip
    if claim.status == "pending":
        approve_claim(scheme, claim.id, me, is_coordinator=True, actor_user_id=me.user_id)


def _try(action: Callable[[], object]) -> None:
    """Run one generated action in a savepoint; a rule's refusal skips it."""
    try:
        with db.session.begin_nested():
            action()
    except (RuleViolation, FieldError):
        pass


register_sandbox_filler(seed_generated)
