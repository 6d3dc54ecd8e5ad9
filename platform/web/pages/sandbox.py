"""A sandbox's own pages (``/s/<slug>/sandbox/…``): its generated people, seeing the
member pages as one of them, resetting it, turning it live.

Only a coordinator of a sandbox reaches them; in a live scheme they are a 404.
Acting as a member is a session mark read by the scheme gate
(:func:`timebank.tenants.access._acting_as`), which ignores it in a live scheme.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, session, url_for
from sqlalchemy import select

from timebank.platform.db import db
from timebank.platform.identity.models import User
from timebank.platform.schemes import sandboxes
from timebank.platform.web.forms import Form
from timebank.platform.web.pages.common import page_access, render, scheme_blueprint
from timebank.tenants.access import ACT_AS_KEY, Access, scheme_access
from timebank.tenants.ledger.models import Account
from timebank.tenants.memberships.models import Member

bp = scheme_blueprint("sandbox", "/sandbox")


def _sandbox_coordinator() -> Access:
    access = page_access(coordinator=True)
    if not access.scheme.sandbox:
        abort(404)
    return access


def _generated() -> list[dict[str, Any]]:
    rows = db.session.execute(
        select(Member.id, User.name, Account.balance)
        .join(User, User.id == Member.user_id)
        .join(Account, Account.member_id == Member.id)
        .where(User.email.like(f"%{sandboxes.GENERATED_DOMAIN}"), Member.status == "active")
        .order_by(Member.id)
    ).all()
    return [{"id": i, "name": name, "balance": balance} for i, name, balance in rows]


@bp.route("/")
def overview(slug: str) -> Any:
    access = _sandbox_coordinator()
    return render("sandbox/overview.html", people=_generated(), form=Form(), access=access)


@bp.route("/act-as/<int:member_id>", methods=["POST"])
def act_as(slug: str, member_id: int) -> Any:
    access = _sandbox_coordinator()
    if member_id not in {person["id"] for person in _generated()}:
        abort(404)
    session[ACT_AS_KEY] = {**session.get(ACT_AS_KEY, {}), access.scheme.slug: member_id}
    return redirect(url_for("member.overview", slug=slug))


@bp.route("/act-as/exit", methods=["POST"])
def stop_acting(slug: str) -> Any:
    marks = dict(session.get(ACT_AS_KEY, {}))
    marks.pop(slug, None)
    session[ACT_AS_KEY] = marks
    flash("You are yourself again.")
    return redirect(url_for("sandbox.overview", slug=slug))


@bp.route("/reset", methods=["POST"])
def reset(slug: str) -> Any:
    access = _sandbox_coordinator()
    access = scheme_access(slug, write=True, coordinator=True)
    sandboxes.reset(access.scheme, actor=access.user)
    flash("The sandbox has fresh people and history; your rules, activities and rewards are kept.")
    return redirect(url_for("sandbox.overview", slug=slug))


@bp.route("/go-live", methods=["POST"])
def go_live(slug: str) -> Any:
    access = _sandbox_coordinator()
    access = scheme_access(slug, write=True, coordinator=True)
    session.pop(ACT_AS_KEY, None)
    scheme = sandboxes.go_live(access.scheme, actor=access.user)
    flash(f"{scheme.name} is live: the generated people and history are gone. Invite your members.")
    return redirect(url_for("manage.dashboard", slug=slug))
