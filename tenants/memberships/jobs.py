"""Membership jobs (RQ): member imports."""

from __future__ import annotations

from typing import Any

from timebank.platform.jobs import job
from timebank.tenants.memberships import imports


@job
def process_import(scheme_id: int, import_id: int) -> dict[str, Any]:
    """Validate and invite the rows of one import (idempotent: resumes where it stopped)."""
    return imports.run_import(scheme_id, import_id)
