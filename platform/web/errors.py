"""Error pages for people (the API answers problem+json instead)."""

from __future__ import annotations

from flask import render_template

from timebank.platform.api.errors import TITLES


def render_error_page(status: int, detail: str) -> tuple[str, int]:
    return render_template(
        "error.html", status=status, title=TITLES.get(status, "Error"), detail=detail
    ), status
