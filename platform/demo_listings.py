"""Demo offers and requests: a few listings in the surgery and neighbourhood schemes, one
exchange agreed and confirmed, one conversation still open.

Through the real services (so the ledger still verifies); skipped for a scheme
that already has listings, so ``timebank demo`` can run twice.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from timebank.platform import tenancy
from timebank.platform.db import db
from timebank.platform.identity.models import User
from timebank.platform.schemes.models import Scheme
from timebank.tenants.access import Access
from timebank.tenants.marketplace import exchanges, responses, services
from timebank.tenants.marketplace.models import Listing, ListingCategory
from timebank.tenants.memberships.models import Member

# scheme: [(author e-mail, kind, title, category, minutes, area, description)]
LISTINGS = {
    "rushey-green": [
        ("maud@rusheygreen.example", "request", "Lift to the eye clinic on Thursday", "Lifts",
         90, "Catford", "The appointment is at 10:30; I can't take the bus after the drops."),
        ("alan@rusheygreen.example", "offer", "Help filling in forms", "Form filling",
         60, "Catford", "Blue badge, pension credit, housing: I have done them all."),
        ("samuel@gracehill.example", "offer", "Weekly shopping run", "Shopping",
         60, "Hither Green", None),
    ],
    "grace-hill": [
        ("samuel@gracehill.example", "offer", "Bike repairs and tune-ups", "DIY and repairs",
         60, "Old North", "Punctures, brakes, gears. Bring the bike round."),
        ("alan@rusheygreen.example", "request", "Help planting the front garden", "Gardening",
         120, "Old North", None),
    ],
}  # fmt: skip


def seed_listings() -> None:
    for scheme in db.session.execute(select(Scheme).order_by(Scheme.id)).scalars().all():
        if scheme.slug not in LISTINGS:
            continue
        with tenancy.scheme_context(scheme.id):
            if db.session.execute(select(Listing.id).limit(1)).first():
                continue
            _seed(scheme)


def _access(scheme: Scheme, email: str) -> Access:
    member, user = db.session.execute(
        select(Member, User).join(User, User.id == Member.user_id).where(User.email == email)
    ).one()
    return Access(scheme=scheme, member=member, user=user)


def _seed(scheme: Scheme) -> None:
    categories = dict(db.session.execute(select(ListingCategory.name, ListingCategory.id)).all())
    posted = []
    for email, kind, title, category, minutes, area, description in LISTINGS[scheme.slug]:
        posted.append(
            services.create_listing(
                _access(scheme, email),
                {
                    "kind": kind,
                    "title": title,
                    "category_id": categories[category],
                    "minutes": minutes,
                    "where": "in_person",
                    "area": area,
                    "description": description,
                },
            )
        )
    if scheme.slug == "grace-hill":
        # Alan's bike was mended: agreed and confirmed, credits moved once.
        alan = _access(scheme, "alan@rusheygreen.example")
        samuel = _access(scheme, "samuel@gracehill.example")
        reply = responses.respond(alan, posted[0].id, message="My back brake squeals. Saturday?")
        responses.post_message(samuel, reply.id, body="Saturday at 10 is fine.")
        responses.agree(samuel, reply.id, minutes=60, on=date.today())
        exchanges.confirm(alan, reply.id, minutes=45)
    if scheme.slug == "rushey-green":
        alan = _access(scheme, "alan@rusheygreen.example")
        responses.respond(alan, posted[0].id, message="I can take you, Maud. 10 o'clock pick-up?")
