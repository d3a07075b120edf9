"""Timing samples, and the table rows that carry a figure, its target and whether it meets it."""

import itertools
import statistics
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

WARMUP = 10


@dataclass(frozen=True)
class Timing:
    p50: float
    p90: float

    def __str__(self) -> str:
        return f"p50 {self.p50:.2f} ms, p90 {self.p90:.2f} ms"


async def elapsed_ms(call: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await call()
    return (time.perf_counter() - started) * 1000


async def interleaved(
    calls: Mapping[str, Callable[[], Awaitable[object]]], rounds: int, *, permuted: bool = False
) -> dict[str, list[float]]:
    """Each call once per round, in turn, so load from elsewhere on the machine falls on all of them alike: the
    milliseconds of each, WARMUP rounds left out. `permuted`: each round in the next of every order, for calls
    that leave work behind (a delivery after a write), which would otherwise always fall on the same next call."""
    samples: dict[str, list[float]] = {name: [] for name in calls}
    orders = itertools.cycle(itertools.permutations(calls) if permuted else [tuple(calls)])
    for round_ in range(WARMUP + rounds):
        for name in next(orders):
            spent = await elapsed_ms(calls[name])
            if round_ >= WARMUP:
                samples[name].append(spent)
    return samples


async def timings(calls: Mapping[str, Callable[[], Awaitable[object]]], rounds: int) -> dict[str, Timing]:
    return {
        name: Timing(statistics.median(values), statistics.quantiles(values, n=10)[-1])
        for name, values in (await interleaved(calls, rounds)).items()
    }


def percentile(values: list[float], q: int) -> float:
    """The q-th percentile (1-99) of `values`, interpolated as statistics.quantiles does."""
    return statistics.quantiles(values, n=100)[q - 1]


@dataclass(frozen=True)
class Row:
    measure: str
    figure: str
    target: str = ""
    passed: bool | None = None


def at_most(measure: str, value: float, limit: float | None, unit: str, spec: str = ".2f") -> Row:
    """`value` against its target `limit`; a None limit shows the figure for comparison only."""
    if limit is None:
        return Row(measure, f"{value:{spec}} {unit}")
    return Row(measure, f"{value:{spec}} {unit}", f"≤ {limit:g} {unit}", value <= limit)


def holds(measure: str, value: bool, target: str = "yes") -> Row:
    """A yes/no fact that must be `target` ("yes": it must hold)."""
    figure = "yes" if value else "no"
    return Row(measure, figure, target, figure == target)


def table(rows: list[Row]) -> str:
    cells = [("measure", "figure", "target", "result")] + [
        (row.measure, row.figure, row.target, "" if row.passed is None else "pass" if row.passed else "FAIL")
        for row in rows
    ]
    widths = [max(len(line[column]) for line in cells) for column in range(4)]
    lines = [
        "| " + " | ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)) + " |" for line in cells
    ]
    lines.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(lines)
