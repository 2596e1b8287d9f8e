"""``ftadvisor demo``: the dataset toolkit end to end on the built-in sample, no API key needed."""

from __future__ import annotations

from pathlib import Path

import click

from ftadvisor.cli.common import out, user_errors


@click.command()
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("ftadvisor-demo"),
              show_default=True, help="Folder for the demo's outputs. Example: --out /tmp/demo")
@click.option("--model", "-m", default="gpt-4.1-mini-2025-04-14", show_default=True,
              help="Hosted model to count and price for. Example: --model gpt-4o-mini")
@user_errors
def demo(out_dir: Path, model: str) -> None:
    """Run the dataset toolkit on the built-in support-ticket sample.

    Validates it, counts tokens and prices a fine-tune, checks label balance and contradicting answers,
    finds duplicates, and writes a deduplicated, stratified train/validation/test split.

    \b
    Example:
      ftadvisor demo --out /tmp/demo
    """
    from ftadvisor.data.dedup import find_duplicates, write_deduplicated
    from ftadvisor.data.quality import check_quality
    from ftadvisor.data.split import split_file
    from ftadvisor.data.stats import dataset_stats
    from ftadvisor.data.validate import validate_file
    from ftadvisor.samples import sample_path

    src = sample_path()
    out.rule("[bold]ftadvisor demo[/]: support-ticket triage (built-in sample)")
    out.print(f"dataset: {src}")
    v = validate_file(src, model=model)
    out.print(f"[bold]1. validate[/] {v.n_examples} examples ({v.method}): "
              f"{'valid' if v.valid else 'INVALID'}, {v.n_errors} errors, {v.n_warnings} warnings")
    s = dataset_stats(src, model=model)
    assert s.tokens_per_example is not None
    out.print(f"[bold]2. tokens & cost[/] {s.encoding}: median {s.tokens_per_example.median:.0f} tokens per "
              f"example, {s.billing_tokens_per_epoch:,} billing tokens per epoch x {s.n_epochs} epochs = "
              f"{s.billed_tokens:,} -> ${s.estimated_training_cost_usd or 0:.4f} on {model}")
    for note in s.notes:
        out.print(f"   note: {note}")
    q = check_quality(src, label_field="category")
    if q.labels:
        mix = ", ".join(f"{k} {v}" for k, v in q.labels.counts.items())
        out.print(f"[bold]3. quality[/] classes: {mix}"
                  + (f"; [yellow]imbalanced[/] (x{q.labels.imbalance_ratio:.1f})" if q.labels.imbalanced else ""))
    for group in q.inconsistent:
        out.print(f"   [yellow]contradiction[/]: lines {', '.join(map(str, group))} ask the same but answer "
                  "differently")
    d = find_duplicates(src)
    kinds = {k: sum(g.kind == k for g in d.groups) for k in ("exact", "near")}
    dedup_path = out_dir / "support_tickets.dedup.jsonl"
    kept = write_deduplicated(src, dedup_path, d)
    out.print(f"[bold]4. duplicates[/] {kinds['exact']} exact and {kinds['near']} near-duplicate groups; "
              f"kept {kept} of {d.n_examples} examples -> {dedup_path}")
    sp = split_file(dedup_path, out_dir / "splits", stratify=True, label_field="category", seed=0)
    out.print("[bold]5. split[/] " + ", ".join(f"{k} {v}" for k, v in sp.counts.items())
              + f" (stratified by category) -> {out_dir / 'splits'}")
    _advise(out_dir / "splits" / "train.jsonl", model)
    out.print("next: `ftadvisor data validate|stats|check|dedup|split YOUR.jsonl`, `ftadvisor cost breakeven`, "
              "`ftadvisor advise` on your own data")


REQUESTS_PER_DAY = 5_000
COST_PER_EXAMPLE = 2.0  # an assumption for the demo: a support agent labelling tickets
PROMPTED_MODEL = "gpt-4.1-2025-04-14"
LOCAL_PROFILE = "local/llama-3.1-8b-instruct"


def _advise(train: Path, ft_model: str) -> None:
    """Steps 6-7: what prompting costs, when each fine-tune pays back, and the recommendation."""
    import json

    from ftadvisor.advisor.breakeven import break_even
    from ftadvisor.advisor.costs import find_model, prompt_overhead, training_estimate
    from ftadvisor.advisor.decision import Answers, advise
    from ftadvisor.advisor.scenario import Scenario, scenario_input
    from ftadvisor.data.stats import dataset_stats
    from ftadvisor.pricing import load_catalogue
    from ftadvisor.tokens import TokenCounter

    cat = load_catalogue()
    rows = [json.loads(line) for line in train.read_text(encoding="utf-8").splitlines()]
    system = rows[0]["messages"][0]["content"]
    shots = [m for r in rows[:8] for m in r["messages"][1:]]
    base = find_model(cat, PROMPTED_MODEL)
    o = prompt_overhead(base, system_prompt=system, few_shot=shots, requests_per_day=REQUESTS_PER_DAY)
    counter = TokenCounter(o.encoding)
    user_tokens = sorted(counter.message(r["messages"][1]) for r in rows)[len(rows) // 2]
    answer_tokens = sorted(counter.text(r["messages"][2]["content"]) for r in rows)[len(rows) // 2]
    out.print(f"[bold]6. prompting instead[/] {PROMPTED_MODEL} needs the system prompt + 8 few-shot tickets: "
              f"{o.tokens:,} extra tokens per request = ${o.usd_per_month:,.2f}/month at "
              f"{REQUESTS_PER_DAY:,} requests/day")
    s = Scenario(prompt_tokens=o.tokens, input_tokens=user_tokens, output_tokens=answer_tokens + 3,
                 ft_prompt_tokens=0)
    stats = dataset_stats(train, model=ft_model)
    days = {}
    for name in (ft_model, LOCAL_PROFILE):
        entry = find_model(cat, name)
        t = training_estimate(entry, billing_tokens_per_epoch=stats.billing_tokens_per_epoch,
                              n_examples=stats.n_examples, cost_per_example=COST_PER_EXAMPLE)
        r = break_even(scenario_input(base, entry, s, train_cost=t.training_usd, data_cost=t.data_usd,
                                      requests_per_day=REQUESTS_PER_DAY))
        days[name] = (t, r)
        out.print(f"   fine-tune {name}: setup ${t.total_usd:,.2f} (training ${t.training_usd:,.2f} + data "
                  f"${t.data_usd:,.2f} at ${COST_PER_EXAMPLE:g}/example): {r.verdict}")
    (ht, hr), (lt, lr) = days[ft_model], days[LOCAL_PROFILE]
    rec = advise(Answers(task_type="classification", knowledge_changes="monthly", labelled_examples=stats.n_examples,
                         prompt_compliance=0.9, requests_per_day=REQUESTS_PER_DAY, hosted_setup_cost=ht.total_usd,
                         hosted_break_even_days=hr.break_even_days, hosted_lifetime_days=hr.lifetime_days,
                         hosted_accepts_jobs=find_model(cat, ft_model).accepts_jobs(),
                         local_setup_cost=lt.total_usd, local_break_even_days=lr.break_even_days))
    out.print(f"[bold]7. advice[/] (assuming prompting reaches 90% compliance): [bold]{rec.choice}[/]")
    for reason in rec.reasons:
        out.print(f"   - {reason}")
