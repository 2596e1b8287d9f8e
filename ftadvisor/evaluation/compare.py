"""Two models of one evaluation run, metric by metric, with the paired-bootstrap interval of each difference."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

from ftadvisor.evaluation.confidence import Interval, paired_bootstrap
from ftadvisor.evaluation.runner import EvalRun, ExampleResult, summarise

METRICS = ("format_compliance", "accuracy", "macro_f1", "field_accuracy", "rouge_l", "exact_match")
# Below this many examples an interval is wide whatever the models do: one example moves a rate by 1/n.
FEW_EXAMPLES = 50


class MetricComparison(BaseModel):
    metric: str
    a: float | None
    b: float | None
    n: int
    ci: Interval | None  # of b - a

    @property
    def difference(self) -> float | None:
        return None if self.a is None or self.b is None else self.b - self.a


def compare_models(run: EvalRun, a: int = 0, b: int = 1) -> dict[str, MetricComparison]:
    """Each metric of ``run.models[a]`` and ``run.models[b]`` on the examples both answered; metrics that do not
    apply to the run (no format rules, no labels) are left out."""
    first, second = run.models[a], run.models[b]
    rows = {
        m.model: sorted((e for e in run.examples if e.model == m.model), key=lambda e: e.line) for m in (first, second)
    }
    xs, ys = rows[first.model], rows[second.model]
    classify = bool(run.labels)
    out = {}
    for name in METRICS:
        va, vb = getattr(first, name), getattr(second, name)
        if va is None and vb is None:
            continue

        def metric(sample: Sequence[ExampleResult], name: str = name) -> float | None:
            value: float | None = getattr(summarise("-", "-", list(sample), classify), name)
            return value

        out[name] = MetricComparison(metric=name, a=va, b=vb, n=len(xs), ci=paired_bootstrap(xs, ys, metric))
    return out
