"""Jobs the worker tests enqueue by dotted path (``tests.worker.sample_jobs.…``)."""

from __future__ import annotations

from pathlib import Path

from flask import current_app

from timebank.platform.jobs import job


@job
def write_marker(path: str, text: str) -> str:
    """Write ``text`` and the app's name (proving the job ran with an app context)."""
    Path(path).write_text(f"{text} {current_app.name}")
    return text


@job
def always_fails(path: str) -> None:
    """Count an attempt in ``path``, then fail."""
    with Path(path).open("a") as attempts:
        attempts.write("attempt\n")
    raise RuntimeError("boom: the sample job always fails")
