"""Cumulative-cost plot of prompting vs fine-tuning, with the crossover and the shutdown date."""

from __future__ import annotations

from pathlib import Path

from ftadvisor.advisor.breakeven import BreakEven, BreakEvenInput, chart_horizon, cumulative_costs
from ftadvisor.data.jsonl import atomic_writer


def plot_breakeven(inp: BreakEvenInput, result: BreakEven, path: str | Path, title: str = "") -> None:
    """Write a PNG of cumulative cost over time (needs requests per day)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    horizon = chart_horizon(result)
    days = np.linspace(0, horizon, 400)
    prompt, ft = (np.array(c) for c in zip(*(cumulative_costs(inp, d) for d in days), strict=True))
    if result.lifetime_days is not None:
        ft[days > result.lifetime_days] = np.nan  # the fine-tune is gone after its base model shuts down
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    ax.plot(days, prompt, label="prompting (long prompt every request)", color="#d62728")
    ax.plot(days, ft, label="fine-tune (training + data + serving)", color="#1f77b4")
    if result.break_even_days is not None and result.break_even_days <= horizon:
        x = result.break_even_days
        ax.axvline(x, color="#2ca02c", linestyle="--", linewidth=1)
        ax.annotate(
            f"break-even: day {x:,.1f}",
            (x, cumulative_costs(inp, x)[0]),
            textcoords="offset points",
            xytext=(6, -14),
            color="#2ca02c",
        )
    if result.lifetime_days is not None and result.lifetime_days <= horizon:
        ax.axvline(result.lifetime_days, color="black", linewidth=1.2)
        ax.annotate("model shutdown", (result.lifetime_days, 0), textcoords="offset points", xytext=(4, 8))
        ax.axvspan(result.lifetime_days, horizon, color="grey", alpha=0.15)
    ax.set_xlabel("days from now")
    ax.set_ylabel("cumulative cost (USD)")
    ax.set_title(title or f"{inp.requests_per_day:,.0f} requests/day: {result.verdict}"[:110], fontsize=9)
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_writer(path, "wb") as f:
        fig.savefig(f, format="png")
    plt.close(fig)
