"""``ftadvisor lora``: LoRA / QLoRA sizing without loading weights."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import click

from ftadvisor.cli.common import json_option, out, print_json, user_errors


@click.group()
def lora() -> None:
    """Size LoRA and QLoRA adapters: parameters, adapter size, memory."""


@lora.command()
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(path_type=Path),
    help="A Hugging Face config.json (or its folder). Example: --config llama-3-8b/config.json",
)
@click.option(
    "--rank", "-r", type=click.IntRange(min=1), default=16, show_default=True, help="LoRA rank. Example: --rank 8"
)
@click.option("--targets", help="Comma-separated modules to adapt. Example: --targets q_proj,v_proj")
@click.option(
    "--preset",
    type=click.Choice(["all-linear", "attention", "qv"]),
    help="Target preset (default all-linear). Example: --preset all-linear",
)
@click.option(
    "--seq-len",
    type=click.IntRange(min=1),
    default=2048,
    show_default=True,
    help="Tokens per sequence (with packing every sequence is this long; without, the longest in a "
    "batch). Example: --seq-len 4096",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Micro-batch size per GPU. Example: --batch-size 4",
)
@click.option(
    "--gradient-checkpointing/--no-gradient-checkpointing",
    default=True,
    show_default=True,
    help="Recompute activations in the backward pass (on in every published recipe). "
    "Example: --no-gradient-checkpointing",
)
@click.option(
    "--optimizer",
    type=click.Choice(["adamw", "adamw-8bit", "paged-adamw-8bit"]),
    default="adamw",
    show_default=True,
    help="Optimizer states: AdamW 8 B per trained parameter, 8-bit 2 B. Example: --optimizer adamw-8bit",
)
@click.option(
    "--loss",
    type=click.Choice(["fp32", "fp32-legacy", "chunked"]),
    default="fp32",
    show_default=True,
    help="How the loss holds the logits: fp32 (today's transformers, TRL, ftadvisor), fp32-legacy "
    "(transformers < 4.46), chunked (torchtune, Liger, Unsloth fused cross-entropy). "
    "Example: --loss chunked",
)
@click.option(
    "--chunked-loss/--no-chunked-loss",
    default=None,
    help="Shorthand for --loss chunked / --loss fp32. Example: --chunked-loss",
)
@click.option(
    "--dtype",
    type=click.Choice(["bf16", "fp16", "fp32"]),
    default="bf16",
    show_default=True,
    help="Training precision (fp32: CPU training). Example: --dtype fp32",
)
@click.option(
    "--upcast/--no-upcast",
    default=True,
    show_default=True,
    help="QLoRA: PEFT's prepare_model_for_kbit_training upcasts non-quantised weights to fp32 (TRL, "
    "Axolotl, ftadvisor); torchtune and Unsloth do not. Example: --no-upcast",
)
@click.option(
    "--gpus",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="GPUs training together (data parallel, or sharded with --sharding fsdp). Example: --gpus 8",
)
@click.option(
    "--sharding",
    type=click.Choice(["none", "fsdp"]),
    default="none",
    show_default=True,
    help="fsdp shards weights, gradients and optimizer states over the GPUs. Example: --sharding fsdp",
)
@click.option(
    "--gpu-memory",
    type=click.FloatRange(min=0, min_open=True),
    help="GiB per GPU: print the longest sequence and the largest batch that fit. Example: --gpu-memory 24",
)
@json_option
@user_errors
def params(
    config_path: Path,
    rank: int,
    targets: str | None,
    preset: str | None,
    seq_len: int,
    batch_size: int,
    gradient_checkpointing: bool,
    optimizer: str,
    loss: str,
    chunked_loss: bool | None,
    dtype: str,
    upcast: bool,
    gpus: int,
    sharding: str,
    gpu_memory: float | None,
    as_json: bool,
) -> None:
    """Trainable parameters (exact), adapter size and memory per GPU for full, LoRA and QLoRA training.

    \b
    Examples:
      ftadvisor lora params --config config.json --rank 16 --preset all-linear
      ftadvisor lora params --config config.json --rank 8 --seq-len 4096 --batch-size 2 --gpu-memory 24 --json
    """
    from pydantic import ValidationError

    from ftadvisor.advisor.lora import PRESETS, Loss, MemorySettings, Optimizer, lora_size, read_config
    from ftadvisor.errors import InputError

    if targets and preset:
        raise click.UsageError("give --targets or --preset, not both")
    if sharding == "fsdp" and gpus == 1:
        raise click.UsageError("--sharding fsdp needs --gpus 2 or more")
    modules = [t.strip() for t in targets.split(",") if t.strip()] if targets else list(PRESETS[preset or "all-linear"])
    if chunked_loss is not None:
        loss = "chunked" if chunked_loss else "fp32"
    try:
        settings = MemorySettings(
            seq_len=seq_len,
            batch_size=batch_size,
            gradient_checkpointing=gradient_checkpointing,
            optimizer=cast(Optimizer, optimizer),
            loss=cast(Loss, loss),
            dtype_bytes=4 if dtype == "fp32" else 2,
            upcast=upcast,
            gpus=gpus,
            sharding="fsdp" if sharding == "fsdp" else "none",
        )
    except ValidationError as exc:
        raise InputError(exc.errors()[0]["msg"]) from exc
    size = lora_size(read_config(config_path), rank, modules, settings, gpu_memory_gib=gpu_memory)
    if as_json:
        print_json(size)
        return
    from rich.table import Table

    out.print(f"{size.model_type}, rank {rank}, targets {', '.join(size.targets)}")
    out.print(
        f"trainable: [bold]{size.trainable_params:,}[/] of {size.total_params:,} "
        f"({size.trainable_percent:.3f}%); base {size.base_params:,}"
    )
    out.print(f"adapter on disk: {size.adapter_bytes / 1e6:,.1f} MB (fp32 safetensors)")
    for mx in size.per_matrix:
        out.print(
            f"  {mx.module}: W {mx.d_out:,}x{mx.d_in:,} = {mx.full_params:,} params; LoRA r={rank} adds "
            f"{mx.lora_params:,} ({mx.reduction:,.0f}x fewer, {mx.lora_percent:.2f}%) per layer"
        )
    how = (
        f"seq {seq_len} x batch {batch_size}, {dtype}, {optimizer}, checkpointing "
        f"{'on' if gradient_checkpointing else 'off'}, {loss} loss"
        + (f", {gpus} GPUs" + (" FSDP" if sharding == "fsdp" else " data parallel") if gpus > 1 else "")
    )
    t = Table("GiB per GPU", "weights", "adapter + optimizer", "activations", "logits", "total", title=how)
    for name, label in (
        ("full", "full"),
        ("lora", "LoRA 16-bit" if dtype != "fp32" else "LoRA"),
        ("qlora", "QLoRA 4-bit"),
    ):
        b = size.breakdown[name]
        t.add_row(
            label,
            f"{b.weights:,.2f}",
            f"{b.adapter_and_optimizer:,.2f}",
            f"{b.activations:,.2f}",
            f"{b.logits:,.2f}",
            f"[bold]{b.total:,.1f}[/]",
        )
    out.print(t)
    if size.fit is not None:
        f = size.fit
        for name in ("full", "lora", "qlora"):
            out.print(
                f"fits in {gpu_memory:g} GiB ({name}): longest sequence {f.max_seq_len[name]:,} at batch "
                f"{batch_size}; largest batch {f.max_batch_size[name]:,} at seq {seq_len}"
            )
