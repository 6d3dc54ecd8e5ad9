"""Sector templates: the starting policy, activities and rewards of each kind of scheme."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

TEMPLATE_NAMES = ("surgery", "school", "youth_court", "community")


@cache
def _load(name: str) -> dict[str, Any]:
    text = resources.files(__name__).joinpath(f"{name}.json").read_text(encoding="utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


def load_template(name: str) -> dict[str, Any]:
    """A fresh copy of a template's data (callers may change it)."""
    if name not in TEMPLATE_NAMES:
        raise KeyError(name)
    return json.loads(json.dumps(_load(name)))  # type: ignore[no-any-return]
