"""The report's interactive charts as Plotly figures (plain JSON: data and layout), drawn by the plotly.js
embedded in the page."""

from __future__ import annotations

from typing import Any

from ftadvisor.advisor.breakeven import BreakEven, BreakEvenInput, chart_horizon, cumulative_costs
from ftadvisor.evaluation.compare import MetricComparison
from ftadvisor.evaluation.runner import EvalRun

Figure = dict[str, Any]
BASE_LAYOUT = {
    "margin": {"t": 36, "r": 12, "b": 48, "l": 60},
    "legend": {"orientation": "h", "y": -0.25},
    "font": {"size": 12},
}


def _layout(title: str, **more: Any) -> dict[str, Any]:
    return {**BASE_LAYOUT, "title": {"text": title, "font": {"size": 14}}, **more}


def cost_chart(inp: BreakEvenInput, result: BreakEven, sides: tuple[str, str]) -> Figure:
    """Cumulative cost of prompting and of the fine-tune; the fine-tune's line stops at its shutdown."""
    horizon = chart_horizon(result)
    days = [horizon * i / 200 for i in range(201)]
    costs = [cumulative_costs(inp, d) for d in days]
    life = result.lifetime_days
    shapes, notes = [], []
    if life is not None and life <= horizon:
        shapes.append(
            {
                "type": "rect",
                "x0": life,
                "x1": horizon,
                "yref": "paper",
                "y0": 0,
                "y1": 1,
                "fillcolor": "#888",
                "opacity": 0.15,
                "line": {"width": 0},
            }
        )
        notes.append(
            {"x": life, "yref": "paper", "y": 1, "text": "base model shuts down", "showarrow": False, "xanchor": "left"}
        )
    if result.break_even_days is not None and result.break_even_days <= horizon:
        shapes.append(
            {
                "type": "line",
                "x0": result.break_even_days,
                "x1": result.break_even_days,
                "yref": "paper",
                "y0": 0,
                "y1": 1,
                "line": {"color": "#1b7f3b", "dash": "dash"},
            }
        )
        notes.append(
            {
                "x": result.break_even_days,
                "yref": "paper",
                "y": 0.9,
                "showarrow": False,
                "xanchor": "left",
                "text": f"break-even: day {result.break_even_days:,.1f}",
            }
        )
    return {
        "data": [
            {"x": days, "y": [c[0] for c in costs], "name": sides[0], "line": {"color": "#b3261e"}},
            {
                "x": days,
                "y": [c[1] if life is None or d <= life else None for d, c in zip(days, costs, strict=True)],
                "name": f"{sides[1]} (training, data and serving)",
                "line": {"color": "#1f5fbf"},
            },
        ],
        "layout": _layout(
            f"Cumulative cost at {inp.requests_per_day or 0:,.0f} requests/day",
            xaxis={"title": {"text": "days from now"}},
            yaxis={"title": {"text": "USD"}},
            shapes=shapes,
            annotations=notes,
        ),
    }


def loss_chart(losses: list[dict[str, Any]]) -> Figure:
    train = [r for r in losses if r.get("train_loss") is not None]
    valid = [r for r in losses if r.get("valid_loss") is not None]
    data = [
        {
            "x": [r["step"] for r in train],
            "y": [r["train_loss"] for r in train],
            "name": "training loss",
            "mode": "lines",
        }
    ]
    if valid:
        data.append(
            {
                "x": [r["step"] for r in valid],
                "y": [r["valid_loss"] for r in valid],
                "name": "validation loss",
                "mode": "lines+markers",
            }
        )
    return {
        "data": data,
        "layout": _layout("Loss per step", xaxis={"title": {"text": "step"}}, yaxis={"title": {"text": "loss"}}),
    }


def quality_chart(quality: list[MetricComparison], names: dict[str, str], tuned: str) -> Figure:
    """Each metric's difference (fine-tuned minus base) with its 95 % interval: a bar that crosses zero is not
    an established difference."""
    rows = [c for c in quality if c.difference is not None]
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "markers",
                "x": [c.difference for c in rows],
                "y": [names[c.metric] for c in rows],
                "marker": {"size": 10, "color": "#1f5fbf"},
                "name": f"{tuned} minus base",
                "error_x": {
                    "type": "data",
                    "symmetric": False,
                    "array": [(c.ci.high - c.difference) if c.ci and c.difference is not None else 0 for c in rows],
                    "arrayminus": [(c.difference - c.ci.low) if c.ci and c.difference is not None else 0 for c in rows],
                },
            }
        ],
        "layout": _layout(
            "Fine-tuned minus base, with 95% intervals",
            showlegend=False,
            xaxis={"title": {"text": "difference"}, "zeroline": True, "zerolinewidth": 2},
            yaxis={"automargin": True},
            height=80 + 40 * len(rows),
        ),
    }


def per_class_chart(run: EvalRun) -> Figure | None:
    """F1 per class for every model (classification runs)."""
    labels = sorted({c for m in run.models for c in m.per_class})
    if not labels:
        return None
    return {
        "data": [
            {
                "type": "bar",
                "name": m.model,
                "x": labels,
                "y": [m.per_class[c].f1 if c in m.per_class else None for c in labels],
            }
            for m in run.models
        ],
        "layout": _layout("F1 per class", barmode="group", yaxis={"range": [0, 1.05], "title": {"text": "F1"}}),
    }
