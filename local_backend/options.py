"""The local backend's own job options: typed, validated before a job exists, listed by `ftadvisor backends`
and passed as ``train -o KEY=VALUE``. The worker's full spec (``trainer.LocalSpec``) extends them."""

from __future__ import annotations

from pydantic import Field, field_validator

from ftadvisor.backends.base import BackendOptions


class LocalOptions(BackendOptions):
    lora_rank: int = Field(default=16, ge=1, description="LoRA rank")
    lora_alpha: int = Field(default=32, ge=1, description="LoRA alpha (the update is scaled by alpha/rank)")
    lora_dropout: float = Field(default=0.05, ge=0, lt=1, description="dropout on the LoRA input")
    target_modules: list[str] | str = Field(default="all-linear", description="modules to adapt, comma-separated, "
                                            "or all-linear")
    qlora: bool = Field(default=False, description="4-bit NF4 base (QLoRA, bitsandbytes)")
    max_length: int = Field(default=1024, ge=8, description="tokens per example; longer ones are cut")
    gpu_per_hour: float | None = Field(default=None, ge=0, description="price of this machine per hour, for the "
                                       "run's cost (default: the catalogue's self-hosted row)")
    num_processes: int = Field(default=1, ge=1, description="data-parallel processes through torchrun (one per "
                               "GPU; gloo on CPU)")
    checkpoint_every: int = Field(default=25, ge=1, description="steps between checkpoints")
    eval_every: int = Field(default=25, ge=1, description="steps between validation passes")

    @field_validator("target_modules", mode="before")
    @classmethod
    def _split(cls, v: object) -> object:
        if isinstance(v, str) and v != "all-linear":
            return [m.strip() for m in v.split(",") if m.strip()]
        return v
