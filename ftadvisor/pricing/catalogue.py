"""Load the packaged price catalogue and merge user overrides (config folder, then ``--prices FILE``)."""

from __future__ import annotations

import datetime as dt
import json
import math
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ftadvisor.errors import InputError
from ftadvisor.tokens import base_model, model_family
from ftadvisor.userfiles import read_json

STALE_AFTER_DAYS = 90
OrgHistory = Literal["never", "inactive", "active"]


class ModelEntry(BaseModel):
    """One model: prices (USD per 1M tokens unless named per hour), limits and lifetime."""

    model_config = ConfigDict(extra="forbid")

    id: str
    aliases: list[str] = Field(default_factory=list)
    provider: str = "openai"
    encoding: str | None = None
    methods: list[str] = Field(default_factory=lambda: ["supervised"])
    training_per_1m: float | None = None
    training_per_hour: float | None = None
    ft_input: float | None = None
    ft_cached_input: float | None = None
    ft_output: float | None = None
    base_input: float | None = None
    base_cached_input: float | None = None
    base_output: float | None = None
    gpu_per_hour: float | None = None  # per GPU
    hosting_per_hour: float | None = None  # a deployed fine-tune billed by the hour, used or not (Azure)
    serving_gpus: int = Field(default=1, ge=1)  # GPUs per serving replica (70B-class models need several)
    serving_tokens_per_second: float | None = None  # per replica, input + output tokens
    training_gpus: int = Field(default=1, ge=1)
    training_tokens_per_second: float | None = None  # all training GPUs together
    training_overhead_hours: float = 0.0  # rental beyond the training loop: download, setup, evaluation
    max_example_tokens: int | None = None
    context_window: int | None = None
    job_cutoff: dt.date | None = None
    shutdown: dt.date | None = None  # of the fine-tuned models (and of the base unless base_shutdown says)
    base_shutdown: dt.date | None = None
    # Azure: job_cutoff holds for existing customers only (a subscription that has deployed this model
    # version); new customers lost training with the base model (base_shutdown).
    job_cutoff_existing_customers_only: bool = False
    as_of: dt.date | None = None  # when this row was last checked, if not the catalogue's date
    sources: list[str] = Field(default_factory=list)

    @field_validator(
        "training_per_1m",
        "training_per_hour",
        "ft_input",
        "ft_cached_input",
        "ft_output",
        "base_input",
        "base_cached_input",
        "base_output",
        "gpu_per_hour",
        "hosting_per_hour",
        "serving_tokens_per_second",
        "training_tokens_per_second",
        "training_overhead_hours",
    )
    @classmethod
    def _finite_non_negative(cls, v: float | None) -> float | None:
        if v is not None and (not math.isfinite(v) or v < 0):
            raise ValueError(f"must be a finite number >= 0, got {v}")
        return v

    @property
    def self_hosted(self) -> bool:
        """Priced in GPU-hours on rented or owned hardware, not per token by a provider."""
        return self.provider == "self-hosted"

    def is_retired(self, today: dt.date | None = None) -> bool:
        return self.shutdown is not None and (today or dt.date.today()) >= self.shutdown

    def base_is_retired(self, today: dt.date | None = None) -> bool:
        """Whether the base model itself no longer answers (it may go before its fine-tunes)."""
        end = self.base_shutdown or self.shutdown
        return end is not None and (today or dt.date.today()) >= end

    def accepts_jobs(self, today: dt.date | None = None) -> bool:
        return self.job_cutoff is None or (today or dt.date.today()) < self.job_cutoff

    def training_cost(self, billed_tokens: int) -> float | None:
        """USD for ``billed_tokens`` (already multiplied by epochs); None when priced per hour or unknown."""
        if self.training_per_1m is None:
            return None
        return billed_tokens * self.training_per_1m / 1_000_000


class JobRule(BaseModel):
    """A provider-wide stage of a wind-down: from ``since``, organisations with these histories cannot
    create fine-tuning jobs (OpenAI's 2026 notice)."""

    model_config = ConfigDict(extra="forbid")

    provider: str
    since: dt.date
    blocked: list[OrgHistory]
    why: str
    source: str = ""


class Catalogue(BaseModel):
    as_of: dt.date
    currency: str = "USD"
    note: str = ""
    sources: dict[str, str] = Field(default_factory=dict)
    job_rules: list[JobRule] = Field(default_factory=list)
    models: list[ModelEntry]

    def rules_for(self, provider: str, today: dt.date) -> list[JobRule]:
        """The wind-down stages of ``provider`` in force on ``today``."""
        return [r for r in self.job_rules if r.provider == provider and r.since <= today]

    def find(self, model: str, provider: str | None = None) -> ModelEntry | None:
        """The entry for a model id, alias, ``ft:`` id or undated family name; None when unknown. An exact id
        or alias wins over the model's family (gpt-3.5-turbo-0613 is not the gpt-3.5-turbo-0125 row).
        Aliases resolve within a provider: with ``provider``, or a ``provider/`` prefix the catalogue knows
        (``azure/gpt-4.1-mini``), only that provider's rows; otherwise the first provider in catalogue order
        that has the model (OpenAI's rows come first)."""
        prefix, _, rest = model.partition("/")
        exact = any(e.id == model or model in e.aliases for e in self.models)
        if provider is None and rest and not exact and prefix in self.providers():
            provider, model = prefix, rest
        rows = [e for e in self.models if provider is None or e.provider == provider]
        for key in (model, base_model(model), model_family(model)):
            for entry in rows:
                if entry.id == key or key in entry.aliases:
                    return entry
        family = model_family(model)
        for entry in rows:
            if model_family(entry.id) == family:
                return entry
        return None

    def providers(self) -> list[str]:
        return sorted({e.provider for e in self.models})

    def age_days(self, today: dt.date | None = None) -> int:
        return ((today or dt.date.today()) - self.as_of).days

    def is_stale(self, today: dt.date | None = None) -> bool:
        return self.age_days(today) > STALE_AFTER_DAYS


def _row_key(row: dict[str, Any]) -> tuple[str, str]:
    return (row.get("provider", "openai"), row["id"])


def _merge(base: dict[str, Any], override: dict[str, Any], origin: str) -> dict[str, Any]:
    """Rows in ``override`` replace the fields they name of the row with the same (provider, id), or are
    added; every other row stays as it was. Azure sells the same model ids as OpenAI, so rows are keyed by
    both; a row without ``provider`` is OpenAI's, as in the catalogue itself."""
    if not isinstance(override, dict) or not isinstance(override.get("models", []), list):
        raise InputError(f"{origin}: a price file is an object with a 'models' list")
    rows = {_row_key(row): dict(row) for row in base["models"]}
    for i, row in enumerate(override.get("models", [])):
        if not isinstance(row, dict) or not isinstance(row.get("id"), str):
            raise InputError(f"{origin}: models[{i}]: each row needs a string 'id'")
        if not isinstance(row.get("provider", "openai"), str):
            raise InputError(f"{origin}: models[{i}].provider: a string, such as 'openai' or 'azure'")
        key = _row_key(row)
        rows[key] = {**rows.get(key, {}), **row, "sources": row.get("sources", [origin])}
    merged = {**base, "models": list(rows.values())}
    if "as_of" in override:
        merged["as_of"] = override["as_of"]
    return merged


def load_catalogue(prices: str | Path | None = None, *, use_user_file: bool = True) -> Catalogue:
    """The packaged catalogue, overridden by ``<config>/prices.json`` and then by ``prices``."""
    data = json.loads(resources.files("ftadvisor.pricing").joinpath("catalogue.json").read_text("utf-8"))
    origins: list[Path] = []
    if use_user_file:
        from ftadvisor.config import user_dir

        user_file = user_dir() / "prices.json"
        if user_file.is_file():
            origins.append(user_file)
    if prices is not None:
        origins.append(Path(prices))
    for path in origins:
        data = _merge(data, read_json(path, "price file"), str(path))
    try:
        return Catalogue.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise InputError(f"{origins[-1] if origins else 'catalogue'}: {where}: {err['msg']}") from exc
