"""``timebank demo``: the four sector schemes with people who feel real.

Idempotent: running it again finds what is there and adds nothing twice.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from timebank.platform import tenancy
from timebank.platform.db import db, run_atomic
from timebank.platform.demo_activity import seed_activity
from timebank.platform.demo_listings import seed_listings
from timebank.platform.demo_wellbeing import seed_wellbeing
from timebank.platform.identity.models import User
from timebank.platform.identity.services import find_user_by_email, register_user
from timebank.platform.schemes.models import Scheme
from timebank.platform.schemes.services import create_scheme
from timebank.tenants.memberships.services import join_scheme

SCHEMES = [
    ("rushey-green", "Rushey Green Time Bank", "surgery", "Europe/London"),
    ("lincoln-park-tutors", "Lincoln Park Peer Tutors", "school", "America/Chicago"),
    ("dc-youth-court", "DC Youth Court", "youth_court", "America/New_York"),
    ("grace-hill", "Grace Hill Neighbours", "community", "America/Chicago"),
]

# email, name, what they do, {scheme slug: role}
PEOPLE: list[tuple[str, str, str, dict[str, str]]] = [
    ("ruth@rusheygreen.example", "Ruth Okafor", "coordinator at the surgery",
     {"rushey-green": "coordinator"}),
    ("alan@rusheygreen.example", "Alan Price", "retired, gives lifts; also a Grace Hill neighbour",
     {"rushey-green": "member", "grace-hill": "member"}),
    ("maud@rusheygreen.example", "Maud Ellis", "84, befriended weekly",
     {"rushey-green": "member"}),
    ("deshawn@lincolnpark.example", "DeShawn Carter", "teacher coordinating tutoring",
     {"lincoln-park-tutors": "coordinator"}),
    ("maria@lincolnpark.example", "Maria Lopez", "year 8 maths tutor",
     {"lincoln-park-tutors": "member"}),
    ("tom@lincolnpark.example", "Tom Nguyen", "year 7 reading tutor",
     {"lincoln-park-tutors": "member"}),
    ("keisha@dcyouthcourt.example", "Keisha Brown", "youth court coordinator",
     {"dc-youth-court": "coordinator"}),
    ("jamal@dcyouthcourt.example", "Jamal Reed", "16, juror and clerk",
     {"dc-youth-court": "member"}),
    ("ana@dcyouthcourt.example", "Ana Silva", "17, peer advocate",
     {"dc-youth-court": "member"}),
    ("grace@gracehill.example", "Grace Williams", "neighbourhood coordinator",
     {"grace-hill": "coordinator"}),
    ("samuel@gracehill.example", "Samuel Jones", "fixes bikes, needs lifts; also at Rushey Green",
     {"grace-hill": "member", "rushey-green": "member"}),
]  # fmt: skip


def seed_demo(*, password: str) -> list[dict[str, Any]]:

    users: dict[str, User] = {}
    for email, name, _what, _roles in PEOPLE:
        users[email] = find_user_by_email(email) or register_user(
            email=email, password=password, name=name
        )
    operator_email = "operator@timebank.example"
    if find_user_by_email(operator_email) is None:
        register_user(
            email=operator_email, password=password, name="Olu Operator", is_operator=True
        )

    for slug, name, template, timezone in SCHEMES:
        coordinator = next(
            users[email] for email, _, _, roles in PEOPLE if roles.get(slug) == "coordinator"
        )
        scheme = run_atomic(
            lambda slug=slug: _find(slug)  # type: ignore[misc]
        ) or create_scheme(
            name=name, slug=slug, template=template, timezone=timezone, creator=coordinator
        )
        for email, _name, _what, roles in PEOPLE:
            role = roles.get(slug)
            if role is None or users[email].id == coordinator.id:
                continue

            def add(
                scheme: Scheme = scheme,
                user: User = users[email],
                role: str = role,
                actor_id: int = coordinator.id,
            ) -> None:
                with tenancy.scheme_context(scheme.id):
                    join_scheme(scheme, user, role=role, actor_user_id=actor_id)

            run_atomic(add)

    seed_activity()
    seed_wellbeing()

    seed_listings()
    logins = [
        {"email": email, "description": f"{name} — {what}"} for email, name, what, _ in PEOPLE
    ]
    logins.append({"email": operator_email, "description": "platform operator"})
    return logins


def _find(slug: str) -> Scheme | None:

    return db.session.execute(select(Scheme).where(Scheme.slug == slug)).scalar_one_or_none()
