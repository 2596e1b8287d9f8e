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
    out.print("next: `ftadvisor data validate|stats|check|dedup|split YOUR.jsonl` on your own data")
