"""Build a report of one evaluation run (and the job that trained its fine-tuned model) from the ledger:
what was spent, what was gained, and whether it pays."""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import json
from pathlib import Path
from typing import Any

from ftadvisor.errors import InputError
from ftadvisor.ledger import Ledger

CSS = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}"
       "table{border-collapse:collapse;font-size:13px;margin:.5em 0;display:block;overflow-x:auto}"
       "td,th{border:1px solid #ccc;padding:3px 6px;vertical-align:top;text-align:left}th{background:#f3f3f3}"
       "img{max-width:100%}.verdict{font-weight:bold}")
METRICS = ["format_compliance", "exact_match", "accuracy", "macro_f1", "field_accuracy", "rouge_l"]


def last_eval_id(db: Ledger) -> str:
    row = db.db.execute("SELECT id FROM eval_runs ORDER BY created_at DESC, rowid DESC LIMIT 1").fetchone()
    if row is None:
        raise InputError("the ledger holds no evaluation run yet: run `ftadvisor eval run` first")
    return row["id"]


def frames(db: Ledger, eval_id: str | None = None, job_id: str | None = None) -> dict[str, Any]:
    """The report's DataFrames: metrics, examples (where the models differ), training, costs, regression."""
    import pandas as pd

    eval_id = eval_id or last_eval_id(db)
    run = db.eval_run(eval_id)
    if run is None:
        raise InputError(f"no evaluation run {eval_id!r} in the ledger (see `ftadvisor ledger list`)")
    summaries = pd.DataFrame(run["models"])
    metrics = summaries[["model", "backend", "n", "n_errors", *METRICS, "latency_mean_s", "prompt_tokens_mean",
                         "completion_tokens_mean", "cost_per_request_usd"]]
    ex = pd.DataFrame([{"model": e["model"], "line": e["line"], "output": e["output"], "reference": e["reference"],
                        "exact": e["metrics"]["exact"], "compliant": e["metrics"]["compliant"]}
                       for e in run["examples"]])
    models = list(summaries["model"])
    examples = pd.DataFrame()
    if len(models) >= 2 and not ex.empty:
        a = ex[ex.model == models[0]].set_index("line")
        b = ex[ex.model == models[1]].set_index("line")
        both = a.merge(b, left_index=True, right_index=True, suffixes=("_a", "_b"))
        differ = both[both.output_a != both.output_b]
        examples = pd.DataFrame({"line": differ.index, "reference": differ.reference_a,
                                 models[0]: differ.output_a, models[1]: differ.output_b}).reset_index(drop=True)
    job = db.job(job_id) if job_id else next((db.job(j["id"]) for j in db.jobs(1000)
                                              if j["fine_tuned_model"] in models), None)
    if job_id and job is None:
        raise InputError(f"no job {job_id!r} in the ledger")
    training = pd.DataFrame(job["metrics"]) if job and job["metrics"] else pd.DataFrame()
    costs = pd.DataFrame([{
        "job": job["id"], "backend": job["backend"], "model": job["model"], "fine_tuned_model": job["fine_tuned_model"],
        "status": job["status"], "trained_tokens": job["trained_tokens"],
        "estimated_cost_usd": job["estimated_cost_usd"], "actual_cost_usd": job["actual_cost_usd"]}]) if job else \
        pd.DataFrame()
    regression = pd.DataFrame()
    for rec in db.records(kind="regression", limit=50):
        rows = json.loads(rec["data"])["models"]
        if {r["model"] for r in rows} & set(models):
            regression = pd.DataFrame([{k: r[k] for k in ("model", "pass_rate", "change_points", "flagged")}
                                       for r in rows])
            break
    judge = pd.DataFrame()
    for rec in db.records(kind="judgement", limit=200):
        if rec["ref"] == eval_id:
            j = json.loads(rec["data"])
            pair = j.get("pairwise") or {}
            judge = pd.DataFrame([{"model": m, "judge": j["judge"], "mean_rubric_score": v,
                                   "pairwise_win_rate": pair.get("win_rate") if m == pair.get("candidate") else None,
                                   "order_consistency": pair.get("consistency") if m == pair.get("candidate") else None}
                                  for m, v in j["mean_score"].items()])
            break
    return {"run": run, "job": job, "metrics": metrics, "examples": examples, "training": training,
            "costs": costs, "regression": regression, "judge": judge}


def _break_even(f: dict[str, Any], requests_per_day: float) -> tuple[Any, Any] | None:
    """Break-even of the fine-tune against the first model, from measured costs per request."""
    from ftadvisor.advisor.breakeven import BreakEvenInput, break_even
    from ftadvisor.advisor.scenario import remaining_life_days
    from ftadvisor.pricing import load_catalogue

    m, job = f["metrics"], f["job"]
    if job is None or len(m) < 2:
        return None
    base_cost, ft_cost = m.iloc[0]["cost_per_request_usd"], m.iloc[1]["cost_per_request_usd"]
    train = job["actual_cost_usd"] if job["actual_cost_usd"] is not None else job["estimated_cost_usd"]
    if train is None or base_cost is None or ft_cost is None or base_cost != base_cost or ft_cost != ft_cost:
        return None
    entry = load_catalogue().find(job["model"])
    life = remaining_life_days(entry) if entry else None
    inp = BreakEvenInput(train_cost=train, prompt_cost=float(base_cost), ft_cost=float(ft_cost),
                         requests_per_day=requests_per_day, lifetime_days=life)
    return inp, break_even(inp)


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _plots(f: dict[str, Any], be: tuple[Any, Any] | None) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots: dict[str, str] = {}
    t = f["training"]
    if not t.empty:
        fig, ax = plt.subplots(figsize=(7, 3.5))
        ax.plot(t["step"], t["train_loss"], label="training loss")
        valid = t.dropna(subset=["valid_loss"])
        if not valid.empty:
            ax.plot(valid["step"], valid["valid_loss"], "o-", label="validation loss")
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.legend()
        ax.grid(alpha=0.3)
        fig.tight_layout()
        plots["Training and validation loss"] = _png(fig)
    m = f["metrics"].set_index("model")[METRICS].dropna(axis=1, how="all")
    if not m.empty:
        fig, ax = plt.subplots(figsize=(7, 3.5))
        m.T.plot.bar(ax=ax, rot=0)
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("score")
        ax.legend(fontsize=7)
        fig.tight_layout()
        plots["Metrics: base vs fine-tuned"] = _png(fig)
    if be is not None:
        import tempfile

        from ftadvisor.advisor.plot import plot_breakeven

        with tempfile.TemporaryDirectory() as tmp:
            png = Path(tmp) / "breakeven.png"
            plot_breakeven(be[0], be[1], png)
            plots["Cumulative cost and break-even"] = base64.b64encode(png.read_bytes()).decode()
    return plots


def _html(df: Any) -> str:
    """A table with missing values (None or NaN) shown as '-'."""
    return df.astype(object).where(df.notna(), "-").to_html(index=False, escape=True)


def _md_table(df: Any) -> str:
    if df.empty:
        return "_none_\n"
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, row in df.iterrows():
        cells = ["" if v is None or v != v else (f"{v:.4g}" if isinstance(v, float) else str(v)) for v in row]
        lines.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def write_report(out: str | Path, db: Ledger | None = None, *, eval_id: str | None = None,
                 job_id: str | None = None, requests_per_day: float = 1000.0, breakeven: Any = None) -> Path:
    """Write CSV and Parquet per table, report.md and a self-contained report.html; returns the HTML path.

    The break-even comes from the evaluated models' measured costs per request, or from ``breakeven`` (a
    ``BreakEvenInput`` priced elsewhere, e.g. prompting a hosted model vs a hosted fine-tune) when given."""
    from ftadvisor.advisor.breakeven import break_even

    db = db or Ledger()
    f = frames(db, eval_id, job_id)
    be = (breakeven, break_even(breakeven)) if breakeven is not None else _break_even(f, requests_per_day)
    if be is not None:
        requests_per_day = be[0].requests_per_day or requests_per_day
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tables = {k: f[k] for k in ("metrics", "judge", "examples", "training", "costs", "regression")}
    for name, df in tables.items():
        df.to_csv(out / f"{name}.csv", index=False)
        df.to_parquet(out / f"{name}.parquet", index=False)
    verdict = be[1].verdict if be else "no break-even: the report needs a job and per-request costs of both models"
    plots = _plots(f, be)
    title = f"ftadvisor report: {f['run']['id']}"
    md = [f"# {title}\n", f"Data: `{f['run']['data']}`; generated {dt.date.today()}\n", "## Cost and break-even\n",
          _md_table(f["costs"]), f"\n**Verdict** ({requests_per_day:,.0f} requests/day): {verdict}\n"]
    for name in ("metrics", "judge", "regression", "training", "examples"):
        md += [f"\n## {name.capitalize()}\n", _md_table(tables[name].head(50))]
    (out / "report.md").write_text("".join(md), encoding="utf-8")
    page = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>{CSS}"
            f"</style></head><body><h1>{html.escape(title)}</h1>",
            f"<p>Data: <code>{html.escape(f['run']['data'])}</code></p><h2>Cost and break-even</h2>",
            _html(f["costs"]) if not f["costs"].empty else "<p>No training job found.</p>",
            f"<p class='verdict'>{html.escape(verdict)} ({requests_per_day:,.0f} requests/day)</p>"]
    for caption, data in plots.items():
        page.append(f"<h2>{html.escape(caption)}</h2><img alt='{html.escape(caption)}' "
                    f"src='data:image/png;base64,{data}'>")
    for name in ("metrics", "judge", "regression", "examples"):
        df = tables[name]
        page.append(f"<h2>{name.capitalize()}</h2>" + (_html(df.head(50)) if not df.empty else "<p>none</p>"))
    page.append("</body></html>")
    path = out / "report.html"
    path.write_text("".join(page), encoding="utf-8")
    return path
