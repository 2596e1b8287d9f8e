"""Which arithmetic a run uses, decided at run time on the machine it runs on.

``auto``: on a GPU, bf16 autocast where the GPU supports it, else fp16 autocast with a GradScaler (fp16's
range underflows small gradients without one); on a CPU, bf16 autocast when the CPU has bf16 matrix units
(AVX512-BF16 or AMX, from torch's CPU flags) *and* a short probe confirms bf16 matmuls are faster here than
fp32, else fp32. Master weights, the adapter and the optimizer stay in fp32 in every case; autocast only
changes the matmuls' inputs. ``fp32``, ``bf16`` and ``fp16`` force a choice (``fp16`` on a CPU is refused).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

from ftadvisor.errors import InputError

Requested = Literal["auto", "fp32", "bf16", "fp16"]
PROBE_SIZE = 512
PROBE_MIN_SPEEDUP = 1.3


@dataclass(frozen=True)
class Precision:
    name: Literal["fp32", "bf16", "fp16"]
    device_type: str  # "cpu" or "cuda"
    reason: str

    def autocast(self) -> Any:
        """The context the forward pass runs in."""
        import contextlib

        import torch

        if self.name == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=torch.bfloat16 if self.name == "bf16" else torch.float16)

    def scaler(self) -> Any:
        """A GradScaler for fp16, else None."""
        if self.name != "fp16":
            return None
        import torch

        return torch.amp.GradScaler(self.device_type)


def _cpu_has_bf16_units() -> bool:
    import torch

    cpu = torch.cpu
    flags = [getattr(cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(f() for f in flags if f is not None)


def bf16_speedup(size: int = PROBE_SIZE, reps: int = 5) -> float:
    """fp32 matmul time / bf16 matmul time on this CPU (a ~50 ms probe)."""
    import torch

    g = torch.Generator().manual_seed(0)  # its own generator: the run's random state is not touched
    a, b = torch.randn(size, size, generator=g), torch.randn(size, size, generator=g)
    timings = []
    for dtype in (torch.float32, torch.bfloat16):
        x, y = a.to(dtype), b.to(dtype)
        x @ y  # warm-up: kernel selection
        t = time.perf_counter()
        for _ in range(reps):
            x @ y
        timings.append(time.perf_counter() - t)
    return timings[0] / max(timings[1], 1e-9)


def chosen(job: Any, requested: Requested, device_type: str) -> Precision:
    """The job's precision: decided on its first start and kept in the job, so that a resumed run computes
    exactly as the interrupted one did (the probe's timing may differ on a busy machine)."""
    saved = job.path / "precision.json"
    if saved.is_file():
        import json

        p = json.loads(saved.read_text())
        if p["device_type"] == device_type:
            return Precision(p["name"], device_type, p["reason"])
    p = choose(requested, device_type)
    job.write_json("precision.json", {"name": p.name, "device_type": p.device_type, "reason": p.reason})
    return p


def choose(requested: Requested, device_type: str) -> Precision:
    import torch

    if device_type == "cuda":
        bf16 = torch.cuda.is_bf16_supported()
        if requested == "bf16" and not bf16:
            raise InputError("precision bf16: this GPU does not support bf16; use fp16 (with a GradScaler) or auto")
        if requested in ("auto", "bf16") and bf16:
            return Precision("bf16", "cuda", "bf16 autocast (the GPU supports it)")
        if requested == "fp32":
            return Precision("fp32", "cuda", "fp32 (asked for)")
        return Precision("fp16", "cuda", "fp16 autocast with a GradScaler (no bf16 on this GPU)")
    if requested == "fp16":
        raise InputError("precision fp16 needs a GPU; on a CPU use bf16 or fp32")
    if requested == "fp32":
        return Precision("fp32", "cpu", "fp32 (asked for)")
    if requested == "bf16":
        return Precision("bf16", "cpu", "bf16 autocast (asked for)")
    if not _cpu_has_bf16_units():
        return Precision("fp32", "cpu", "fp32: this CPU has no bf16 matrix units")
    speedup = bf16_speedup()
    if speedup < PROBE_MIN_SPEEDUP:
        return Precision("fp32", "cpu", f"fp32: bf16 matmuls are only {speedup:.1f}x as fast on this CPU")
    return Precision("bf16", "cpu", f"bf16 autocast: this CPU's bf16 units ran matmuls {speedup:.1f}x faster than fp32")
