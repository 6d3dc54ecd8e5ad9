"""Member imports: a coordinator's CSV of people (name, email, role), invited by a job.

A row with no e-mail adds a member without one (a *managed* member, see
:mod:`timebank.tenants.memberships.managed`): it needs a name, may give
``date_of_birth`` (YYYY-MM-DD) or ``age_band`` and a ``guardian_email`` (invited as
the guardian in the same batch), and cannot be a coordinator.
A managed row whose name matches a current member without e-mail is skipped,
so importing a class list twice adds nobody twice.

The upload is checked at once (a readable CSV with an ``email`` or ``name`` column) and
stored with its content; a job (:mod:`timebank.tenants.memberships.jobs`)
then validates every row first, records row-level errors, and invites the
valid rows in batches. Each batch commits its invitations together with the
progress counters, so a worker killed mid-import loses at most one
uncommitted batch; the job (re-run by RQ or by :func:`resume_stalled_imports`)
continues from the committed position. Emails that already belong to a
member or have an open invitation are skipped, so running an import twice,
or importing the same file again, invites nobody twice.

Progress: ``total`` data rows; ``done`` = rows with errors + ``invited`` +
``skipped``; the position in the list of valid rows is ``invited + skipped``.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import current_app
from marshmallow import ValidationError, validate
from sqlalchemy import func, select

from timebank.platform import tenancy
from timebank.platform.api.errors import FieldError, NotFound
from timebank.platform.db import atomic, db, run_atomic
from timebank.platform.identity.models import User
from timebank.platform.jobs import enqueue, redis_connection, redis_key
from timebank.platform.schemes.models import Scheme
from timebank.tenants.memberships.managed import (
    enrol_managed_member,
    managed_names,
    managed_row_problems,
)
from timebank.tenants.memberships.models import (
    ROLES,
    Invitation,
    Member,
    MemberImport,
)
from timebank.tenants.memberships.services import invite

log = logging.getLogger(__name__)

COLUMNS = ("name", "email", "role", "date_of_birth", "age_band", "guardian_email")
MAX_NAME = 120
PENDING_GRACE = timedelta(minutes=15)
GIVE_UP_AFTER = timedelta(days=2)
_email = validate.Email()


def setting(name: str, default: int) -> int:
    """An import tuning knob: app config first, then ``TIMEBANK_<NAME>`` in the environment."""
    value = current_app.config.get(name) or os.environ.get(f"TIMEBANK_{name}")
    return int(value) if value else default


@dataclass(frozen=True)
class Row:
    number: int  # line in the file (the header is line 1)
    name: str
    email: str
    role: str
    date_of_birth: str = ""
    age_band: str = ""
    guardian_email: str = ""

    @property
    def managed(self) -> bool:
        return not self.email


# --- reading and validating ---------------------------------------------------


def decode_upload(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise FieldError("file", "The file must be UTF-8 text (CSV).") from error


def read_rows(content: str) -> list[Row]:
    """Parse the CSV (header row required); raises a ``file`` field error if unreadable."""
    reader = csv.reader(io.StringIO(content))
    try:
        header = next(reader, None)
        if header is None:
            raise FieldError("file", "The file is empty: expected a header row name,email,role.")
        columns = [cell.strip().lower() for cell in header]
        if "email" not in columns and "name" not in columns:
            raise FieldError("file", "The header row must name the columns name,email,role.")
        unknown = [c for c in columns if c and c not in COLUMNS]
        if unknown:
            raise FieldError(
                "file",
                f"Unknown column(s) {', '.join(unknown)}: expected name,email,role "
                "(and date_of_birth, age_band, guardian_email for members without e-mail).",
            )
        index = {column: columns.index(column) for column in COLUMNS if column in columns}
        rows: list[Row] = []
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue

            def cell(column: str, cells: list[str] = cells) -> str:
                position = index.get(column)
                return (
                    cells[position].strip()
                    if position is not None and position < len(cells)
                    else ""
                )

            rows.append(
                Row(
                    number=reader.line_num,
                    name=cell("name"),
                    email=cell("email"),
                    role=cell("role").lower() or "member",
                    date_of_birth=cell("date_of_birth"),
                    age_band=cell("age_band").lower(),
                    guardian_email=cell("guardian_email"),
                )
            )
    except csv.Error as error:
        raise FieldError("file", f"Not a readable CSV file: {error}.") from error
    return rows


def validate_rows(rows: list[Row]) -> tuple[list[Row], list[dict[str, Any]]]:
    """Split rows into valid ones and row-level errors (bad email, role, duplicates)."""
    valid: list[Row] = []
    errors: list[dict[str, Any]] = []
    first_seen: dict[str, int] = {}
    for row in rows:
        problems: list[tuple[str, str]] = []
        if row.managed:
            problems += managed_row_problems(
                name=row.name, role=row.role, date_of_birth=row.date_of_birth, age_band=row.age_band
            )
        else:
            try:
                if len(row.email) > 254:
                    raise ValidationError("Longer than 254 characters.")
                _email(row.email)
            except ValidationError as error:
                message = error.messages[0] if isinstance(error.messages, list) else str(error)
                problems.append(("email", str(message)))
        if row.guardian_email:
            problems += _guardian_problems(row)
        if row.role not in ROLES:
            problems.append(("role", "Must be one of: member, coordinator."))
        if len(row.name) > MAX_NAME:
            problems.append(("name", f"Longer than {MAX_NAME} characters."))
        key = f"name:{row.name.lower()}" if row.managed else row.email.lower()
        if not problems:
            if key in first_seen:
                field = "name" if row.managed else "email"
                problems.append((field, f"Duplicate of row {first_seen[key]}."))
            else:
                first_seen[key] = row.number
        if problems:
            errors.extend(
                {"row": row.number, "field": field, "message": message}
                for field, message in problems
            )
        else:
            valid.append(row)
    return valid, errors


def _guardian_problems(row: Row) -> list[tuple[str, str]]:
    """A ``guardian_email`` is for a member without e-mail, and must be an address."""
    if not row.managed:
        return [("guardian_email", "Only for a member without e-mail (leave email empty).")]
    try:
        if len(row.guardian_email) > 254:
            raise ValidationError("Longer than 254 characters.")
        _email(row.guardian_email)
    except ValidationError as error:
        message = error.messages[0] if isinstance(error.messages, list) else str(error)
        return [("guardian_email", str(message))]
    return []


# --- starting and reading -----------------------------------------------------


@atomic
def start_import(
    scheme: Scheme, *, actor: User, filename: str, content: str, queue: bool = True
) -> MemberImport:
    """Store the upload and queue its job (inline with no Redis; not at all if ``queue`` is off)."""
    rows = read_rows(content)
    if not rows:
        raise FieldError("file", "The file has a header but no rows.")
    member_import = MemberImport(
        scheme_id=scheme.id,
        filename=(filename or "import.csv")[:255],
        content=content,
        status="pending",
        total=len(rows),
        done=0,
        invited=0,
        skipped=0,
        errors=[],
        created_by=actor.id,
    )
    db.session.add(member_import)
    db.session.flush()
    if not queue:
        return member_import
    enqueue(
        "default",
        "timebank.tenants.memberships.jobs.process_import",
        scheme.id,
        member_import.id,
        timeout=6 * 3600,
    )
    return member_import


def get_import(import_id: int) -> MemberImport:
    """An import of the current scheme, or 404 (also for another scheme's)."""
    member_import = db.session.execute(
        select(MemberImport).where(MemberImport.id == import_id)
    ).scalar_one_or_none()
    if member_import is None:
        raise NotFound("No import with this id in this scheme.")
    return member_import


def describe_import(member_import: MemberImport) -> dict[str, Any]:
    return {
        "id": member_import.id,
        "status": member_import.status,
        "filename": member_import.filename,
        "total": member_import.total,
        "done": member_import.done,
        "invited": member_import.invited,
        "skipped": member_import.skipped,
        "errors": list(member_import.errors or []),
        "created_at": member_import.created_at,
        "finished_at": member_import.finished_at,
    }


# --- the job's work -----------------------------------------------------------


ProgressCallback = Callable[[MemberImport], None]


def run_import(
    scheme_id: int,
    import_id: int,
    *,
    on_progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """Validate, then invite batch by batch; safe to run again at any point."""
    with tenancy.scheme_context(scheme_id):
        lease = _Lease(scheme_id, import_id)
        if not lease.acquire():
            log.info("import %s/%s is being run by another job", scheme_id, import_id)
            return describe_import(_reload(import_id))
        try:
            valid = run_atomic(lambda: _begin(import_id))
            if on_progress:
                on_progress(_reload(import_id))
            batch_size = max(1, setting("IMPORT_BATCH_SIZE", 100))
            while valid is not None:
                finished = run_atomic(lambda: _next_batch(import_id, valid, batch_size))
                lease.refresh()
                if on_progress:
                    on_progress(_reload(import_id))
                if finished:
                    break
            return describe_import(_reload(import_id))
        finally:
            lease.release()


def _reload(import_id: int) -> MemberImport:
    member_import = db.session.execute(
        select(MemberImport)
        .where(MemberImport.id == import_id)
        .execution_options(populate_existing=True)
    ).scalar_one()
    return member_import


def _locked(import_id: int) -> MemberImport | None:
    return db.session.execute(
        select(MemberImport)
        .where(MemberImport.id == import_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def _begin(import_id: int) -> list[Row] | None:
    """Validate every row (first run) and mark the import running; ``None`` if done."""
    member_import = _locked(import_id)
    if member_import is None or member_import.status in ("done", "failed"):
        return None
    valid, errors = validate_rows(read_rows(member_import.content))
    if member_import.status == "pending":
        member_import.errors = errors
        member_import.done = len({error["row"] for error in errors})
        member_import.status = "running"
    return valid


def _next_batch(import_id: int, valid: list[Row], batch_size: int) -> bool:
    """Invite the next batch of valid rows; True when the import is finished."""

    member_import = _locked(import_id)
    if member_import is None or member_import.status != "running":
        return True
    position = member_import.invited + member_import.skipped
    batch = valid[position : position + batch_size]
    if not batch:
        member_import.status = "done"
        member_import.finished_at = datetime.now(UTC)
        return True
    scheme = db.session.get(Scheme, member_import.scheme_id)
    actor = db.session.get(User, member_import.created_by)
    assert scheme is not None and actor is not None
    taken = _known_emails([row.email.lower() for row in batch if not row.managed])
    known_names = managed_names([row.name.lower() for row in batch if row.managed])
    for row in batch:
        if row.managed:
            if row.name.lower() in known_names:
                member_import.skipped += 1
                continue
            enrol_managed_member(
                scheme,
                name=row.name,
                actor=actor,
                date_of_birth=date.fromisoformat(row.date_of_birth) if row.date_of_birth else None,
                age_band=row.age_band or None,
                guardian_email=row.guardian_email or None,
            )
            member_import.invited += 1
        elif row.email.lower() in taken:
            member_import.skipped += 1
        else:
            invite(scheme, email=row.email, role=row.role, actor=actor)
            member_import.invited += 1
    member_import.done += len(batch)
    if member_import.invited + member_import.skipped >= len(valid):
        member_import.status = "done"
        member_import.finished_at = datetime.now(UTC)
        return True
    return False


def _known_emails(emails: list[str]) -> set[str]:
    """Of these (lower-case) emails, those of members or with an open invitation."""
    members = db.session.execute(
        select(func.lower(User.email))
        .join(Member, Member.user_id == User.id)
        .where(Member.status != "left", func.lower(User.email).in_(emails))
    ).scalars()
    invited = db.session.execute(
        select(func.lower(Invitation.email)).where(
            Invitation.accepted_at.is_(None),
            Invitation.expires_at > datetime.now(UTC),
            func.lower(Invitation.email).in_(emails),
        )
    ).scalars()
    return set(members) | set(invited)


# --- liveness and recovery ------------------------------------------------------


class _Lease:
    """A Redis lease held while a job works on one import (none without Redis).

    It keeps two jobs off the same import, and its expiry tells
    :func:`resume_stalled_imports` that the worker running it has died.
    """

    def __init__(self, scheme_id: int, import_id: int) -> None:
        self.redis = redis_connection()
        self.key = lease_key(scheme_id, import_id)
        self.token = uuid.uuid4().hex
        self.ttl = setting("IMPORT_LEASE_SECONDS", 60)

    def acquire(self) -> bool:
        if self.redis is None:
            return True
        return bool(self.redis.set(self.key, self.token, nx=True, ex=self.ttl))

    def refresh(self) -> None:
        if self.redis is not None:
            self.redis.set(self.key, self.token, xx=True, ex=self.ttl)

    def release(self) -> None:
        if self.redis is None:
            return
        # Delete only our own lease (a compare-and-delete in one step).
        self.redis.eval(
            "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end",
            1,
            self.key,
            self.token,
        )


def lease_key(scheme_id: int, import_id: int) -> str:
    return redis_key("import-lease", scheme_id, import_id)


def resume_stalled_imports(now: datetime | None = None) -> list[tuple[int, int]]:
    """Re-queue imports whose job died (no live lease); give up on very old ones.

    Run when a worker starts and by the scheduler. Needs Redis (with no Redis
    imports run inline and finish within their request).
    """
    redis = redis_connection()
    if redis is None:
        return []
    now = now or datetime.now(UTC)
    with tenancy.all_schemes():
        rows = db.session.execute(
            select(
                MemberImport.scheme_id,
                MemberImport.id,
                MemberImport.status,
                MemberImport.created_at,
            )
            .where(MemberImport.status.in_(("pending", "running")))
            .order_by(MemberImport.scheme_id, MemberImport.id)
        ).all()
    db.session.rollback()
    resumed: list[tuple[int, int]] = []
    for scheme_id, import_id, status, created_at in rows:
        if created_at < now - GIVE_UP_AFTER:
            _give_up(scheme_id, import_id)
            continue
        if status == "pending" and created_at > now - PENDING_GRACE:
            continue  # its job is probably still waiting in the queue
        if redis.exists(lease_key(scheme_id, import_id)):
            continue
        marker = redis_key("import-resumed", scheme_id, import_id)
        if not redis.set(marker, "1", nx=True, ex=setting("IMPORT_LEASE_SECONDS", 60)):
            continue  # already re-queued recently
        log.warning("import %s of scheme %s stalled: queueing it again", import_id, scheme_id)
        enqueue(
            "default",
            "timebank.tenants.memberships.jobs.process_import",
            scheme_id,
            import_id,
            timeout=6 * 3600,
        )
        resumed.append((scheme_id, import_id))
    return resumed


def _give_up(scheme_id: int, import_id: int) -> None:
    def work() -> None:
        with tenancy.scheme_context(scheme_id):
            member_import = _locked(import_id)
            if member_import is not None and member_import.status in ("pending", "running"):
                member_import.status = "failed"
                member_import.finished_at = datetime.now(UTC)

    log.error("import %s of scheme %s never finished: marked failed", import_id, scheme_id)
    run_atomic(work)
