"""Member imports: validation first, row errors, invitations, progress, re-runs, the CLI."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from tests.factories import World, problem
from timebank.platform import tenancy
from timebank.platform.db import db
from timebank.tenants.memberships.models import Invitation


def csv_of(world: World) -> str:
    member = world.a.members[0]
    return "\n".join(
        [
            "name,email,role",
            "Nia New,nia@example.test,member",  # row 2: invited
            "Cal Coord,cal@example.test,coordinator",  # row 3: invited as coordinator
            "No At,not-an-email,member",  # row 4: bad email
            "Rae Role,rae@example.test,boss",  # row 5: bad role
            "Nia Again,NIA@example.test,member",  # row 6: duplicate of row 2
            f"{member.name},{member.email},member",  # row 7: already a member → skipped
            "",  # blank lines are ignored
            "Bo Blank,bo@example.test,",  # row 9: blank role → member
        ]
    )


def upload(api: Any, slug: str, content: str, name: str = "people.csv") -> Any:
    return api.client.post(
        f"/api/v1/schemes/{slug}/imports",
        data={"file": (io.BytesIO(content.encode()), name)},
        headers=api._headers(None),
        content_type="multipart/form-data",
    )


def invitations(app: Flask, scheme_id: int) -> list[tuple[str, str]]:
    with app.app_context(), tenancy.scheme_context(scheme_id):
        return sorted(
            (email.lower(), role)
            for email, role in db.session.execute(select(Invitation.email, Invitation.role))
        )


EXPECTED_INVITED = [
    ("bo@example.test", "member"),
    ("cal@example.test", "coordinator"),
    ("nia@example.test", "member"),
]


def summary(progress: dict[str, Any]) -> dict[str, Any]:
    return {
        key: progress[key] for key in ("status", "total", "done", "invited", "skipped", "errors")
    }


EXPECTED_SUMMARY = {
    "status": "done",
    "total": 7,
    "done": 7,
    "invited": 3,
    "skipped": 1,
    "errors": [
        {"row": 4, "field": "email", "message": "Not a valid email address."},
        {"row": 5, "field": "role", "message": "Must be one of: member, coordinator."},
        {"row": 6, "field": "email", "message": "Duplicate of row 2."},
    ],
}


def test_import_validates_invites_and_reports_progress(world: World, outbox: Path) -> None:
    api = world.api(world.a.coordinator)
    response = upload(api, world.a.slug, csv_of(world))
    assert response.status_code == 202, response.get_json()
    started = response.get_json()
    assert set(started) >= {"id", "status"}
    progress = api.get(f"/api/v1/schemes/{world.a.slug}/imports/{started['id']}").get_json()
    assert summary(progress) == EXPECTED_SUMMARY
    assert invitations(world.app, world.a.id) == EXPECTED_INVITED
    # Each invitation was mailed (inline: written to the outbox).
    recipients = sorted(
        line.split(":", 1)[1].strip().lower()
        for message in outbox.glob("*.eml")
        for line in message.read_text().splitlines()
        if line.startswith("To:")
    )
    assert recipients == [email for email, _ in EXPECTED_INVITED]
    listed = api.get(f"/api/v1/schemes/{world.a.slug}/imports").get_json()
    assert [item["id"] for item in listed["items"]] == [started["id"]]
    # The other scheme saw nothing.
    assert invitations(world.app, world.b.id) == []
    other = world.api(world.b.coordinator)
    assert (
        problem(other.get(f"/api/v1/schemes/{world.b.slug}/imports/{started['id']}"))["status"]
        == 404
    )
    assert other.get(f"/api/v1/schemes/{world.b.slug}/imports").get_json()["items"] == []


def test_running_the_same_file_again_invites_nobody_twice(world: World) -> None:
    api = world.api(world.a.coordinator)
    upload(api, world.a.slug, csv_of(world))
    again = upload(api, world.a.slug, csv_of(world)).get_json()
    progress = api.get(f"/api/v1/schemes/{world.a.slug}/imports/{again['id']}").get_json()
    assert progress["invited"] == 0
    assert progress["skipped"] == 4
    assert progress["status"] == "done"
    assert invitations(world.app, world.a.id) == EXPECTED_INVITED


def test_csv_body_is_accepted_too(world: World) -> None:
    api = world.api(world.a.coordinator)
    response = api.client.post(
        f"/api/v1/schemes/{world.a.slug}/imports",
        data=b"email,name\nzed@example.test,Zed\n",
        headers={**api._headers(None), "Content-Type": "text/csv"},
    )
    assert response.status_code == 202
    assert invitations(world.app, world.a.id) == [("zed@example.test", "member")]


def test_unreadable_uploads_are_refused_with_nothing_written(world: World) -> None:
    api = world.api(world.a.coordinator)
    slug = world.a.slug
    cases = [
        upload(api, slug, "name,mail\nA,a@example.test\n"),  # no email column
        upload(api, slug, "name,email,role,shoe\nA,a@example.test,member,9\n"),  # unknown column
        upload(api, slug, ""),  # empty
        upload(api, slug, "name,email,role\n"),  # no rows
        api.client.post(
            f"/api/v1/schemes/{slug}/imports",
            data={"file": (io.BytesIO(b"\xff\xfe\x00bad"), "x.csv")},
            headers=api._headers(None),
            content_type="multipart/form-data",
        ),
        api.post(f"/api/v1/schemes/{slug}/imports", json={"file": "x"}),  # not a file
    ]
    for response in cases:
        body = problem(response)
        assert body["status"] == 422 and "file" in body["errors"], body
    assert api.get(f"/api/v1/schemes/{slug}/imports").get_json()["items"] == []


def test_only_coordinators_of_the_scheme_may_import(world: World) -> None:
    content = "name,email,role\nA,a@example.test,member\n"
    member = world.api(world.a.members[0])
    assert problem(upload(member, world.a.slug, content))["code"] == "coordinator_only"
    stranger = world.api(world.b.coordinator)
    assert problem(upload(stranger, world.a.slug, content))["status"] == 404
    assert problem(world.api().post(f"/api/v1/schemes/{world.a.slug}/imports"))["status"] == 401
    assert invitations(world.app, world.a.id) == []


def test_cli_import_shows_progress_and_is_rerunnable(world: World, tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text(csv_of(world))
    runner = world.app.test_cli_runner()
    result = runner.invoke(args=["members", "import", world.a.slug, str(path)])
    # A row failed: exit 1, after the summary and the row's error are printed.
    assert result.exit_code == 1, result.output
    assert "3 invited, 1 skipped" in result.output
    assert "row 4: email" in result.output
    again = runner.invoke(args=["members", "import", world.a.slug, str(path)])
    assert again.exit_code == 1 and "0 invited, 4 skipped" in again.output
    clean = tmp_path / "one.csv"
    clean.write_text("name,email,role\nOlive Oak,olive@example.test,member\n")
    fine = runner.invoke(args=["members", "import", world.a.slug, str(clean)])
    assert fine.exit_code == 0, fine.output
    assert "1 invited, 0 skipped" in fine.output and "0 row(s) with errors" in fine.output
    assert invitations(world.app, world.a.id) == sorted(
        [*EXPECTED_INVITED, ("olive@example.test", "member")]
    )
    refused = runner.invoke(
        args=["members", "import", world.a.slug, str(path), "--actor", world.a.members[0].email]
    )
    assert refused.exit_code != 0 and "not an active coordinator" in refused.output
    assert invitations(world.app, world.b.id) == []


def test_no_duplicate_invitations_in_any_scheme(world: World) -> None:
    api = world.api(world.a.coordinator)
    for _ in range(2):
        upload(api, world.a.slug, csv_of(world))
    with world.app.app_context(), tenancy.scheme_context(world.a.id):
        duplicated = db.session.execute(
            select(func.lower(Invitation.email))
            .group_by(func.lower(Invitation.email))
            .having(func.count() > 1)
        ).all()
    assert duplicated == []
