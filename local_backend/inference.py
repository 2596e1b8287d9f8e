"""Generation with a base model and any number of LoRA adapters loaded over it, switched per request."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from local_backend.chatdata import encode_prompt


class Engine:
    def __init__(self, base: str) -> None:
        from local_backend.modelio import load

        self.base = base
        self.model, self.tokenizer = load(base)
        self.model.eval()
        self.adapters: dict[str, str] = {}  # adapter folder -> adapter name in the PeftModel

    def _use(self, adapter: Path | None) -> Any:
        from peft import PeftModel

        if adapter is None:
            return None
        key = str(adapter.resolve())
        if key not in self.adapters:
            name = f"a{len(self.adapters)}"
            if not isinstance(self.model, PeftModel):
                self.model = PeftModel.from_pretrained(self.model, key, adapter_name=name)
            else:
                self.model.load_adapter(key, adapter_name=name)
            self.model.eval()
            self.adapters[key] = name
        self.model.set_adapter(self.adapters[key])
        return self.adapters[key]

    def generate(
        self,
        messages: list[dict[str, Any]],
        *,
        adapter: Path | None,
        max_new_tokens: int = 256,
        temperature: float = 0.0,
    ) -> tuple[str, int, int]:
        """(text, prompt tokens, completion tokens)."""
        return self.generate_batch([messages], adapter=adapter, max_new_tokens=max_new_tokens, temperature=temperature)[
            0
        ]

    def generate_batch(
        self,
        conversations: list[list[dict[str, Any]]],
        *,
        adapter: Path | None,
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        seed: int | None = None,
        streamer: Any = None,
    ) -> list[tuple[str, int, int]]:
        """Several prompts in one batch (left-padded): [(text, prompt tokens, completion tokens)]. ``seed`` makes
        sampling (temperature > 0) reproducible; ``streamer`` receives the tokens as they come (one prompt)."""
        import contextlib

        import torch
        from peft import PeftModel

        if seed is not None:
            torch.manual_seed(seed)
        name = self._use(adapter)
        prompts = [encode_prompt(self.tokenizer, m) for m in conversations]
        dev = next(self.model.parameters()).device
        width = max(len(p) for p in prompts)
        pad = self.tokenizer.pad_token_id
        inputs = torch.tensor([[pad] * (width - len(p)) + p for p in prompts], device=dev)
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=dev)
        plain = isinstance(self.model, PeftModel) and name is None
        ctx = self.model.disable_adapter() if plain else contextlib.nullcontext()
        with ctx, torch.no_grad():
            out = self.model.generate(
                input_ids=inputs,
                attention_mask=mask,
                max_new_tokens=max_new_tokens,
                do_sample=temperature > 0,
                temperature=temperature if temperature > 0 else None,
                top_p=None,
                top_k=None,
                pad_token_id=pad,
                eos_token_id=self.tokenizer.eos_token_id,
                streamer=streamer,
            )
        results = []
        eos = self.tokenizer.eos_token_id
        for row, prompt in zip(out, prompts, strict=True):
            new = row[width:].tolist()
            if eos in new:  # what follows the end of the answer is padding
                new = new[: new.index(eos) + 1]
            results.append((self.tokenizer.decode(new, skip_special_tokens=True).strip(), len(prompt), len(new)))
        return results

    def stream(
        self,
        messages: list[dict[str, Any]],
        *,
        adapter: Path | None,
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        seed: int | None = None,
    ) -> Iterator[str | tuple[str, int, int]]:
        """The answer's text piece by piece as it is generated, then (text, prompt tokens, completion tokens)."""
        import threading

        from transformers import TextIteratorStreamer

        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        result: list[tuple[str, int, int]] = []
        failure: list[BaseException] = []

        def run() -> None:
            try:
                result.extend(
                    self.generate_batch(
                        [messages],
                        adapter=adapter,
                        max_new_tokens=max_new_tokens,
                        temperature=temperature,
                        seed=seed,
                        streamer=streamer,
                    )
                )
            except BaseException as exc:  # handed to the caller below
                failure.append(exc)
                streamer.end()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        for piece in streamer:
            if piece:
                yield piece
        thread.join()
        if failure:
            raise failure[0]
        yield result[0]
