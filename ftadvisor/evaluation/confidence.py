"""Confidence intervals for evaluation metrics by the paired bootstrap: the same resampled examples are scored
for both models, so the interval of the difference reflects the examples' shared difficulty (Efron and
Tibshirani, ch. 16). Percentile intervals; a seeded generator makes them reproducible."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import TypeVar

from pydantic import BaseModel

T = TypeVar("T")
RESAMPLES = 2000
LEVEL = 0.95


class Interval(BaseModel):
    low: float
    high: float
    level: float = LEVEL

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


def paired_bootstrap(
    a: Sequence[T],
    b: Sequence[T],
    metric: Callable[[Sequence[T]], float | None],
    *,
    resamples: int = RESAMPLES,
    level: float = LEVEL,
    seed: int = 0,
) -> Interval | None:
    """Interval of ``metric(b) - metric(a)`` over examples resampled together (``a[i]`` and ``b[i]`` answer
    the same example). None with fewer than two examples or when the metric is undefined."""
    if len(a) != len(b):
        raise ValueError("paired samples must have the same length")
    n = len(a)
    if n < 2:
        return None
    rng = random.Random(seed)
    diffs = []
    for _ in range(resamples):
        idx = [rng.randrange(n) for _ in range(n)]
        ma, mb = metric([a[i] for i in idx]), metric([b[i] for i in idx])
        if ma is not None and mb is not None:
            diffs.append(mb - ma)
    if not diffs:
        return None
    diffs.sort()
    tail = (1 - level) / 2
    return Interval(
        low=diffs[int(tail * (len(diffs) - 1))], high=diffs[int((1 - tail) * (len(diffs) - 1))], level=level
    )
