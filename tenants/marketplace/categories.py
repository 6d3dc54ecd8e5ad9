"""The scheme's listing categories (seeded from its template, kept by coordinators) and
each member's choice of categories for the weekly digest of new listings."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from timebank.platform import audit
from timebank.platform.api.errors import Conflict, FieldError, NotFound
from timebank.platform.db import atomic, db
from timebank.platform.identity.models import User
from timebank.platform.schemes.models import Scheme
from timebank.platform.schemes.services import provisioner
from timebank.tenants.access import Access
from timebank.tenants.marketplace.models import ListingCategory, ListingDigestCategory

# --- categories -----------------------------------------------------------------------


@provisioner(order=45)
def provision_categories(scheme: Scheme, data: dict[str, Any], creator: User) -> None:
    """Seed the template's listing categories."""
    for name in data.get("listing_categories", []):
        db.session.add(ListingCategory(scheme_id=scheme.id, name=name, active=True))


def categories_query(*, active: bool | None = None) -> Any:
    statement = select(ListingCategory)
    if active is not None:
        statement = statement.where(ListingCategory.active.is_(active))
    return statement


def all_categories() -> list[ListingCategory]:
    return list(
        db.session.execute(select(ListingCategory).order_by(ListingCategory.name)).scalars()
    )


def get_category(category_id: int) -> ListingCategory:
    category = db.session.execute(
        select(ListingCategory).where(ListingCategory.id == category_id)
    ).scalar_one_or_none()
    if category is None:
        raise NotFound("No such category in this scheme.")
    return category


def resolve_category(field: str, category_id: int) -> ListingCategory:
    """An active category of this scheme named by a request body, or a 422 on ``field``."""
    category = db.session.execute(
        select(ListingCategory).where(ListingCategory.id == category_id)
    ).scalar_one_or_none()
    if category is None:
        raise FieldError(field, "No category with this id in this scheme.")
    if not category.active:
        raise FieldError(field, f"“{category.name}” is no longer used in this scheme.")
    return category


def _name_taken(name: str, *, other_than: int | None = None) -> None:
    statement = select(ListingCategory.id).where(
        func.lower(ListingCategory.name) == name.strip().lower()
    )
    if other_than is not None:
        statement = statement.where(ListingCategory.id != other_than)
    if db.session.execute(statement).first() is not None:
        raise Conflict(
            f"There is already a category called “{name.strip()}”.", code="category_exists"
        )


@atomic
def create_category(scheme: Scheme, name: str, *, actor_user_id: int) -> ListingCategory:
    _name_taken(name)
    category = ListingCategory(scheme_id=scheme.id, name=name.strip(), active=True)
    db.session.add(category)
    try:
        db.session.flush()
    except IntegrityError as error:
        raise Conflict(
            "There is already a category with this name.", code="category_exists"
        ) from error
    audit.record(
        scheme.id,
        "listing_category.created",
        actor_user_id=actor_user_id,
        target=f"listing_category:{category.id}",
        details={"name": category.name},
    )
    return category


@atomic
def update_category(
    scheme: Scheme, category_id: int, changes: dict[str, Any], *, actor_user_id: int
) -> ListingCategory:
    category = get_category(category_id)
    if "name" in changes:
        _name_taken(changes["name"], other_than=category.id)
        changes = {**changes, "name": changes["name"].strip()}
    before = {key: getattr(category, key) for key in changes}
    for key, value in changes.items():
        setattr(category, key, value)
    db.session.flush()
    audit.record(
        scheme.id,
        "listing_category.changed",
        actor_user_id=actor_user_id,
        target=f"listing_category:{category.id}",
        details={"before": before, "after": changes},
    )
    return category


# --- the weekly digest: a member's categories -------------------------------------------


def digest_categories(member_id: int) -> list[int]:
    return list(
        db.session.execute(
            select(ListingDigestCategory.category_id)
            .where(ListingDigestCategory.member_id == member_id)
            .order_by(ListingDigestCategory.category_id)
        ).scalars()
    )


@atomic
def set_digest_categories(access: Access, category_ids: list[int]) -> list[int]:
    """Replace the caller's digest categories (``[]``: no digest)."""
    wanted = sorted(set(category_ids))
    known = set(
        db.session.execute(
            select(ListingCategory.id).where(ListingCategory.id.in_(wanted))
        ).scalars()
    )
    for index, category_id in enumerate(category_ids):
        if category_id not in known:
            raise FieldError(f"category_ids.{index}", "No category with this id in this scheme.")
    db.session.execute(
        delete(ListingDigestCategory).where(ListingDigestCategory.member_id == access.member.id)
    )
    for category_id in wanted:
        db.session.add(
            ListingDigestCategory(
                scheme_id=access.scheme.id, member_id=access.member.id, category_id=category_id
            )
        )
    db.session.flush()
    return wanted
