"""Bar charts drawn on the server as inline SVG: no script, nothing fetched from elsewhere.

:func:`bar_chart` works out the geometry (bars, grid lines, labels) in a fixed
viewBox that the page scales to its width; ``_charts.html`` draws it. Each
chart is also given as a table for screen readers and for reading exact figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 14, 40
# Colours with at least 3:1 contrast against white, told apart by more than hue alone
# (the legend and the table name each series).
# The legend's swatches use the classes .swatch-0 … .swatch-3 of timebank.css: keep in step.
PALETTE = ("#0b5c4a", "#b3541e", "#3b5ba5", "#7a4b00")


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str


@dataclass
class Chart:
    title: str
    unit: str
    series: list[tuple[str, str]]  # (name, colour)
    categories: list[str]
    rows: list[list[str]]  # the table: one row per category, one cell per series
    bars: list[Bar] = field(default_factory=list)
    grid: list[tuple[float, str]] = field(default_factory=list)  # (y, label)
    labels: list[tuple[float, str]] = field(default_factory=list)  # (x, label)
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right_edge: int = WIDTH - RIGHT
    baseline: float = HEIGHT - BOTTOM
    empty: bool = False


def _nice_step(top: float, lines: int = 4) -> float:
    raw = top / lines
    magnitude = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 2.5, 5, 10):
        if raw <= multiple * magnitude:
            return multiple * magnitude
    return 10 * magnitude  # pragma: no cover


def bar_chart(
    title: str,
    categories: list[str],
    series: list[tuple[str, list[float]]],
    *,
    unit: str = "hours",
    label_every: int = 1,
    fmt: str = "{:g}",
    whole: bool = False,
) -> Chart:
    """Grouped bars: one group per category, one bar per series (values in ``unit``).

    ``whole``: the values are counts, so grid lines fall on whole numbers.
    """
    coloured = [(name, PALETTE[index % len(PALETTE)]) for index, (name, _) in enumerate(series)]
    rows = [
        [fmt.format(values[index]) for _name, values in series] for index in range(len(categories))
    ]
    chart = Chart(title=title, unit=unit, series=coloured, categories=categories, rows=rows)
    top = max((value for _name, values in series for value in values), default=0)
    chart.empty = top <= 0
    step = _nice_step(top) if top > 0 else 1
    if whole:  # counts of people: no grid line at a quarter of a member
        step = max(1.0, math.ceil(step))
    ceiling = step * math.ceil(top / step) if top > 0 else 4
    plot_height = chart.baseline - TOP
    plot_width = chart.right_edge - chart.left
    value = 0.0
    while value <= ceiling + 1e-9:
        y = chart.baseline - plot_height * value / ceiling
        chart.grid.append((round(y, 1), fmt.format(value)))
        value += step
    group = plot_width / max(1, len(categories))
    inner = group * 0.8
    bar_width = inner / max(1, len(series))
    for index, category in enumerate(categories):
        x0 = chart.left + group * index + (group - inner) / 2
        if index % label_every == 0:
            chart.labels.append((round(x0 + inner / 2, 1), category))
        for position, (name, values) in enumerate(series):
            height = plot_height * values[index] / ceiling if ceiling else 0
            chart.bars.append(
                Bar(
                    x=round(x0 + bar_width * position, 1),
                    y=round(chart.baseline - height, 1),
                    width=round(max(1.0, bar_width - 2), 1),
                    height=round(height, 1),
                    colour=coloured[position][1],
                    title=f"{category}: {name} {fmt.format(values[index])} {unit}",
                )
            )
    return chart


def hours(minutes: int) -> float:
    return round(minutes / 60, 2)
