"""Member imports API: upload a CSV of people to invite, then follow its progress."""

from __future__ import annotations

from typing import Any

from flask import request
from marshmallow import Schema, fields
from sqlalchemy import select

from timebank.platform.api.blueprint import Blueprint
from timebank.platform.api.errors import FieldError
from timebank.platform.api.pagination import keyset_page, page, page_schema
from timebank.platform.api.schemas import PageQuery
from timebank.tenants.access import scheme_access
from timebank.tenants.memberships import imports
from timebank.tenants.memberships.models import MemberImport

blp = Blueprint(
    "member_imports",
    __name__,
    url_prefix="/api/v1/schemes/<slug>",
    description="Member imports",
    credentials="scheme",
)


class ImportError_(Schema):
    row = fields.Integer()
    field = fields.String()
    message = fields.String()


class ImportStarted(Schema):
    id = fields.Integer()
    status = fields.String()
    total = fields.Integer()


class ImportOut(Schema):
    id = fields.Integer()
    status = fields.String()
    filename = fields.String()
    total = fields.Integer()
    done = fields.Integer()
    invited = fields.Integer()
    skipped = fields.Integer()
    errors = fields.List(fields.Nested(ImportError_))
    created_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)


ImportPage = page_schema(ImportOut, "MemberImportPage")


def read_upload() -> tuple[str, str]:
    """The CSV from a multipart ``file`` field or a ``text/csv`` body: (filename, text)."""
    upload = request.files.get("file")
    if upload is not None:
        return upload.filename or "import.csv", imports.decode_upload(upload.read())
    if request.mimetype in ("text/csv", "text/plain"):
        return "import.csv", imports.decode_upload(request.get_data())
    raise FieldError("file", "Upload a CSV file (multipart field 'file' or a text/csv body).")


@blp.route("/imports", methods=["POST"])
@blp.response(202, ImportStarted)
def create_import(slug: str) -> dict[str, Any]:
    """Import members from a CSV with columns name,email,role (runs as a job)."""
    access = scheme_access(slug, write=True, coordinator=True)
    filename, content = read_upload()
    member_import = imports.start_import(
        access.scheme, actor=access.user, filename=filename, content=content
    )
    return imports.describe_import(member_import)


@blp.route("/imports")
@blp.arguments(PageQuery, location="query")
@blp.response(200, ImportPage)
def list_imports(args: dict[str, Any], slug: str) -> dict[str, Any]:
    scheme_access(slug, coordinator=True)
    rows, cursor = keyset_page(
        select(MemberImport),
        keys=[MemberImport.id],
        limit=args["limit"],
        cursor=args["cursor"],
        key_of=lambda member_import: [member_import.id],
    )
    return page([imports.describe_import(row) for row in rows], cursor)


@blp.route("/imports/<int:import_id>")
@blp.response(200, ImportOut)
def get_import(slug: str, import_id: int) -> dict[str, Any]:
    """Progress of one import: rows done of total, invited, skipped, row errors."""
    scheme_access(slug, coordinator=True)
    return imports.describe_import(imports.get_import(import_id))
