"""The time zones offered when a scheme starts: today's zones, common ones first.

``available_timezones()`` holds ~600 names, many of them obsolete aliases
(``GB``, ``US/Eastern``, ``Asia/Calcutta``). The zones offered are the
canonical ones of ``zone1970.tab`` (one per region that has kept the same
clock since 1970), grouped by continent; a scheme may still be given any valid
IANA name through the API.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from zoneinfo import available_timezones

COMMON_ZONES = ("Europe/London", "Europe/Dublin", "America/New_York", "America/Chicago",
                "America/Denver", "America/Los_Angeles", "America/Toronto",
                "Australia/Sydney", "Pacific/Auckland", "UTC")  # fmt: skip


def _zone_table() -> str:
    try:
        return resources.files("tzdata").joinpath("zoneinfo", "zone1970.tab").read_text("utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        path = Path("/usr/share/zoneinfo/zone1970.tab")
        return path.read_text("utf-8") if path.exists() else ""


@functools.cache
def canonical_zones() -> tuple[str, ...]:
    """Today's canonical zone names, sorted (every region-style name if no table is found)."""
    known = available_timezones()
    names = {
        line.split("\t")[2]
        for line in _zone_table().splitlines()
        if line and not line.startswith("#") and len(line.split("\t")) >= 3
    }
    names &= known
    if not names:
        names = {zone for zone in known if "/" in zone and not zone.startswith(("Etc/", "US/"))}
    return tuple(sorted(names))


def zone_groups() -> list[tuple[str, list[tuple[str, str]]]]:
    """``[(group label, [(value, text)])]``: the common zones first, then by continent."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for zone in canonical_zones():
        if zone in COMMON_ZONES:
            continue
        region, _, place = zone.partition("/")
        groups.setdefault(region, []).append((zone, place.replace("_", " ").replace("/", " – ")))
    common = [(zone, zone.replace("_", " ")) for zone in COMMON_ZONES]
    return [("Common", common), *sorted(groups.items())]
