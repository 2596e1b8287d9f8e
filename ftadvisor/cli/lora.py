"""``ftadvisor lora``: LoRA / QLoRA sizing without loading weights."""

from __future__ import annotations

from pathlib import Path

import click

from ftadvisor.cli.common import json_option, out, print_json, user_errors


@click.group()
def lora() -> None:
    """Size LoRA and QLoRA adapters: parameters, adapter size, memory."""


@lora.command()
@click.option("--config", "config_path", required=True, type=click.Path(path_type=Path),
              help="A Hugging Face config.json (or its folder). Example: --config llama-3-8b/config.json")
@click.option("--rank", "-r", type=click.IntRange(min=1), default=16, show_default=True,
              help="LoRA rank. Example: --rank 8")
@click.option("--targets", help="Comma-separated modules to adapt. Example: --targets q_proj,v_proj")
@click.option("--preset", type=click.Choice(["all-linear", "attention", "qv"]), help="Target preset "
              "(default all-linear). Example: --preset all-linear")
@click.option("--seq-len", type=click.IntRange(min=1), default=2048, show_default=True,
              help="Sequence length for the activation estimate. Example: --seq-len 4096")
@click.option("--batch-size", type=click.IntRange(min=1), default=1, show_default=True,
              help="Micro-batch size for the activation estimate. Example: --batch-size 4")
@json_option
@user_errors
def params(config_path: Path, rank: int, targets: str | None, preset: str | None, seq_len: int, batch_size: int,
           as_json: bool) -> None:
    """Trainable parameters (exact), adapter size and memory for full, LoRA and QLoRA training.

    \b
    Examples:
      ftadvisor lora params --config config.json --rank 16 --preset all-linear
      ftadvisor lora params --config config.json --rank 8 --targets q_proj,v_proj --json
    """
    from ftadvisor.advisor.lora import PRESETS, lora_size, read_config

    if targets and preset:
        raise click.UsageError("give --targets or --preset, not both")
    modules = [t.strip() for t in targets.split(",") if t.strip()] if targets else list(PRESETS[preset or "all-linear"])
    size = lora_size(read_config(config_path), rank, modules, seq_len=seq_len, batch_size=batch_size)
    if as_json:
        print_json(size)
        return
    out.print(f"{size.model_type}, rank {rank}, targets {', '.join(size.targets)}")
    out.print(f"trainable: [bold]{size.trainable_params:,}[/] of {size.total_params:,} "
              f"({size.trainable_percent:.3f}%); base {size.base_params:,}")
    out.print(f"adapter on disk: {size.adapter_bytes / 1e6:,.1f} MB (fp32 safetensors)")
    out.print(f"memory (GiB, incl. {size.activations_gb:.2f} activations at seq {seq_len}, batch {batch_size}): "
              f"full {size.memory_gb['full']:,.1f} | LoRA 16-bit {size.memory_gb['lora']:,.1f} | "
              f"QLoRA 4-bit {size.memory_gb['qlora']:,.1f}")
