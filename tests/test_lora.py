"""LoRA parameter counts against the seeds and against peft's own count on tiny models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftadvisor.advisor.lora import ALL_LINEAR, MemorySettings, ModelShape, lora_size, read_config

LLAMA3_8B = {
    "model_type": "llama",
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "num_hidden_layers": 32,
    "vocab_size": 128256,
    "tie_word_embeddings": False,
}


def write(tmp_path: Path, cfg: dict) -> Path:
    p = tmp_path / "config.json"
    p.write_text(json.dumps(cfg))
    return p


def test_seed_rank_8_on_a_4096_square_matrix() -> None:
    shape = ModelShape(
        model_type="llama",
        hidden=4096,
        intermediate=4096,
        heads=32,
        kv_heads=32,
        head_dim=128,
        layers=1,
        vocab=10,
        tied_embeddings=True,
        attention_bias=False,
    )
    size = lora_size(shape, 8, ["q_proj"])
    assert size.trainable_params == 65_536
    # Seeds 000/001/004: W has 16,777,216 parameters; LoRA 256x fewer (seed 004's "244x" is an arithmetic slip).
    m = size.per_matrix[0]
    assert (m.full_params, m.lora_params, m.reduction) == (16_777_216, 65_536, 256.0)
    assert m.lora_percent == pytest.approx(0.390625)


def test_llama3_8b_matches_peft_reference(tmp_path: Path) -> None:
    shape = read_config(write(tmp_path, LLAMA3_8B))
    assert shape.total_params() == 8_030_261_248
    assert lora_size(shape, 16, list(ALL_LINEAR)).trainable_params == 41_943_040
    assert lora_size(shape, 16, ["q_proj", "v_proj"]).trainable_params == 6_815_744


def test_memory_rules_by_hand(tmp_path: Path) -> None:
    """Weights, adapter state, activations and logits, each by its formula (one token, so activations vanish)."""
    gib = 1024**3
    shape = read_config(write(tmp_path, LLAMA3_8B))
    s = lora_size(shape, 16, list(ALL_LINEAR), MemorySettings(seq_len=1, batch_size=1, gradient_checkpointing=False))
    base, trainable, linear = 8_030_261_248, 41_943_040, shape.linear_params()
    full, lora, qlora = s.breakdown["full"], s.breakdown["lora"], s.breakdown["qlora"]
    assert full.weights == pytest.approx(18 * base / gib, abs=1e-3)  # bf16 + fp32 master + grads + AdamW
    assert lora.weights == pytest.approx(2 * base / gib, abs=1e-3)
    assert lora.adapter_and_optimizer == pytest.approx(16 * trainable / gib, abs=1e-3)
    assert qlora.weights == pytest.approx((0.52 * linear + 4 * (base - linear)) / gib, abs=1e-3)  # PEFT upcasts
    assert lora.logits == pytest.approx(128_256 * (2 + 8) / gib, abs=1e-3)
    assert lora.activations == pytest.approx(32 * 34 * 4096 / gib, abs=1e-3)
    assert s.adapter_bytes == 4 * trainable
    eight_bit = lora_size(shape, 16, list(ALL_LINEAR), MemorySettings(optimizer="adamw-8bit"))
    assert eight_bit.breakdown["lora"].adapter_and_optimizer == pytest.approx(10 * trainable / gib, abs=1e-3)


def test_checkpointing_keeps_layer_inputs_and_one_layer(tmp_path: Path) -> None:
    gib = 1024**3
    shape = read_config(write(tmp_path, LLAMA3_8B))
    on = lora_size(shape, 16, list(ALL_LINEAR), MemorySettings(seq_len=2048, batch_size=2)).breakdown["lora"]
    off = lora_size(
        shape, 16, list(ALL_LINEAR), MemorySettings(seq_len=2048, batch_size=2, gradient_checkpointing=False)
    ).breakdown["lora"]
    tokens = 2048 * 2
    assert off.activations == pytest.approx(32 * 34 * tokens * 4096 / gib, abs=1e-3)
    logits = tokens * 128_256 * 10 / gib  # larger than one recomputed layer: the peak is at the loss
    assert on.total == pytest.approx(
        on.weights + on.adapter_and_optimizer + 32 * 2 * tokens * 4096 / gib + logits, abs=2e-3
    )
    assert on.activations + on.logits < (off.activations + off.logits) / 3


L8 = LLAMA3_8B
L3 = {
    **LLAMA3_8B,
    "hidden_size": 3072,
    "intermediate_size": 8192,
    "num_attention_heads": 24,
    "num_hidden_layers": 28,
    "tie_word_embeddings": True,
}
L70 = {**LLAMA3_8B, "hidden_size": 8192, "intermediate_size": 28672, "num_attention_heads": 64, "num_hidden_layers": 80}
L65 = {
    "model_type": "llama",
    "hidden_size": 8192,
    "intermediate_size": 22016,
    "num_attention_heads": 64,
    "num_hidden_layers": 80,
    "vocab_size": 32000,
    "tie_word_embeddings": False,
}
QVO_MLP = ["q_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
TORCHTUNE = {"seq_len": 2048, "batch_size": 2, "loss": "chunked", "upcast": False}  # torchtune README conditions


@pytest.mark.parametrize(
    ("cfg", "rank", "targets", "settings", "method", "published"),
    [
        # torchtune README (shared/reference/local-fine-tuning.md §10): batch 2, packed 2048, compile, checkpointing,
        # chunked cross-entropy; recipes llama3_1/8B_qlora_single_device (r=8, all linear) and 8B_lora
        # (r=8, q/v/o + MLP)
        (L8, 8, list(ALL_LINEAR), TORCHTUNE, "qlora", 7.4),
        (L8, 8, QVO_MLP, TORCHTUNE, "lora", 16.2),
        # torchtune's ladder for Llama 3.2 3B on an A100, batch 2, seq 4096 (same section): LoRA 8.5, QLoRA 4.6 GiB
        (L3, 8, list(ALL_LINEAR), {**TORCHTUNE, "seq_len": 4096}, "lora", 8.5),
        (L3, 8, list(ALL_LINEAR), {**TORCHTUNE, "seq_len": 4096}, "qlora", 4.6),
        # torchtune llama3_1/70B_lora (r=16, q/v/o + MLP) on 8 A100s with FSDP: 27.6 GiB per GPU
        (L70, 16, QVO_MLP, {**TORCHTUNE, "gpus": 8, "sharding": "fsdp"}, "lora", 27.6),
    ],
)
def test_memory_within_20_percent_of_published_runs(
    tmp_path: Path, cfg: dict, rank: int, targets: list[str], settings: dict, method: str, published: float
) -> None:
    size = lora_size(read_config(write(tmp_path, cfg)), rank, targets, MemorySettings(**settings))
    assert size.memory_gb[method] == pytest.approx(published, rel=0.20)


def test_qlora_paper_65b_fits_one_48gb_gpu(tmp_path: Path) -> None:
    # Dettmers et al. 2023 (arXiv:2305.14314): LLaMA-65B, QLoRA r=64 on every linear layer, on one 48 GB GPU.
    size = lora_size(
        read_config(write(tmp_path, L65)), 64, list(ALL_LINEAR), MemorySettings(seq_len=512), gpu_memory_gib=48
    )
    assert size.memory_gb["qlora"] <= 48
    assert size.fit is not None and size.fit.max_seq_len["qlora"] >= 512
    assert size.memory_gb["lora"] > 100  # a 16-bit base cannot


@pytest.mark.parametrize(
    ("cfg", "gib", "published"),
    [
        # Unsloth README before its 2026-03 rewrite (local-fine-tuning.md §10): HF + FlashAttention 2 baseline, QLoRA
        # r=32 on all linear layers, batch 1: Llama 3.1 8B 5,789 tokens on 24 GB and 28,454 on 80 GB;
        # 70B 6,916 on 80 GB.
        (L8, 22.35, 5789),
        (L8, 74.5, 28454),
        (L70, 74.5, 6916),
    ],
)
def test_longest_sequence_within_20_percent_of_unsloth_baseline(
    tmp_path: Path, cfg: dict, gib: float, published: int
) -> None:
    size = lora_size(
        read_config(write(tmp_path, cfg)),
        32,
        list(ALL_LINEAR),
        MemorySettings(batch_size=1, loss="fp32-legacy"),
        gpu_memory_gib=gib,
    )
    assert size.fit is not None
    assert size.fit.max_seq_len["qlora"] == pytest.approx(published, rel=0.20)


def test_fit_is_the_boundary(tmp_path: Path) -> None:
    shape = read_config(write(tmp_path, L8))
    size = lora_size(shape, 16, list(ALL_LINEAR), MemorySettings(batch_size=2), gpu_memory_gib=24)
    assert size.fit is not None
    n = size.fit.max_seq_len["qlora"]
    at = lora_size(shape, 16, list(ALL_LINEAR), MemorySettings(batch_size=2, seq_len=n)).memory_gb["qlora"]
    over = lora_size(shape, 16, list(ALL_LINEAR), MemorySettings(batch_size=2, seq_len=n + 1)).memory_gb["qlora"]
    assert at <= 24 < over


def test_lora_params_cli_json_keeps_totals_and_adds_breakdown(run_cli, tmp_path: Path) -> None:
    r = run_cli(
        "lora",
        "params",
        "--config",
        write(tmp_path, L8),
        "--rank",
        "8",
        "--seq-len",
        "4096",
        "--batch-size",
        "2",
        "--chunked-loss",
        "--optimizer",
        "adamw-8bit",
        "--gpu-memory",
        "24",
        "--json",
    )
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert set(data["memory_gb"]) == {"full", "lora", "qlora"}
    assert set(data["breakdown"]["qlora"]) == {"weights", "adapter_and_optimizer", "activations", "logits", "total"}
    assert data["settings"]["loss"] == "chunked" and data["settings"]["optimizer"] == "adamw-8bit"
    assert data["fit"]["max_seq_len"]["qlora"] > 4096
    bad = run_cli("lora", "params", "--config", write(tmp_path, L8), "--sharding", "fsdp")
    assert bad.exit_code == 2 and "--gpus" in bad.output


TINY = {
    "llama": {
        "model_type": "llama",
        "hidden_size": 64,
        "intermediate_size": 96,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "num_hidden_layers": 2,
        "vocab_size": 300,
        "tie_word_embeddings": False,
    },
    "mistral": {
        "model_type": "mistral",
        "hidden_size": 64,
        "intermediate_size": 160,
        "num_attention_heads": 8,
        "num_key_value_heads": 2,
        "num_hidden_layers": 3,
        "vocab_size": 256,
        "tie_word_embeddings": False,
    },
    "qwen2": {
        "model_type": "qwen2",
        "hidden_size": 48,
        "intermediate_size": 128,
        "num_attention_heads": 6,
        "num_key_value_heads": 2,
        "num_hidden_layers": 2,
        "vocab_size": 320,
        "tie_word_embeddings": True,
    },
    "gemma": {
        "model_type": "gemma",
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_attention_heads": 4,
        "num_key_value_heads": 1,
        "head_dim": 32,
        "num_hidden_layers": 2,
        "vocab_size": 256,
    },
}


@pytest.mark.parametrize("name", sorted(TINY))
@pytest.mark.parametrize(("rank", "targets"), [(8, list(ALL_LINEAR)), (4, ["q_proj", "v_proj"]), (2, ["down_proj"])])
def test_counts_equal_peft_on_tiny_models(tmp_path: Path, name: str, rank: int, targets: list[str]) -> None:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    peft = pytest.importorskip("peft")
    cfg_dict = TINY[name]
    config = transformers.AutoConfig.for_model(**cfg_dict)
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_config(config)
    ours = lora_size(read_config(write(tmp_path, cfg_dict)), rank, targets)
    assert ours.base_params == sum(p.numel() for p in model.parameters())
    peft_model = peft.get_peft_model(model, peft.LoraConfig(r=rank, target_modules=targets))
    trainable, total = peft_model.get_nb_trainable_parameters()
    assert ours.trainable_params == trainable
    assert ours.total_params == total
