"""CLI commands of background work: ``timebank worker`` and ``timebank members import``."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from timebank.platform.jobs import QUEUES


@click.command("worker")
@click.option(
    "--queues",
    default=",".join(QUEUES),
    show_default=True,
    help="Comma-separated queues to work, in priority order.",
)
@click.option("--with-scheduler", is_flag=True, help="Also run the periodic scheduler.")
@click.option("--burst", is_flag=True, help="Quit when the queues are empty.")
@click.option(
    "--scheduler-interval", default=60, show_default=True, help="Seconds between scheduler ticks."
)
@with_appcontext
def worker_command(queues: str, with_scheduler: bool, burst: bool, scheduler_interval: int) -> None:
    """Run RQ workers on the platform's queues (needs REDIS_URL)."""
    from timebank.worker.runner import run_worker

    names = [name.strip() for name in queues.split(",") if name.strip()]
    try:
        run_worker(
            current_app._get_current_object(),  # type: ignore[attr-defined]
            names,
            with_scheduler=with_scheduler,
            burst=burst,
            scheduler_interval=scheduler_interval,
        )
    except (ValueError, RuntimeError) as error:
        raise click.UsageError(str(error)) from error


members = click.Group("members", help="Scheme members.")


@members.command("import")
@click.argument("slug")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--actor",
    "actor_email",
    default=None,
    help="E-mail of the coordinator the invitations come from (default: the scheme's creator).",
)
@with_appcontext
def import_members(slug: str, file: Path, actor_email: str | None) -> None:
    """Invite the people in a CSV (columns name,email,role) to a scheme, with a progress bar."""
    from sqlalchemy import select

    from timebank.platform import tenancy
    from timebank.platform.api.errors import ApiError
    from timebank.platform.db import db
    from timebank.platform.identity.models import User
    from timebank.platform.identity.services import find_user_by_email
    from timebank.tenants.access import find_scheme
    from timebank.tenants.memberships import imports
    from timebank.tenants.memberships.models import Member

    scheme = find_scheme(slug)
    if scheme is None:
        raise click.BadParameter(f"no scheme {slug!r}", param_hint="SLUG")
    with tenancy.scheme_context(scheme.id):
        actor = (
            find_user_by_email(actor_email)
            if actor_email
            else (db.session.get(User, scheme.created_by) if scheme.created_by else None)
        )
        if actor is None:
            raise click.BadParameter("no such user", param_hint="--actor")
        role = db.session.execute(
            select(Member.role).where(Member.user_id == actor.id, Member.status == "active")
        ).scalar_one_or_none()
        if role != "coordinator":
            raise click.BadParameter(
                f"{actor.email} is not an active coordinator of {slug}", param_hint="--actor"
            )
        try:
            content = imports.decode_upload(file.read_bytes())
            member_import = imports.start_import(
                scheme, actor=actor, filename=file.name, content=content, queue=False
            )
        except ApiError as error:
            raise click.ClickException(error.detail) from error
        with click.progressbar(length=member_import.total, label=f"Importing {file.name}") as bar:
            shown = 0

            def progress(current: imports.MemberImport) -> None:
                nonlocal shown
                bar.update(current.done - shown)
                shown = current.done

            result = imports.run_import(scheme.id, member_import.id, on_progress=progress)
    click.echo(
        f"Import {result['id']}: {result['invited']} invited, {result['skipped']} skipped "
        f"(already members or invited), {len({e['row'] for e in result['errors']})} row(s) with errors."
    )
    for row_error in result["errors"]:
        click.echo(
            f"  row {row_error['row']}: {row_error['field']}: {row_error['message']}", err=True
        )
    if result["errors"]:
        sys.exit(1)  # after the summary: some rows were not imported
