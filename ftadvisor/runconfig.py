"""A training run described in a YAML file: ftadvisor's own keys (the ``train`` option names) or an Axolotl
config's common keys, resolved into one typed :class:`RunConfig`.

Axolotl keys map onto the local backend's options (``lora_r`` -> ``lora_rank``, ``micro_batch_size`` ->
batch size, ``load_in_4bit`` -> QLoRA...). A key we do not know is named in a warning; a feature we do not
have (DeepSpeed, non-chat datasets, DoRA...) is refused by name, before anything runs.
The resolved config is what a job is started with and what ``jobs rerun`` starts again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from ftadvisor.errors import InputError

# ftadvisor's own keys: the `train` options (file, model, backend, validation, method, epochs, batch_size,
# learning_rate_multiplier, beta, suffix, seed) plus `options` for the backend's -o KEY=VALUE settings.
OWN_KEYS = (
    "file",
    "model",
    "backend",
    "validation",
    "method",
    "epochs",
    "batch_size",
    "learning_rate_multiplier",
    "beta",
    "suffix",
    "seed",
    "options",
    "output_dir",
    "val_set_size",
)

AXOLOTL_OPTIONS = {  # Axolotl key -> local backend option
    "lora_r": "lora_rank",
    "lora_alpha": "lora_alpha",
    "lora_dropout": "lora_dropout",
    "sequence_len": "max_length",
    "gradient_accumulation_steps": "gradient_accumulation_steps",
    "max_steps": "max_steps",
    "learning_rate": "learning_rate",
    "warmup_steps": "warmup_steps",
    "warmup_ratio": "warmup_ratio",
    "gradient_checkpointing": "gradient_checkpointing",
    "eval_steps": "eval_every",
    "save_steps": "checkpoint_every",
    "weight_decay": "weight_decay",
    "max_grad_norm": "max_grad_norm",
    "early_stopping_patience": "early_stopping_patience",
    "sample_packing": "packing",
    "group_by_length": "group_by_length",
}
AXOLOTL_OPTIMIZERS = {
    "adamw_torch": "adamw",
    "adamw_torch_fused": "adamw",
    "adamw_hf": "adamw",
    "adamw_bnb_8bit": "adamw-8bit",
    "adamw_8bit": "adamw-8bit",
    "paged_adamw_8bit": "paged-adamw-8bit",
}
AXOLOTL_SCHEDULERS = ("linear", "cosine", "constant")
# Keys that change nothing here (the same behaviour is built in, or they only name what we infer).
AXOLOTL_HARMLESS = (
    "model_type",
    "tokenizer_type",
    "save_safetensors",
    "trust_remote_code",
    "strict",
    "logging_steps",
    "chat_template",
    "special_tokens",
    "pad_to_sequence_len",
    "dataset_prepared_path",
    "tf32",
    "flash_attention",
    "sdp_attention",
    "xformers_attention",
    "lora_fan_in_fan_out",
    "load_in_8bit",
    "saves_per_epoch",
    "evals_per_epoch",
    "bf16",
    "fp16",
    "hub_model_id",
    "resume_from_checkpoint",
    "auto_resume_from_checkpoints",
)
AXOLOTL_REFUSED = {  # key -> why (only when set to something other than off)
    "deepspeed": "DeepSpeed is not supported: the local backend uses DDP (-o num_processes=N)",
    "train_on_inputs": "training on the prompts is not supported: the loss covers the assistant turns, as OpenAI's",
    "unsloth_lora_mlp": "Unsloth kernels are not supported",
    "relora_steps": "ReLoRA is not supported",
    "peft_use_dora": "DoRA is not supported (and vLLM would refuse the adapter)",
    "lora_modules_to_save": "modules_to_save is not supported (vLLM refuses such adapters)",
}


class RunConfig(BaseModel):
    """What ``ftadvisor train`` runs; None leaves the command's default."""

    file: str | None = None
    model: str | None = None
    backend: str | None = None
    validation: str | None = None
    method: str | None = None
    epochs: int | None = None
    batch_size: int | None = None
    learning_rate_multiplier: float | None = None
    beta: float | None = None
    suffix: str | None = None
    seed: int | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    output_dir: str | None = None  # where the adapter is exported when the job succeeds (Axolotl's output_dir)
    val_set_size: float | None = Field(default=None, gt=0, lt=1)  # split off the training file (Axolotl's)
    warnings: list[str] = Field(default_factory=list)
    source: str | None = None  # the file it was read from


def _unique_key_loader() -> Any:
    import yaml

    class Loader(yaml.SafeLoader):
        """YAML's safe loader, refusing a key given twice (the last one would win silently)."""

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key {key!r} is given twice", key_node.start_mark
                    )
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    return Loader


def load_config(path: Path) -> RunConfig:
    """Read a run config (ours or Axolotl's, told apart by its keys); paths in it are relative to its folder."""
    import yaml

    from ftadvisor.userfiles import read_text

    try:
        data = yaml.load(read_text(path, "run config"), Loader=_unique_key_loader())  # a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise InputError(f"{path}{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    except RecursionError:
        raise InputError(f"{path}: nested too deeply to be a run config") from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise InputError(f"{path}: not a usable run config: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: a run config is a YAML mapping of keys to values")
    axolotl = "base_model" in data or "datasets" in data
    config = _from_axolotl(data, path) if axolotl else _from_own(data, path)
    config.source = str(path)
    return config


def _relative(path: Path, value: Any, key: str) -> str:
    if not isinstance(value, str) or not value:
        raise InputError(f"{path}: {key} must be a file path")
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else (path.parent / p))


def _from_own(data: dict[str, Any], path: Path) -> RunConfig:
    data = {k.replace("-", "_"): v for k, v in data.items()}
    unknown = sorted(set(data) - set(OWN_KEYS))
    if unknown:
        raise InputError(
            f"{path}: unknown key(s) {', '.join(unknown)}; the keys are the `train` option names "
            f"({', '.join(OWN_KEYS)}), backend settings go under options:"
        )
    for key in ("file", "validation", "output_dir"):
        if data.get(key) is not None:
            data[key] = _relative(path, data[key], key)
    try:
        return RunConfig.model_validate(data)
    except ValueError as exc:
        raise InputError(f"{path}: {exc}") from None


# RunConfig's fields as an Axolotl config spells them, for errors
AXOLOTL_KEY_OF = {"model": "base_model", "epochs": "num_epochs", "batch_size": "micro_batch_size"}


def _from_axolotl(data: dict[str, Any], path: Path) -> RunConfig:
    for key, why in AXOLOTL_REFUSED.items():
        if data.get(key) not in (None, False, [], {}, ""):
            raise InputError(f"{path}: {key}: {why}")
    options: dict[str, Any] = {}
    warnings: list[str] = []
    datasets = data.get("datasets") or []
    if not isinstance(datasets, list) or len(datasets) != 1 or not isinstance(datasets[0], dict):
        raise InputError(f"{path}: datasets: exactly one dataset is supported (a list with one path)")
    ds = datasets[0]
    if ds.get("type", "chat_template") != "chat_template":
        raise InputError(
            f"{path}: datasets[0].type: {ds.get('type')!r} is not supported; use chat_template "
            "(OpenAI chat JSONL), converting with `ftadvisor data convert` if needed"
        )
    field = ds.get("field_messages", "messages")
    if field != "messages":
        raise InputError(f"{path}: datasets[0].field_messages: only `messages` is supported")
    for key in set(ds) - {"path", "type", "field_messages", "split", "roles_to_train"}:
        warnings.append(f"datasets[0].{key} is ignored")
    adapter = data.get("adapter")
    if adapter not in (None, "lora", "qlora"):
        raise InputError(f"{path}: adapter: {adapter!r} is not supported (lora or qlora)")
    if adapter == "qlora" or data.get("load_in_4bit"):
        options["qlora"] = True
    if data.get("lora_target_linear"):
        options["target_modules"] = "all-linear"
    elif data.get("lora_target_modules"):
        options["target_modules"] = list(data["lora_target_modules"])
    for key, option in AXOLOTL_OPTIONS.items():
        if data.get(key) is not None:
            options[option] = data[key]
    if "lr_scheduler" in data:
        if data["lr_scheduler"] not in AXOLOTL_SCHEDULERS:
            raise InputError(
                f"{path}: lr_scheduler: {data['lr_scheduler']!r} is not supported ({', '.join(AXOLOTL_SCHEDULERS)})"
            )
        options["lr_scheduler"] = data["lr_scheduler"]
    if "optimizer" in data:
        if data["optimizer"] not in AXOLOTL_OPTIMIZERS:
            raise InputError(
                f"{path}: optimizer: {data['optimizer']!r} is not supported ({', '.join(AXOLOTL_OPTIMIZERS)})"
            )
        options["optimizer"] = AXOLOTL_OPTIMIZERS[data["optimizer"]]
    if data.get("fp16") is True:
        options["precision"] = "fp16"
    elif data.get("bf16") is True:
        options["precision"] = "bf16"
    if data.get("fsdp") or data.get("fsdp_config"):
        config = data.get("fsdp_config") or {}
        if isinstance(config, dict) and (config.get("fsdp_offload_params") or config.get("offload_params")):
            raise InputError(f"{path}: fsdp_config: offloading parameters to the CPU is not supported")
        options["parallel"] = "fsdp"
        warnings.append(
            "fsdp: each decoder layer is sharded (torch fully_shard) across -o num_processes=N "
            "processes; the other fsdp_config keys are ignored"
        )
    val = data.get("val_set_size") or 0
    if not isinstance(val, int | float) or not 0 <= val < 1:
        raise InputError(f"{path}: val_set_size must be a fraction between 0 and 1")
    if data.get("rl") not in (None, "dpo"):
        raise InputError(f"{path}: rl: {data['rl']!r} is not supported (dpo is)")
    if data.get("wandb_project"):
        options.update(report_to="wandb", tracking_project=data["wandb_project"])
    elif data.get("mlflow_experiment_name"):
        options.update(report_to="mlflow", tracking_project=data["mlflow_experiment_name"])
    ignored = sorted(
        k for k in data if k.startswith(("wandb_", "mlflow_")) and k not in ("wandb_project", "mlflow_experiment_name")
    )
    if ignored:
        warnings.append(f"{', '.join(ignored)} ignored: W&B reads WANDB_* and MLflow MLFLOW_* environment variables")
    known = {
        "base_model",
        "datasets",
        "adapter",
        "load_in_4bit",
        "lora_target_linear",
        "lora_target_modules",
        "lr_scheduler",
        "optimizer",
        "val_set_size",
        "rl",
        "num_epochs",
        "micro_batch_size",
        "output_dir",
        "seed",
        "fsdp",
        "fsdp_config",
        "fsdp_version",
        *AXOLOTL_OPTIONS,
        *AXOLOTL_HARMLESS,
        *AXOLOTL_REFUSED,
    }
    unknown = sorted(k for k in data if k not in known and not k.startswith(("wandb_", "mlflow_")))
    if unknown:
        warnings.append(f"unknown Axolotl key(s) ignored: {', '.join(unknown)}")
    from pydantic import ValidationError

    try:
        return _axolotl_config(path, ds, data, options, warnings, val)
    except ValidationError as exc:  # name the Axolotl key the user wrote, not our field
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else "?"
        raise InputError(f"{path}: {AXOLOTL_KEY_OF.get(field, field)}: {err['msg']}") from None


def _axolotl_config(
    path: Path, ds: dict[str, Any], data: dict[str, Any], options: dict[str, Any], warnings: list[str], val: Any
) -> RunConfig:
    return RunConfig(
        file=_relative(path, ds.get("path"), "datasets[0].path"),
        model=data.get("base_model"),
        backend="local",
        method="dpo" if data.get("rl") == "dpo" else None,
        epochs=data.get("num_epochs"),
        batch_size=data.get("micro_batch_size"),
        seed=data.get("seed"),
        options=options,
        output_dir=_relative(path, data["output_dir"], "output_dir") if data.get("output_dir") else None,
        val_set_size=float(val) or None,
        warnings=warnings,
    )


def split_validation(config: RunConfig, work: Path) -> RunConfig:
    """Axolotl's ``val_set_size``: split that share of the training file off as the validation file
    (duplicate groups kept whole, seeded), into ``work``."""
    if not config.val_set_size or config.file is None:
        return config
    if config.validation:
        raise InputError("val_set_size and a validation file were both given: keep one")
    from ftadvisor.data.split import split_file

    share = config.val_set_size
    report = split_file(config.file, work, ratios=(1 - share, share), seed=config.seed or 0)
    return config.model_copy(
        update={"file": report.files["train"], "validation": report.files["validation"], "val_set_size": None}
    )


def run_config_of(ledger: Any, job_id: str) -> RunConfig:
    """The run config a recorded job was started with (its seed filled in from the job when it was auto)."""
    import json

    job = ledger.job(job_id)
    if job is None:
        raise InputError(f"no job {job_id!r} in the ledger (see `ftadvisor ledger list`)")
    found = ledger.latest_record("run_config", job["run_id"]) if job["run_id"] else None
    if found is None:
        raise InputError(
            f"{job_id} has no recorded run config (jobs started before ftadvisor recorded them cannot "
            "be rerun): start it again with `ftadvisor train`"
        )
    config = RunConfig.model_validate(found)
    if config.seed is None:
        seed = json.loads(job["data"]).get("seed") if job.get("data") else None
        config = config.model_copy(update={"seed": seed if isinstance(seed, int) else None})
    return config
