"""Requests that arrive together are generated together: a collector thread takes the first waiting chat
request, waits a few milliseconds for others, and answers each group of the same model and settings in one
padded batch (one base model in memory, adapters switched per batch). Batches run one at a time: the model is
shared."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from ftadvisor.backends.base import Completion

Generate = Callable[[str, list[list[dict[str, Any]]], int, float | None, int | None], list[Completion]]


@dataclass
class _Request:
    model: str
    messages: list[dict[str, Any]]
    max_tokens: int
    temperature: float | None
    seed: int | None
    done: Future[Completion] = field(default_factory=Future)

    @property
    def key(self) -> tuple[str, int, float | None, int | None]:
        return self.model, self.max_tokens, self.temperature, self.seed


@dataclass
class BatchStats:
    requests: int = 0
    batches: int = 0
    largest: int = 0


class Batcher:
    """``submit`` blocks until the answer is ready; ``max_batch=1`` serves one by one (the benchmark's baseline)."""

    def __init__(self, generate: Generate, *, window_s: float = 0.02, max_batch: int = 16) -> None:
        self.generate, self.window_s, self.max_batch = generate, window_s, max_batch
        self.stats = BatchStats()
        self.lock = threading.Lock()  # held while a batch generates: take it to change what is loaded
        self._queue: queue.Queue[_Request] = queue.Queue()
        threading.Thread(target=self._loop, daemon=True, name="ftadvisor-batcher").start()

    def submit(
        self,
        model: str,
        messages: list[dict[str, Any]],
        max_tokens: int,
        temperature: float | None,
        seed: int | None = None,
    ) -> Completion:
        request = _Request(model, messages, max_tokens, temperature, seed)
        self._queue.put(request)
        return request.done.result()

    def _collect(self) -> list[_Request]:
        batch = [self._queue.get()]
        deadline = time.monotonic() + self.window_s
        while len(batch) < self.max_batch:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                batch.append(self._queue.get(timeout=left))
            except queue.Empty:
                break
        return batch

    def _loop(self) -> None:
        while True:
            waiting = self._collect()
            groups: dict[tuple[str, int, float | None, int | None], list[_Request]] = {}
            for r in waiting:
                groups.setdefault(r.key, []).append(r)
            for (model, max_tokens, temperature, seed), group in groups.items():
                self.stats.requests += len(group)
                self.stats.batches += 1
                self.stats.largest = max(self.stats.largest, len(group))
                try:
                    with self.lock:
                        answers = self.generate(model, [r.messages for r in group], max_tokens, temperature, seed)
                except BaseException as exc:  # each caller gets the failure, the loop goes on
                    for r in group:
                        r.done.set_exception(exc)
                    continue
                for r, answer in zip(group, answers, strict=True):
                    r.done.set_result(answer)
