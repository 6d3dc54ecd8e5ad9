"""Guard: no module of the application grows past 500 lines (docs/style.md aims at ~400).

A module past the limit is split along its own sections (as billing was into
plans, customers, subscriptions, usage, webhooks and dunning), not trimmed.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("platform", "tenants", "worker")
MAX_LINES = 500


def oversize_modules(root: Path, limit: int = MAX_LINES) -> list[str]:
    """``path: N lines`` for every .py file under the packages longer than ``limit``."""
    found = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            with path.open(encoding="utf-8") as source:
                lines = sum(1 for _ in source)
            if lines > limit:
                found.append(f"{path.relative_to(root)}: {lines} lines")
    return found


def test_no_module_is_over_500_lines() -> None:
    modules = sum(1 for package in PACKAGES for _ in (ROOT / package).rglob("*.py"))
    assert modules > 100, f"found only {modules} modules under {PACKAGES}: wrong root?"
    oversize = oversize_modules(ROOT)
    assert oversize == [], (
        f"Modules over {MAX_LINES} lines; split them along their sections:\n  "
        + "\n  ".join(oversize)
    )


def test_the_size_guard_sees_an_oversize_module(tmp_path: Path) -> None:
    (tmp_path / "platform" / "big").mkdir(parents=True)
    (tmp_path / "tenants").mkdir()
    (tmp_path / "worker").mkdir()
    (tmp_path / "platform" / "big" / "module.py").write_text("x = 1\n" * 501)
    (tmp_path / "worker" / "fine.py").write_text("x = 1\n" * 500)
    (tmp_path / "tenants" / "notes.txt").write_text("x\n" * 900)
    assert oversize_modules(tmp_path) == ["platform/big/module.py: 501 lines"]
