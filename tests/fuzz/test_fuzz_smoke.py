"""A short schemathesis run against the served OpenAPI document: no server errors."""

from __future__ import annotations

import pytest

from tests.fuzz.run import main

pytestmark = pytest.mark.slow


def test_a_short_fuzz_run_finds_no_server_error() -> None:
    assert main(["--max-examples", "2", "--phases", "fuzzing", "--workers", "2"]) == 0
