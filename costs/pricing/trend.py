"""Cost regressions in a workflow's run totals: a run that costs clearly more than the runs before it."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

WINDOW = 5  # earlier runs the median is taken over
FACTOR = 1.25  # more than 25% above that median is a regression


def regressions(totals: Sequence[float | None], window: int = WINDOW, factor: float = FACTOR) -> list[bool]:
    """For totals in run order (oldest first): True where a run costs > factor x the median of the
    `window` priced runs before it. The first runs (fewer than 3 before them) are never marked."""
    marks = []
    for index, total in enumerate(totals):
        before = [t for t in totals[max(0, index - window) : index] if t is not None]
        if total is None or len(before) < 3:
            marks.append(False)
            continue
        baseline = statistics.median(before)
        marks.append(baseline > 0 and total > factor * baseline)
    return marks
