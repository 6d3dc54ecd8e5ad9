"""Error pages for people (the API answers problem+json instead)."""

from __future__ import annotations

from flask import render_template

from timebank.platform.api.errors import register_page_renderer

# Plain titles: no status jargon ("Forbidden", "Gone") on a page a person reads.
PAGE_TITLES = {
    400: "That did not work",
    401: "Please log in",
    403: "You cannot do this here",
    404: "Page not found",
    405: "That did not work",
    409: "That did not work",
    410: "This link no longer works",
    413: "That file is too large",
    422: "That did not work",
    429: "Too many attempts",
    500: "Something went wrong",
    503: "We are not available just now",
}


def render_error_page(status: int, detail: str) -> tuple[str, int]:
    return render_template(
        "error.html",
        status=status,
        title=PAGE_TITLES.get(status, "Something went wrong"),
        detail=detail,
    ), status


register_page_renderer(render_error_page)
