"""A listing's life after it is posted: the warning before it expires, the nightly
expiry, and the weekly digest of new listings for members who asked for one.

Each is idempotent: a warning is sent once per expiry date (``expiry_notice_for``
remembers it; renewing clears it), expiring sets a status only once, and a
week's digest is recorded in the audit trail and never sent twice.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from timebank.platform import audit
from timebank.platform.audit import AuditEvent
from timebank.platform.db import atomic, db
from timebank.platform.schemes.models import Scheme
from timebank.tenants.marketplace import notices
from timebank.tenants.marketplace.models import Listing, ListingCategory, ListingDigestCategory
from timebank.tenants.memberships.models import Member

WARN_DAYS = 7
DIGEST_LISTED = 20


@atomic
def expire_listings(scheme: Scheme, as_of: date) -> int:
    """Mark published and paused listings whose last day was before ``as_of`` expired."""
    result = db.session.execute(
        update(Listing)
        .where(
            Listing.status.in_(("published", "paused")),
            Listing.expires_on.is_not(None),
            Listing.expires_on < as_of,
        )
        .values(status="expired")
        .execution_options(synchronize_session=False)
    )
    count = int(result.rowcount)  # type: ignore[attr-defined]
    if count:
        audit.record(
            scheme.id,
            "listings.expired",
            actor_user_id=None,
            target=f"day:{as_of.isoformat()}",
            details={"count": count},
        )
    return count


@atomic
def warn_expiring(scheme: Scheme, as_of: date) -> int:
    """Mail authors whose listing shows for ``WARN_DAYS`` days or fewer: renew with one click."""
    due = list(
        db.session.execute(
            select(Listing)
            .where(
                Listing.status.in_(("published", "paused")),
                Listing.expires_on.is_not(None),
                Listing.expires_on >= as_of,
                Listing.expires_on <= as_of + timedelta(days=WARN_DAYS),
                (Listing.expiry_notice_for.is_(None))
                | (Listing.expiry_notice_for != Listing.expires_on),
            )
            .order_by(Listing.id)
            .with_for_update()
        ).scalars()
    )
    users = notices.member_users([listing.author_member_id for listing in due])
    for listing in due:
        assert listing.expires_on is not None
        listing.expiry_notice_for = listing.expires_on
        user = users.get(listing.author_member_id)
        if user is None:
            continue
        notices.notify(
            [user],
            scheme,
            subject=f"Your listing “{listing.title}” ends on {listing.expires_on:%d %B}",
            lines=[
                f"Your {listing.kind} “{listing.title}” in {scheme.name} is shown until "
                f"{listing.expires_on:%A %d %B %Y}.",
                "To keep it up for longer, renew it with one click on its page. "
                "If you do nothing it simply stops being shown.",
            ],
            path=f"/listings/{listing.id}?renew=1",
            link_text="Renew my listing",
        )
    db.session.flush()
    return len(due)


@atomic
def send_digest(scheme: Scheme, week: str, *, now: datetime) -> int:
    """Mail each member who chose categories the listings posted in them in the last 7 days."""
    target = f"week:{week}"
    already = db.session.execute(
        select(AuditEvent.id).where(
            AuditEvent.action == "listings_digest.sent", AuditEvent.target == target
        )
    ).first()
    if already is not None:
        return 0
    today = now.astimezone(ZoneInfo(scheme.timezone)).date()
    since = datetime.combine(today - timedelta(days=7), time.min, ZoneInfo(scheme.timezone))
    wanted: dict[int, set[int]] = defaultdict(set)
    for member_id, category_id in db.session.execute(
        select(ListingDigestCategory.member_id, ListingDigestCategory.category_id)
        .join(
            Member,
            (Member.scheme_id == ListingDigestCategory.scheme_id)
            & (Member.id == ListingDigestCategory.member_id),
        )
        .where(Member.status == "active")
    ).all():
        wanted[member_id].add(category_id)
    if not wanted:
        return 0
    categories = {c.id: c.name for c in db.session.execute(select(ListingCategory)).scalars()}
    fresh = list(
        db.session.execute(
            select(Listing)
            .where(
                Listing.status == "published",
                Listing.created_at >= since,
                (Listing.expires_on.is_(None)) | (Listing.expires_on >= today),
                Listing.category_id.in_({c for chosen in wanted.values() for c in chosen}),
            )
            .order_by(Listing.id.desc())
        ).scalars()
    )
    users = notices.member_users(list(wanted))
    sent = 0
    for member_id, chosen in sorted(wanted.items()):
        mine = [
            listing
            for listing in fresh
            if listing.category_id in chosen and listing.author_member_id != member_id
        ][:DIGEST_LISTED]
        user = users.get(member_id)
        if not mine or user is None:
            continue
        notices.notify(
            [user],
            scheme,
            subject=f"New offers and requests in {scheme.name}",
            lines=[
                "New this week in the categories you follow:",
                *(
                    f"• {'Offer' if item.kind == 'offer' else 'Request'}: {item.title} "
                    f"({categories.get(item.category_id, '')})"
                    for item in mine
                ),
                "You chose to get this weekly mail; change your categories on the "
                "offers and requests page.",
            ],
            path="/listings",
            link_text="See offers and requests",
        )
        sent += 1
    audit.record(
        scheme.id,
        "listings_digest.sent",
        actor_user_id=None,
        target=target,
        details={"messages": sent},
    )
    return sent
