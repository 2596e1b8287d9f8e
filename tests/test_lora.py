"""LoRA parameter counts against the seeds and against peft's own count on tiny models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftadvisor.advisor.lora import ALL_LINEAR, ModelShape, lora_size, read_config

LLAMA3_8B = {"model_type": "llama", "hidden_size": 4096, "intermediate_size": 14336, "num_attention_heads": 32,
             "num_key_value_heads": 8, "num_hidden_layers": 32, "vocab_size": 128256, "tie_word_embeddings": False}


def write(tmp_path: Path, cfg: dict) -> Path:
    p = tmp_path / "config.json"
    p.write_text(json.dumps(cfg))
    return p


def test_seed_rank_8_on_a_4096_square_matrix() -> None:
    shape = ModelShape(model_type="llama", hidden=4096, intermediate=4096, heads=32, kv_heads=32, head_dim=128,
                       layers=1, vocab=10, tied_embeddings=True, attention_bias=False)
    assert lora_size(shape, 8, ["q_proj"]).trainable_params == 65_536


def test_llama3_8b_matches_peft_reference(tmp_path: Path) -> None:
    shape = read_config(write(tmp_path, LLAMA3_8B))
    assert shape.total_params() == 8_030_261_248
    assert lora_size(shape, 16, list(ALL_LINEAR)).trainable_params == 41_943_040
    assert lora_size(shape, 16, ["q_proj", "v_proj"]).trainable_params == 6_815_744


def test_memory_rules(tmp_path: Path) -> None:
    s = lora_size(read_config(write(tmp_path, LLAMA3_8B)), 16, list(ALL_LINEAR), seq_len=1, batch_size=1)
    gib = 1024 ** 3
    act = s.activations_gb
    assert s.memory_gb["full"] == pytest.approx(18 * 8_030_261_248 / gib + act, abs=1e-3)
    assert s.memory_gb["lora"] == pytest.approx((2 * 8_030_261_248 + 16 * 41_943_040) / gib + act, abs=1e-3)
    assert s.memory_gb["qlora"] < s.memory_gb["lora"] / 2
    assert s.adapter_bytes == 4 * 41_943_040


TINY = {
    "llama": {"model_type": "llama", "hidden_size": 64, "intermediate_size": 96, "num_attention_heads": 4,
              "num_key_value_heads": 2, "num_hidden_layers": 2, "vocab_size": 300, "tie_word_embeddings": False},
    "mistral": {"model_type": "mistral", "hidden_size": 64, "intermediate_size": 160, "num_attention_heads": 8,
                "num_key_value_heads": 2, "num_hidden_layers": 3, "vocab_size": 256, "tie_word_embeddings": False},
    "qwen2": {"model_type": "qwen2", "hidden_size": 48, "intermediate_size": 128, "num_attention_heads": 6,
              "num_key_value_heads": 2, "num_hidden_layers": 2, "vocab_size": 320, "tie_word_embeddings": True},
    "gemma": {"model_type": "gemma", "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4,
              "num_key_value_heads": 1, "head_dim": 32, "num_hidden_layers": 2, "vocab_size": 256},
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
