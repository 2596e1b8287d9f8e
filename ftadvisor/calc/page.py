"""``ftadvisor calc``: the articles' calculators (break-even and crossover, LoRA rank and memory, the decision
tool, examples needed) as one self-contained HTML page on the user's own numbers.

One source of truth: the page's arithmetic is JavaScript generated from the API's Python
(:mod:`ftadvisor.calc.formulas`, :mod:`ftadvisor.calc.pyjs`); the page only reads its fields into the API's
models and prints the results. What the page needs from the world (catalogue prices, each model's days
left on the day the page is written, model shapes, a dataset or ledger run to start from) is data,
embedded as JSON. Plotly is embedded too: nothing is fetched, the page works offline.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from pathlib import Path

from pydantic import BaseModel

from ftadvisor.errors import InputError
from ftadvisor.pricing.catalogue import ModelEntry

ASSETS = Path(__file__).with_name("assets")


class Prefill(BaseModel):
    """Starting values for the page's fields; None leaves the page's default."""

    source: str = "defaults"
    base_model: str | None = None
    ft_model: str | None = None
    train_cost: float | None = None
    examples: int | None = None
    prompt_tokens: float | None = None
    input_tokens: float | None = None
    output_tokens: float | None = None
    requests_per_day: float | None = None
    lora_rank: int | None = None


def _models(today: dt.date) -> dict[str, dict[str, object]]:
    """Every catalogue row the page can price, with its days left as of ``today``."""
    from ftadvisor.advisor.scenario import remaining_life_days
    from ftadvisor.pricing import load_catalogue

    rows = {}
    for e in load_catalogue().models:
        row = e.model_dump(mode="json", exclude={"sources"})
        row["lifetime_days"] = remaining_life_days(e, today)
        row["prompted"] = e.base_input is not None and e.base_output is not None
        row["fine_tunable"] = e.self_hosted or (e.ft_input is not None and e.ft_output is not None)
        rows[page_key(e)] = row
    return rows


def page_key(e: ModelEntry) -> str:
    """The page's name of a catalogue row: its id, prefixed by the provider where ids repeat (Azure rows)."""
    return (
        e.id if e.provider in ("openai", "self-hosted") or e.id.startswith(f"{e.provider}/") else f"{e.provider}/{e.id}"
    )


def prefill_from_data(path: Path, model: str) -> Prefill:
    """Examples, tokens and the training cost of a dataset on ``model``."""
    from ftadvisor.advisor.costs import find_model, training_estimate
    from ftadvisor.backends.base import ESTIMATE_MODEL
    from ftadvisor.data.stats import dataset_stats
    from ftadvisor.pricing import load_catalogue

    entry = find_model(load_catalogue(), model)
    s = dataset_stats(path, model=ESTIMATE_MODEL if entry.self_hosted else model)
    if s.format_errors:
        raise InputError(f"{path}: has format errors ({', '.join(s.format_errors)}); run `ftadvisor data validate`")
    t = training_estimate(entry, billing_tokens_per_epoch=s.billing_tokens_per_epoch, n_examples=s.n_examples)
    return Prefill(
        source=f"{path.name} on {entry.id}",
        ft_model=page_key(entry),
        train_cost=round(t.training_usd, 2),
        examples=s.n_examples,
    )


def prefill_from_ledger(ref: str) -> Prefill:
    """The model, training cost and measured tokens of a ledger job or evaluation run."""
    from ftadvisor.ledger import Ledger, training_cost

    db = Ledger()
    run = db.eval_run(ref)
    job = db.job(ref)
    if run is None and job is None:
        raise InputError(f"no job or evaluation run {ref!r} in the ledger (see `ftadvisor ledger list`)")
    p = Prefill(source=f"ledger {ref}")
    if run is not None:
        models = run["models"]
        job = next((j for m in models if (j := db.job_by_model(m["model"])) is not None), None)
        base, tuned = models[0], models[-1]
        if tuned.get("prompt_tokens_mean") is not None:
            p.input_tokens = round(tuned["prompt_tokens_mean"])
            p.output_tokens = round(tuned["completion_tokens_mean"] or 0)
            if base is not tuned and base.get("prompt_tokens_mean") is not None:
                p.prompt_tokens = max(0, round(base["prompt_tokens_mean"] - tuned["prompt_tokens_mean"]))
    if job is not None:
        cost = training_cost(job)
        from ftadvisor.pricing import load_catalogue

        entry = load_catalogue().find(job["model"], provider=None if job["backend"] == "local" else job["backend"])
        p.ft_model = page_key(entry) if entry is not None else job["model"]
        p.base_model = p.ft_model
        p.train_cost = None if cost is None else round(cost, 2)
        from ftadvisor.runconfig import run_config_of

        try:
            rank = run_config_of(db, job["id"]).options.get("lora_rank")
        except InputError:  # started before run configs were recorded
            rank = None
        p.lora_rank = rank if isinstance(rank, int) else None
    return p


def render(prefill: Prefill | None = None, *, today: dt.date | None = None) -> str:
    """The page as one HTML string."""
    from typing import get_args

    from plotly.offline import get_plotlyjs

    from ftadvisor.advisor.decision import EXAMPLES_NEEDED, Change
    from ftadvisor.advisor.lora import ALL_LINEAR, PRESET_SHAPES
    from ftadvisor.calc.formulas import javascript

    today = today or dt.date.today()
    data = {
        "as_of": today.isoformat(),
        "models": _models(today),
        "shapes": {k: v.model_dump() for k, v in PRESET_SHAPES.items()},
        "task_types": list(EXAMPLES_NEEDED),
        "changes": list(get_args(Change)),
        "targets": list(ALL_LINEAR),
        "prefill": (prefill or Prefill()).model_dump(),
    }
    blob = json.dumps(data).replace("</", "<\\/")
    parts = {
        "TITLE": html.escape(f"ftadvisor calculators: {(prefill or Prefill()).source}, {today.isoformat()}"),
        "PLOTLY": get_plotlyjs(),
        "FORMULAS": javascript(),
        "DATA": blob,
        "UI": (ASSETS / "calc.js").read_text(encoding="utf-8"),
    }
    template = (ASSETS / "calc.html").read_text(encoding="utf-8")
    return re.sub(r"\{\{([A-Z]+)\}\}", lambda m: parts[m.group(1)], template)


def write_page(out: Path, prefill: Prefill | None = None, *, today: dt.date | None = None) -> Path:
    from ftadvisor.data.jsonl import atomic_writer

    with atomic_writer(out, "w") as f:
        f.write(render(prefill, today=today))
    return out
