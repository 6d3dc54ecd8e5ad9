"""Coordinator pages for the ledger: every transaction, reversing one, partner-scheme agreements."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for

from timebank.platform.exchange import services as exchange
from timebank.platform.exchange.schemas import AgreementIn
from timebank.platform.web import reads
from timebank.platform.web.forms import (
    Form,
    Submission,
    read_duration,
    read_optional_text,
    read_text,
)
from timebank.platform.web.pages.common import page_access, render
from timebank.platform.web.pages.manage import bp
from timebank.tenants.ledger import services as ledger
from timebank.tenants.policy.services import current_policy


@bp.route("/transactions")
def transactions(slug: str) -> Any:
    page_access(coordinator=True)
    lines, next_cursor = reads.scheme_transactions(request.args.get("cursor") or None)
    return render(
        "manage/transactions.html",
        lines=lines,
        next_cursor=next_cursor,
        first_page=not request.args.get("cursor"),
    )


@bp.route("/transactions/<int:transaction_id>/reverse", methods=["GET", "POST"])
def reverse(slug: str, transaction_id: int) -> Any:
    access = page_access(coordinator=True)
    original = ledger.get_transaction(transaction_id)  # 404 for another scheme's
    line = reads.describe_for([original], None)[0]
    form = Form()
    status = 200
    if request.method == "POST":
        form = Form.from_request()
        with Submission(form, {"memo": "memo"}) as sent:
            memo = read_optional_text(form, "memo")
            form.check()
            access = page_access(write=True, coordinator=True)
            reversal = ledger.reverse_transaction(
                access.scheme, transaction_id, actor_user_id=access.user.id, memo=memo
            )
        if sent.ok:
            flash(f"Entry {transaction_id} was reversed (correction {reversal.id}).")
            return redirect(url_for("manage.transactions", slug=slug))
        status = sent.status
    return render("manage/reverse.html", status, form=form, line=line)


# --- partner schemes --------------------------------------------------------------------


@bp.route("/partners", methods=["GET", "POST"], endpoint="exchange")
def exchange_page(slug: str) -> Any:
    access = page_access(coordinator=True)
    form = Form(values={"rate": "1"})
    status = 200
    if request.method == "POST":
        form = Form.from_request()
        fields = {"partner": "partner", "rate": "rate", "limit": "limit"}
        with Submission(form, fields) as sent:
            answers = {
                # A pasted web address (…/s/grace-hill/…) is taken as its address part.
                "partner": partner_slug(read_text(form, "partner", required=True, max_length=300)),
                "rate": read_text(form, "rate", max_length=30) or "1",
                "limit": read_duration(form, "limit"),
            }
            form.check()
            body = AgreementIn().load(answers)
            access = page_access(write=True, coordinator=True)
            proposed = exchange.propose_agreement(
                access.scheme,
                partner_slug=body["partner"],
                rate=body["rate"],
                limit=body["limit"],
                actor_user_id=access.user.id,
            )
        if sent.ok:
            flash(
                f"Proposed an agreement to {proposed['partner_name']}. Their coordinator needs to accept it."
            )
            return redirect(url_for("manage.exchange", slug=slug))
        status = sent.status
    return render(
        "manage/exchange.html",
        status,
        form=form,
        agreements=reads.agreements(access.scheme),
        enabled=current_policy(access.scheme)["exchange"]["enabled"],
        partners=exchange.partner_candidates(access.scheme),
    )


def partner_slug(typed: str) -> str:
    """``https://timebank.example/s/grace-hill/`` → ``grace-hill``; anything else as typed."""
    if "/s/" in typed:
        typed = typed.split("/s/", 1)[1].split("/", 1)[0]
    return typed.strip().lower()[:60]


@bp.route(
    "/partners/<int:agreement_id>/<any(accept, decline, suspend, resume, end):action>",
    methods=["POST"],
)
def change_agreement(slug: str, agreement_id: int, action: str) -> Any:
    form = Form()
    with Submission(form) as sent:
        access = page_access(write=True, coordinator=True)
        changed = exchange.change_agreement(
            access.scheme, agreement_id, action, actor_user_id=access.user.id
        )
    if sent.ok:
        flash(f"The agreement with {changed['partner_name']} is now {changed['status']}.")
    else:
        flash(form.message or "That did not work.")
    return redirect(url_for("manage.exchange", slug=slug))
