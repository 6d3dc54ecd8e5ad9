"""Offers and requests pages (``/s/<slug>/listings/…``, ``/s/<slug>/responses/…``) and the
coordinator's queue (``/s/<slug>/manage/listings``).

The pages call the marketplace services the API calls; forms are read into the
API's own schemas, so a page refuses exactly what the API refuses.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, request, url_for

from timebank.platform.api.pagination import keyset_page
from timebank.platform.web.forms import (
    Form,
    Submission,
    read_duration,
    read_ids,
    read_text,
    show_duration,
)
from timebank.platform.web.pages.common import page_access, policy, render, scheme_blueprint
from timebank.tenants.marketplace import categories as listing_categories
from timebank.tenants.marketplace import finding, responses, services
from timebank.tenants.marketplace.models import Listing, ListingResponse
from timebank.tenants.marketplace.schemas import ListingIn, ListingPatch

bp = scheme_blueprint("listings")

KIND_WORDS = {"offer": "Offer", "request": "Request"}
WHERE_WORDS = {"in_person": "In person", "phone": "By phone", "online": "Online"}
STATUS_WORDS = {
    "pending": "waiting for approval",
    "published": "shown",
    "paused": "paused",
    "closed": "closed",
    "expired": "expired",
    "hidden": "hidden by a coordinator",
    "open": "open",
    "agreed": "agreed",
    "completed": "completed",
    "declined": "declined",
    "withdrawn": "withdrawn",
    "disputed": "waiting for a coordinator",
}
LISTING_FIELDS = {
    n: n
    for n in (
        "kind",
        "title",
        "category_id",
        "description",
        "minutes",
        "where",
        "area",
        "availability",
        "expires_on",
        "status",
    )
}


@bp.app_context_processor
def _words() -> dict[str, Any]:
    return {"kind_words": KIND_WORDS, "where_words": WHERE_WORDS, "status_words": STATUS_WORDS}


def _categories() -> list[Any]:
    return listing_categories.all_categories()


# --- finding ----------------------------------------------------------------------------


@bp.route("/listings")
def browse(slug: str) -> Any:
    access = page_access()
    args = request.args
    kind = args.get("kind") if args.get("kind") in ("offer", "request") else None
    category = args.get("category_id", "")
    category_id = int(category) if category.isdigit() and len(category) < 19 else None
    sort = "expiring" if args.get("sort") == "expiring" else "newest"
    mine = args.get("mine") == "1"
    q, area = args.get("q", "")[:200], args.get("area", "")[:80]
    statement = finding.search_statement(
        access, kind=kind, category_id=category_id, q=q, area=area, mine=mine
    )
    rows, next_cursor = finding.search_page(
        statement, sort=sort, limit=20, cursor=args.get("cursor") or None
    )
    categories = _categories()
    return render(
        "listings/browse.html",
        listings=finding.describe_listings(access, rows),
        next_cursor=next_cursor,
        filters={
            "kind": kind or "",
            "category_id": category_id or "",
            "q": q,
            "area": area,
            "sort": sort,
            "mine": "1" if mine else "",
        },
        categories=categories,
        category_names={c.id: c.name for c in categories},
        digest=set(listing_categories.digest_categories(access.member.id)),
        conversations=responses.describe_responses(
            access,
            list(
                keyset_page(
                    responses.my_responses_statement(access),
                    keys=[ListingResponse.id],
                    limit=10,
                    cursor=None,
                    key_of=lambda r: [r.id],
                )[0]
            ),
        ),
        rules=policy()["listings"],
    )


@bp.route("/listings/digest", methods=["POST"])
def digest(slug: str) -> Any:
    access = page_access(write=True)
    chosen = listing_categories.set_digest_categories(
        access, read_ids(Form.from_request(), "category_ids")
    )
    flash(
        "You will get a weekly mail of new listings in the categories you chose."
        if chosen
        else "You will not get the weekly mail of new listings."
    )
    return redirect(url_for("listings.browse", slug=slug))


# --- posting and changing ---------------------------------------------------------------------


OPTIONAL_FIELDS = ("description", "where", "area", "availability")


def _listing_body(form: Form, *, patch: bool = False) -> dict[str, Any]:
    """The form's fields as the API would receive them: blank optional fields are left out
    of a new listing and cleared on an edit."""
    title = read_text(form, "title", required=True, max_length=120)
    body: dict[str, Any] = {"kind": str(form.get("kind")).strip(), "title": title}
    for name in OPTIONAL_FIELDS:
        value = str(form.get(name)).strip()
        if value or patch:
            body[name] = value or None
    category = str(form.get("category_id")).strip()
    body["category_id"] = int(category) if category.isdigit() and len(category) < 19 else 0
    minutes = read_duration(form, "minutes", required=False)
    if minutes is not None or patch:
        body["minutes"] = minutes
    expires = str(form.get("expires_on")).strip()
    if form.get("no_expiry"):
        body["expires_on"] = None
    elif expires:
        body["expires_on"] = expires
    return body


@bp.route("/listings/new", methods=["GET", "POST"])
def new(slug: str) -> Any:
    access = page_access()
    form = Form(values={"kind": request.args.get("kind", "request")})
    status = 200
    if request.method == "POST":
        form = Form.from_request()
        with Submission(form, LISTING_FIELDS) as sent:
            body = _listing_body(form)
            form.check()
            loaded = ListingIn().load(body)
            access = page_access(write=True)
            created = services.create_listing(access, loaded)
        if sent.ok:
            flash(
                "Posted. A coordinator will check it before others see it."
                if created.status == "pending"
                else "Posted: other members can see it now."
            )
            return redirect(url_for("listings.detail", slug=slug, listing_id=created.id))
        status = sent.status
    return render(
        "listings/form.html",
        status,
        form=form,
        category_options=[(c.id, c.name) for c in _categories() if c.active],
        rules=policy()["listings"],
        editing=None,
    )


@bp.route("/listings/<int:listing_id>")
def detail(slug: str, listing_id: int) -> Any:
    access = page_access()
    found = services.get_listing(access, listing_id)
    described = finding.describe_listings(access, [found])[0]
    replies = responses.describe_responses(
        access,
        list(
            keyset_page(
                responses.responses_statement(access, found, status=None),
                keys=[ListingResponse.id],
                limit=50,
                cursor=None,
                descending=False,
                key_of=lambda r: [r.id],
            )[0]
        ),
    )
    return render(
        "listings/detail.html",
        listing=described,
        category=listing_categories.get_category(found.category_id).name,
        replies=replies,
        is_author=found.author_member_id == access.member.id,
        can_respond=found.author_member_id != access.member.id
        and services.is_live(found, services.scheme_today(access.scheme)),
        renew_prompt=request.args.get("renew") == "1",
        form=Form(),
        hide_form=Form(),
    )


@bp.route("/listings/<int:listing_id>/edit", methods=["GET", "POST"])
def edit(slug: str, listing_id: int) -> Any:
    access = page_access()
    found = services.get_listing(access, listing_id)
    if found.author_member_id != access.member.id:
        abort(403)
    form = Form(values=_values(found))
    status = 200
    if request.method == "POST":
        form = Form.from_request()
        with Submission(form, LISTING_FIELDS) as sent:
            body = _listing_body(form, patch=True)
            form.check()
            loaded = ListingPatch().load(body)
            access = page_access(write=True)
            services.update_listing(access, listing_id, loaded)
        if sent.ok:
            flash("Saved.")
            return redirect(url_for("listings.detail", slug=slug, listing_id=listing_id))
        status = sent.status
    return render(
        "listings/form.html",
        status,
        form=form,
        category_options=[
            (c.id, c.name) for c in _categories() if c.active or c.id == found.category_id
        ],
        rules=policy()["listings"],
        editing=found,
    )


def _values(listing: Listing) -> dict[str, Any]:
    return {
        "kind": listing.kind,
        "title": listing.title,
        "category_id": listing.category_id,
        "description": listing.description or "",
        "minutes": show_duration(listing.minutes),
        "where": listing.place or "",
        "area": listing.area or "",
        "availability": listing.availability or "",
        "expires_on": listing.expires_on.isoformat() if listing.expires_on else "",
        "no_expiry": "1" if listing.expires_on is None else "",
    }


@bp.route("/listings/<int:listing_id>/<any(renew, pause, close, publish):action>", methods=["POST"])
def change(slug: str, listing_id: int, action: str) -> Any:
    access = page_access(write=True)
    form = Form()
    with Submission(form) as sent:
        if action == "renew":
            services.renew_listing(access, listing_id)
        else:
            wanted = {"pause": "paused", "close": "closed", "publish": "published"}[action]
            services.update_listing(access, listing_id, {"status": wanted})
    words = {
        "renew": "Renewed: it is shown for longer now.",
        "pause": "Paused: others do not see it until you show it again.",
        "close": "Closed.",
        "publish": "Shown again.",
    }
    flash(words[action] if sent.ok else (form.message or "That did not work."))
    return redirect(url_for("listings.detail", slug=slug, listing_id=listing_id))


@bp.route("/listings/<int:listing_id>/respond", methods=["POST"])
def respond(slug: str, listing_id: int) -> Any:
    access = page_access()
    found = services.get_listing(access, listing_id)
    form = Form.from_request()
    with Submission(form, {"message": "message"}) as sent:
        message = read_text(form, "message", required=True, max_length=2000)
        form.check()
        access = page_access(write=True)
        made = responses.respond(access, listing_id, message=message)
    if sent.ok:
        flash("Sent. You will get a mail when they answer.")
        return redirect(url_for("listings.conversation", slug=slug, response_id=made.id))
    described = finding.describe_listings(access, [found])[0]
    return render(
        "listings/detail.html",
        sent.status,
        listing=described,
        category=listing_categories.get_category(found.category_id).name,
        replies=[],
        is_author=False,
        can_respond=True,
        renew_prompt=False,
        form=form,
        hide_form=Form(),
    )


# --- coordinators -------------------------------------------------------------------------------


@bp.route("/manage/listings", methods=["GET"])
def manage(slug: str) -> Any:
    access = page_access(coordinator=True)
    days = request.args.get("days", "7")
    days_value = int(days) if days.isdigit() and len(days) < 5 else 7
    pending, _ = finding.search_page(
        finding.search_statement(access, status="pending"), sort="newest", limit=50, cursor=None
    )
    unanswered, _ = keyset_page(
        finding.unanswered_requests_statement(access, days=days_value),
        keys=[Listing.id],
        limit=50,
        cursor=None,
        descending=False,
        key_of=lambda listing: [listing.id],
    )
    disputed = list(
        keyset_page(
            responses.disputed_statement(),
            keys=[ListingResponse.id],
            limit=50,
            cursor=None,
            descending=False,
            key_of=lambda r: [r.id],
        )[0]
    )
    return render(
        "listings/manage.html",
        pending=finding.describe_listings(access, pending),
        unanswered=finding.describe_listings(access, unanswered),
        disputed=responses.describe_responses(access, disputed),
        days=days_value,
        categories=_categories(),
        category_form=Form(),
        rules=policy()["listings"],
    )


@bp.route("/manage/listings/<int:listing_id>/<any(approve, hide):action>", methods=["POST"])
def moderate(slug: str, listing_id: int, action: str) -> Any:
    access = page_access(write=True, coordinator=True)
    services.get_listing(access, listing_id)  # another scheme's: 404
    form = Form.from_request()
    with Submission(form, {"reason": "reason"}) as sent:
        if action == "approve":
            services.approve_listing(access, listing_id)
        else:
            reason = read_text(form, "reason", required=True)
            form.check()
            services.hide_listing(access, listing_id, reason=reason)
    if sent.ok:
        flash("Approved: members can see it now." if action == "approve" else "Hidden.")
    else:
        flash(form.error("reason") or form.message or "That did not work.")
    if request.form.get("back") == "listing":
        return redirect(url_for("listings.detail", slug=slug, listing_id=listing_id))
    return redirect(url_for("listings.manage", slug=slug))


@bp.route("/manage/listings/categories", methods=["POST"])
def add_category(slug: str) -> Any:
    access = page_access(write=True, coordinator=True)
    form = Form.from_request()
    with Submission(form, {"name": "name"}) as sent:
        name = read_text(form, "name", required=True, max_length=60)
        form.check()
        listing_categories.create_category(access.scheme, name, actor_user_id=access.user.id)
    flash(f"Added “{name}”." if sent.ok else (form.error("name") or form.message or "No."))
    return redirect(url_for("listings.manage", slug=slug))


@bp.route("/manage/listings/categories/<int:category_id>", methods=["POST"])
def toggle_category(slug: str, category_id: int) -> Any:
    access = page_access(write=True, coordinator=True)
    category = listing_categories.get_category(category_id)
    listing_categories.update_category(
        access.scheme, category_id, {"active": not category.active}, actor_user_id=access.user.id
    )
    flash(f"“{category.name}” is {'in use' if category.active else 'no longer used'}.")
    return redirect(url_for("listings.manage", slug=slug))
