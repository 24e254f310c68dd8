"""Chart geometry for server-drawn SVG: lines over periods and grouped columns (pure; the templates draw it).

No JavaScript and no outside library: the page gets coordinates in a fixed view box and draws them with
<polyline> and <rect>; colours and dash patterns come from the stylesheet by series class, so a chart
reads in high contrast and without colour too.
"""

from __future__ import annotations

from dataclasses import dataclass

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 40


@dataclass(frozen=True)
class Tick:
    """A labelled position along an axis."""

    at: float
    label: str


@dataclass(frozen=True)
class Line:
    """One series of a line chart: its name, its runs of joined points and every point it has."""

    name: str
    runs: list[str]
    """`points` attributes of the polylines; a period without a value breaks the line."""
    dots: list[tuple[float, float, str]]
    """(x, y, value in words) of each point, for markers and their titles."""


@dataclass(frozen=True)
class Bar:
    """One column of a column chart."""

    series: str
    x: float
    y: float
    width: float
    height: float
    value: int
    label: str


@dataclass(frozen=True)
class Chart:
    """What a template needs to draw a chart in a WIDTH × HEIGHT view box."""

    width: int
    height: int
    plot: tuple[float, float, float, float]
    """left, top, right, bottom of the plotting area."""
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    lines: list[Line]
    bars: list[Bar]
    marker: float | None = None
    """x of a vertical reference line (the target), if any."""


def _y_ticks(top_value: float, unit: str, top: float, bottom: float) -> list[Tick]:
    """Return five evenly spaced ticks from 0 to top_value."""
    return [Tick(bottom - (bottom - top) * i / 4, f"{top_value * i / 4:g}{unit}") for i in range(5)]


def line_chart(labels: list[str], series: dict[str, list[float | None]], *, y_max: float = 100.0,
               unit: str = "%") -> Chart:
    """Return a line chart of series over labelled periods (values 0..y_max)."""
    left, top, right, bottom = LEFT, TOP, WIDTH - RIGHT, HEIGHT - BOTTOM
    count = max(len(labels), 1)
    step = (right - left) / max(count - 1, 1)

    def x_of(index: int) -> float:
        return left + step * index if count > 1 else (left + right) / 2

    def y_of(value: float) -> float:
        return bottom - (bottom - top) * max(0.0, min(value, y_max)) / y_max

    lines = []
    for name, values in series.items():
        runs, current, dots = [], [], []
        for index, value in enumerate(values):
            if value is None:
                if current:
                    runs.append(" ".join(current))
                current = []
                continue
            x, y = round(x_of(index), 1), round(y_of(value), 1)
            current.append(f"{x},{y}")
            dots.append((x, y, f"{labels[index]}: {value:.1f}{unit}"))
        if current:
            runs.append(" ".join(current))
        lines.append(Line(name, runs, dots))
    every = max(1, round(count / 8))
    x_ticks = [Tick(round(x_of(i), 1), label) for i, label in enumerate(labels) if i % every == 0]
    return Chart(WIDTH, HEIGHT, (left, top, right, bottom), x_ticks, _y_ticks(y_max, unit, top, bottom), lines, [])


def column_chart(labels: list[str], series: dict[str, list[int]], *, marker_after: int | None = None) -> Chart:
    """Return grouped columns: one group per label, one column per series; a marker line after group marker_after."""
    left, top, right, bottom = LEFT, TOP, WIDTH - RIGHT, HEIGHT - BOTTOM
    groups = max(len(labels), 1)
    group_width = (right - left) / groups
    names = list(series)
    bar_width = group_width * 0.8 / max(len(names), 1)
    highest = max([1, *(v for values in series.values() for v in values)])
    scale = _nice_ceiling(highest)
    bars = []
    for g, label in enumerate(labels):
        for s, name in enumerate(names):
            value = series[name][g]
            height = (bottom - top) * value / scale
            x = left + group_width * g + group_width * 0.1 + bar_width * s
            bars.append(Bar(name, round(x, 1), round(bottom - height, 1), round(bar_width - 1, 1), round(height, 1),
                            value, label))
    x_ticks = [Tick(round(left + group_width * (g + 0.5), 1), label) for g, label in enumerate(labels)]
    marker = round(left + group_width * (marker_after + 1), 1) if marker_after is not None else None
    return Chart(WIDTH, HEIGHT, (left, top, right, bottom), x_ticks, _y_ticks(scale, "", top, bottom), [], bars,
                 marker)


def _nice_ceiling(value: int) -> int:
    """Return a round axis maximum at or above value whose quarters are whole numbers (4, 8, 20, 40, 100, ...)."""
    for nice in (4, 8, 12, 20, 40, 60, 100, 200, 400, 600, 1000):
        if value <= nice:
            return nice
    step = 4 * 10 ** (len(str(value)) - 2)
    return -(-value // step) * step
