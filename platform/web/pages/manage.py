"""A coordinator's pages (``/s/<slug>/manage/…``): the dashboard, its CSV, and first steps.

The other coordinator pages add their routes to this blueprint: people
(claims, members, invitations, imports, awards) in :mod:`.manage_people`, the
catalogue (activities, rewards, the policy) in :mod:`.manage_catalogue`, the
ledger (reversals, exchange agreements) in :mod:`.manage_ledger`. Every view
asks :func:`page_access` for a coordinator (403 otherwise).
"""

from __future__ import annotations

import io
from datetime import date, timedelta
from typing import Any

from flask import Response, request

from timebank.platform.api import spreadsheet
from timebank.platform.web import charts, reads
from timebank.platform.web.forms import Form
from timebank.platform.web.pages.common import page_access, render, scheme_blueprint
from timebank.tenants.access import get_member
from timebank.tenants.groups import services as groups
from timebank.tenants.ledger import services as ledger
from timebank.tenants.policy.services import current_policy
from timebank.tenants.referrals import services as referrals
from timebank.tenants.reports import services as reports

bp = scheme_blueprint("manage", "/manage")


@bp.before_request
def _coordinators_only() -> None:
    page_access(coordinator=True)


@bp.route("/")
def dashboard(slug: str) -> Any:
    access = page_access(coordinator=True)
    weeks = reports.weekly_figures(access.scheme)
    labels = [week.start.strftime("%d %b") for week in weeks]
    hours_chart = charts.bar_chart(
        "Hours earned and spent each week",
        labels,
        [
            ("Earned", [charts.hours(week.earned) for week in weeks]),
            ("Spent on rewards", [charts.hours(week.spent) for week in weeks]),
            ("Paid between members", [charts.hours(week.exchanged) for week in weeks]),
        ],
        label_every=2,
    )
    active_chart = charts.bar_chart(
        "Members active each week",
        labels,
        [("Active members", [float(week.active_members) for week in weeks])],
        unit="members",
        label_every=2,
        whole=True,
    )
    people = reads.directory(access, exclude_self=False) or []
    member_id = _chosen_member(people, default=access.member.id)
    member_chart = None
    if member_id is not None:
        flows = reports.member_given_received(access.scheme, ledger.member_account(member_id).id)
        member_chart = charts.bar_chart(
            f"{ledger.member_names([member_id]).get(member_id, '')}: hours given and received",
            labels,
            [
                ("Given (credits in)", [charts.hours(week["given"]) for week in flows]),
                ("Received (credits out)", [charts.hours(week["received"]) for week in flows]),
            ],
            label_every=2,
        )
    top = reports.top_activities(access.scheme)
    features = current_policy(access.scheme)
    return render(
        "manage/dashboard.html",
        totals=reports.scheme_totals(),
        hours_chart=hours_chart,
        active_chart=active_chart,
        member_chart=member_chart,
        member_id=member_id,
        people=people,
        top=top,
        top_max=max((item["minutes"] for item in top), default=0),
        pending=reads.claims(status="pending", limit=5),
        league=groups.league() if groups.league_shown(access.scheme) else None,
        funnel=_funnel(access.scheme, weeks[0].start, weeks[-1].start + timedelta(days=6))
        if features["referrals"]["enabled"]
        else None,
    )


def _funnel(scheme: Any, start: date, end: date) -> charts.Chart:
    """The referral funnel of the dashboard's twelve weeks, as bars (with its table)."""
    counts = referrals.funnel(scheme, start, end).counts
    stages = list(referrals.STAGES)
    return charts.bar_chart(
        f"Referrals from {start:%d %b} to {end:%d %b}: how far they got "
        f"({counts['declined']} declined, {counts['lost']} lost touch)",
        [referrals.STATUS_LABELS[stage] for stage in stages],
        [("Referrals", [float(counts[stage]) for stage in stages])],
        unit="referrals",
        whole=True,
    )


def _chosen_member(people: list[tuple[int, str]], *, default: int) -> int | None:
    """The member asked for, else the first member other than the coordinator looking."""
    asked = request.args.get("member_id", "")
    if asked.isdecimal() and len(asked) < 19:
        return get_member(int(asked)).id  # 404 for another scheme's member
    others = [member_id for member_id, _name in people if member_id != default]
    return others[0] if others else (people[0][0] if people else None)


@bp.route("/report.csv")
def report_csv(slug: str) -> Response:
    """The weekly figures as CSV, for a spreadsheet or a funder's report."""
    access = page_access(coordinator=True)
    buffer = io.StringIO()
    writer = spreadsheet.writer(buffer)
    writer.writerow(
        [
            "week_starting",
            "minutes_earned",
            "minutes_spent",
            "minutes_paid_between_members",
            "active_members",
        ]
    )
    for week in reports.weekly_figures(access.scheme, weeks=52):
        writer.writerow(
            [week.start.isoformat(), week.earned, week.spent, week.exchanged, week.active_members]
        )
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{access.scheme.slug}-weekly.csv"'},
    )


@bp.route("/welcome")
def welcome(slug: str) -> Any:
    """First steps for the coordinator of a new scheme."""
    return welcome_page(Form(values={"role": "member"}))


def welcome_page(form: Form, status: int = 200) -> Any:
    page_access(coordinator=True)
    return render(
        "manage/welcome.html",
        status,
        form=form,
        activities=reads.activities(active=None),
        rewards=reads.rewards(active=None),
        members=reads.members_page(None, limit=3)[0],
        invitations=reads.open_invitations(),
    )
