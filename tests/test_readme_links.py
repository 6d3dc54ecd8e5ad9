"""The README's links lead to files of the repository (a clone has nothing beside it)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def broken_links(readme: Path) -> list[str]:
    broken = []
    for target in LINK.findall(readme.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):  # http:, mailto: …
            continue
        resolved = (readme.parent / target).resolve()
        if not resolved.is_relative_to(readme.parent.resolve()) or not resolved.exists():
            broken.append(target)
    return broken


def test_the_readme_links_resolve_inside_the_repository() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/api.md" in text and "docs/architecture.md" in text
    assert broken_links(ROOT / "README.md") == []


def test_the_link_check_sees_a_link_outside(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("[a](../shared/docs/API.md) [b](https://example.test/x) [c](README.md)\n")
    assert broken_links(readme) == ["../shared/docs/API.md"]
