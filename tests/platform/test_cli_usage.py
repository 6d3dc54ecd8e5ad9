"""CLI usage errors read as usage errors, not as a broken ledger."""

from __future__ import annotations

from tests.factories import World


def test_verifying_an_unknown_scheme_is_a_usage_error(world: World) -> None:
    runner = world.app.test_cli_runner()
    unknown = runner.invoke(args=["ledger", "verify", "--scheme", "nope"])
    assert unknown.exit_code == 2, unknown.output
    assert "no scheme 'nope'" in unknown.output
    assert "BREAK" not in unknown.output
    # A real scheme (each of the two) still verifies cleanly.
    for slug in (world.a.slug, world.b.slug):
        known = runner.invoke(args=["ledger", "verify", "--scheme", slug])
        assert known.exit_code == 0, known.output
        assert "BREAK" not in known.output
