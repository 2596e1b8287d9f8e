"""Export a finished local job: the PEFT adapter as vLLM accepts it, or a merged 16-bit model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ftadvisor.backends.base import ExportResult
from ftadvisor.errors import InputError
from local_backend.store import JobDir

VLLM_DEFAULT_MAX_LORA_RANK = 16
VLLM_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)


def export(job: JobDir, out: str | Path, *, merge: bool = False) -> ExportResult:
    """Write a local job's adapter (or the merged model) to ``out``; returns what was written and how to serve it."""
    if not job.adapter.is_dir():
        raise InputError(f"{job.id} has no trained adapter yet (status {job.read_job().status})")
    name = job.read_json("names.json")["fine_tuned_model"].split(":")[2] or job.id
    return export_adapter(job.adapter, job.read_json("spec.json")["model"], name, out, merge=merge)


def export_folder(folder: Path, out: str | Path, *, merge: bool = False) -> ExportResult:
    """The same for an adapter folder from elsewhere (e.g. `jobs download-adapter` from Together): its base
    is the one its adapter_config.json names."""
    base = json.loads((folder / "adapter_config.json").read_text()).get("base_model_name_or_path")
    if not base:
        raise InputError(f"{folder}/adapter_config.json names no base_model_name_or_path")
    return export_adapter(folder, str(base), folder.name, out, merge=merge)


def export_adapter(adapter: Path, model: str, name: str, out: str | Path, *, merge: bool = False) -> ExportResult:
    config = json.loads((adapter / "adapter_config.json").read_text())
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise InputError(f"{out}: exists and is not empty")
    if merge:
        return _merge(adapter, model, out)
    problems = []
    if config.get("modules_to_save"):
        problems.append(f"modules_to_save={config['modules_to_save']} (vLLM rejects adapters that carry full modules)")
    if config.get("use_dora"):
        problems.append("DoRA (vLLM rejects it)")
    rank = int(config["r"])
    needed = next(r for r in VLLM_RANKS if r >= rank) if rank <= VLLM_RANKS[-1] else None
    if needed is None:
        problems.append(f"rank {rank} exceeds vLLM's largest max_lora_rank ({VLLM_RANKS[-1]})")
    if problems:  # checked before anything is written
        raise InputError(f"{name}: cannot export for vLLM: " + "; ".join(problems) + "; use --merge")
    assert needed is not None
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(adapter, tmp)
    if out.exists():
        out.rmdir()  # empty (checked above)
    tmp.rename(out)
    base = _serve_name(model)
    command = f"vllm serve {base} --enable-lora --lora-modules {name}={out.resolve()}"
    if needed > VLLM_DEFAULT_MAX_LORA_RANK:
        command += f" --max-lora-rank {needed}"
    return ExportResult(kind="adapter", out=str(out), rank=rank, base_model=base, vllm=command)


def _serve_name(model: str) -> str:
    from local_backend.modelio import BUILTIN_ALIASES, resolve

    return "HuggingFaceTB/SmolLM2-135M-Instruct" if model in BUILTIN_ALIASES else str(resolve(model))


def _merge(adapter: Path, model: str, out: Path) -> ExportResult:
    """Merge into the full-precision base (never into 4-bit weights): the base and the adapter meet in fp32,
    and the merged weights are cast once, to the dtype the base is stored in, then saved as safetensors."""
    import torch
    from peft import PeftModel
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from local_backend.modelio import quiet, resolve

    quiet()
    path = resolve(model)
    stored = getattr(AutoConfig.from_pretrained(path), "dtype", None) or torch.float32
    stored = getattr(torch, stored) if isinstance(stored, str) else stored
    base = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    merged = PeftModel.from_pretrained(base, str(adapter)).merge_and_unload().to(stored)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    merged.save_pretrained(tmp)
    AutoTokenizer.from_pretrained(path).save_pretrained(tmp)
    if out.exists():
        out.rmdir()
    tmp.rename(out)
    return ExportResult(
        kind="merged", out=str(out), dtype=str(stored).removeprefix("torch."), vllm=f"vllm serve {out.resolve()}"
    )
