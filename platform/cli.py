"""The ``timebank`` command: a Flask CLI group (``run``, ``db``, ``demo``, ``operators``, ``ledger``)."""

from __future__ import annotations

import sys
from typing import Any

import click
from flask import Flask
from flask.cli import FlaskGroup, with_appcontext


def _create_app() -> Flask:
    from timebank.platform.app import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False)
def main() -> None:
    """Timebank: run the platform and manage it."""


operators = click.Group("operators", help="Platform operators.")
ledger = click.Group("ledger", help="Ledger checks and maintenance.")
statement = click.Group("statement", help="Member statements.")


@operators.command("create")
@click.argument("email")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--name", default="Platform operator", show_default=True)
@with_appcontext
def create_operator(email: str, password: str, name: str) -> None:
    """Create a platform operator (or make an existing user one)."""
    from sqlalchemy import update

    from timebank.platform.api.errors import Conflict
    from timebank.platform.db import db
    from timebank.platform.identity.models import User
    from timebank.platform.identity.services import find_user_by_email, register_user

    if len(password) < 8:
        raise click.BadParameter("at least 8 characters", param_hint="--password")
    try:
        user = register_user(email=email, password=password, name=name, is_operator=True)
        click.echo(f"Created operator {user.email}.")
    except Conflict:
        existing = find_user_by_email(email)
        assert existing is not None
        db.session.execute(update(User).where(User.id == existing.id).values(is_operator=True))
        db.session.commit()
        click.echo(f"{existing.email} is now an operator.")


@ledger.command("verify")
@click.option("--scheme", "slug", default=None, help="Only this scheme.")
@with_appcontext
def verify(slug: str | None) -> None:
    """Check every ledger invariant; exit 1 on a break (2 on an unknown scheme)."""
    from timebank.tenants.access import find_scheme
    from timebank.tenants.ledger.verify import verify_ledger

    if slug is not None and find_scheme(slug) is None:
        # A mistyped name is a usage error, not a broken ledger.
        raise click.BadParameter(f"no scheme {slug!r}", param_hint="--scheme")
    report = verify_ledger(slug)
    for line in report.lines():
        click.echo(line)
    if report.breaks:
        sys.exit(1)


@ledger.command("roots")
@click.option(
    "--day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The day to publish roots for (default: yesterday, UTC).",
)
@with_appcontext
def roots(day: Any) -> None:
    """Publish each scheme's daily ledger root (a day already published is kept)."""
    from timebank.tenants.ledger.proofs import take_roots

    result = take_roots(day.date() if day else None)
    click.echo(f"roots taken: {result['taken']}, already published: {result['already']}")


@statement.command("verify")
@click.argument("file", type=click.Path(dir_okay=False))
def verify_statement(file: str) -> None:
    """Check a saved statement proof (JSON): exit 0 when it holds, 1 where it breaks."""
    from timebank.tenants.ledger.chain import main as verify_proof_file

    sys.exit(verify_proof_file([file]))


@ledger.command("expire")
@click.option("--scheme", "slug", default=None, help="Only this scheme.")
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The day to lapse credits for (default: each scheme's today).",
)
@with_appcontext
def expire(slug: str | None, as_of: Any) -> None:
    """Lapse credits past their scheme's expiry and warn members whose credits lapse soon."""
    from timebank.tenants.spending.expiry import expire_all

    try:
        results = expire_all(slug, as_of.date() if as_of else None)
    except LookupError as error:
        raise click.BadParameter(f"no scheme {slug!r}", param_hint="--scheme") from error
    for result in results:
        click.echo(
            f"{result['scheme']}: {result['minutes']} minutes lapsed, "
            f"{result['notices']} notice(s) sent (as of {result['as_of']})"
        )


@click.command("demo")
@click.option("--password", default="timebank-demo", show_default=True)
@with_appcontext
def demo(password: str) -> None:
    """Seed the four sector schemes with demo people and print their logins."""
    from timebank.platform.demo import seed_demo

    logins: list[dict[str, Any]] = seed_demo(password=password)
    click.echo(f"Demo logins (password: {password})")
    for login in logins:
        click.echo(f"  {login['email']:<32} {login['description']}")


def register_commands(app: Flask) -> None:
    from timebank.worker.cli import members, worker_command

    app.cli.add_command(worker_command)
    app.cli.add_command(members)
    app.cli.add_command(operators)
    app.cli.add_command(ledger)
    app.cli.add_command(statement)
    app.cli.add_command(demo)
