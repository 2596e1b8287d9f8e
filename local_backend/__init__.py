"""ftadvisor's local LoRA/QLoRA backend (torch + transformers + peft), installed by the `local` extra."""

from local_backend.backend import LocalBackend

__all__ = ["LocalBackend"]
