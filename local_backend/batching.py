"""How examples become optimizer steps and tensors.

``plan`` lays out every step of a run once, from the seed and the examples' lengths only: the seeded order
of each epoch (optionally grouped by length), cut into steps of a fixed number of examples or of micro-batches
filled to a token budget, each step's share for every process. Resuming skips ``plan[:step]``, so a resumed
run trains exactly what the interrupted one would have.

``collate`` turns a micro-batch into tensors: padded rows with an attention mask, or **packed** rows where
several examples share a row without seeing each other: position ids restart at 0 for each example and no
attention mask is passed, so transformers builds a block-diagonal causal mask from the position ids (the
varlen kernels of flash-attention use the same ids on GPUs), and the first token of each example is never
the target of the one before. The loss is the unpacked loss (tested to 1e-5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from local_backend.chatdata import IGNORE, Encoded

Shares = list[list[list[int]]]  # for each process, its micro-batches of example indices
LENGTH_GROUP = 50  # steps per group sorted by length (as Hugging Face's LengthGroupedSampler's megabatches)


@dataclass(frozen=True)
class Step:
    """One optimizer step: for each process, its micro-batches (example indices)."""

    epoch: int
    shares: Shares
    last_of_epoch: bool

    def micro_batches(self, rank: int) -> list[list[int]]:
        return self.shares[rank]

    @property
    def most_micro_batches(self) -> int:
        """Every process runs this many forward passes (FSDP needs the same number on every rank)."""
        return max(len(s) for s in self.shares)


@dataclass(frozen=True)
class Layout:
    """How a run is cut into steps."""

    batch_size: int  # examples per micro-batch and process (when there is no token budget)
    world: int
    accumulation: int
    batch_tokens: int | None = None  # micro-batches filled up to this many tokens instead
    packing: bool = False
    group_by_length: bool = False

    def cost(self, lengths: list[int]) -> int:
        """Tokens a micro-batch of these lengths occupies: their sum when packed, rows x longest when padded."""
        return sum(lengths) if self.packing else len(lengths) * max(lengths, default=0)


def _order(n: int, seed: int, epoch: int) -> list[int]:
    import torch

    g = torch.Generator().manual_seed(seed + epoch)  # the data order of an epoch never changes
    return torch.randperm(n, generator=g).tolist()


def _grouped(order: list[int], lengths: list[int], group: int) -> list[int]:
    """Sort each run of ``group`` examples by length (longest first), so a micro-batch holds similar lengths."""
    out: list[int] = []
    for i in range(0, len(order), group):
        out += sorted(order[i : i + group], key=lambda k: -lengths[k])
    return out


def _shuffle(steps: list[Shares], seed: int, epoch: int) -> list[Shares]:
    """Shuffle steps (seeded), so that grouping by length is no curriculum from long to short."""
    import torch

    g = torch.Generator().manual_seed(10_007 * (seed + 1) + epoch)
    return [steps[i] for i in torch.randperm(len(steps), generator=g).tolist()]


def _fixed(order: list[int], layout: Layout) -> list[Shares]:
    per_step = layout.batch_size * layout.world * layout.accumulation
    steps: list[Shares] = []
    for i in range(0, len(order), per_step):
        chunk = order[i : i + per_step]
        shares = []
        for r in range(layout.world):
            mine = chunk[r :: layout.world] or chunk[:1]  # a short last step: repeat one example
            shares.append([mine[j : j + layout.batch_size] for j in range(0, len(mine), layout.batch_size)])
        steps.append(shares)
    return steps


def _budgeted(order: list[int], lengths: list[int], layout: Layout) -> list[Shares]:
    """Micro-batches filled up to ``batch_tokens`` (an example longer than the budget goes alone), then
    ``world x accumulation`` of them per step, dealt to the processes in turn."""
    assert layout.batch_tokens is not None
    micro: list[list[int]] = []
    current: list[int] = []
    for k in order:
        if current and layout.cost([lengths[i] for i in [*current, k]]) > layout.batch_tokens:
            micro.append(current)
            current = []
        current.append(k)
    if current:
        micro.append(current)
    per_step = layout.world * layout.accumulation
    steps: list[Shares] = []
    for i in range(0, len(micro), per_step):
        group = micro[i : i + per_step]
        steps.append([group[r :: layout.world] or [group[0][:1]] for r in range(layout.world)])
    return steps


def epoch_steps(lengths: list[int], layout: Layout, seed: int, epoch: int) -> list[Shares]:
    """The steps of one epoch, each as the processes' micro-batches."""
    order = _order(len(lengths), seed, epoch)
    if layout.group_by_length:
        per_micro = layout.batch_tokens * len(lengths) // max(1, sum(lengths)) if layout.batch_tokens else 0
        size = max(1, per_micro, layout.batch_size) * layout.world * layout.accumulation * LENGTH_GROUP
        order = _grouped(order, lengths, size)
    steps = _budgeted(order, lengths, layout) if layout.batch_tokens else _fixed(order, layout)
    return _shuffle(steps, seed, epoch) if layout.group_by_length else steps


def plan(lengths: list[int], layout: Layout, seed: int, epochs: int, max_steps: int | None = None) -> list[Step]:
    """Every step of the run: ``epochs`` epochs, or as many as ``max_steps`` needs (cut at it)."""
    steps: list[Step] = []
    epoch = 0
    while epoch < epochs or (max_steps is not None and len(steps) < max_steps):
        shares = epoch_steps(lengths, layout, seed, epoch)
        steps += [Step(epoch, s, i == len(shares) - 1) for i, s in enumerate(shares)]
        epoch += 1
        if max_steps is not None and len(steps) >= max_steps:
            break
    return steps[:max_steps] if max_steps is not None else steps


def _pack(seqs: list[Encoded], capacity: int) -> list[list[int]]:
    """First-fit decreasing: rows of sequence indices whose lengths add up to at most ``capacity``."""
    rows: list[list[int]] = []
    room: list[int] = []
    for i in sorted(range(len(seqs)), key=lambda k: -len(seqs[k].input_ids)):
        n = len(seqs[i].input_ids)
        j = next((r for r, free in enumerate(room) if free >= n), None)
        if j is None:
            rows.append([i])
            room.append(capacity - n)
        else:
            rows[j].append(i)
            room[j] -= n
    return rows


def collate(seqs: list[Encoded], pad_id: int, dev: str, pack_to: int | None = None) -> dict[str, Any]:
    """Tensors for a micro-batch: padded rows (``pack_to`` None), or rows packed up to ``pack_to`` tokens
    with per-example position ids and no attention mask."""
    import torch

    if pack_to is None:
        rows = [[i] for i in range(len(seqs))]
    else:
        rows = _pack(seqs, max(pack_to, *(len(s.input_ids) for s in seqs)))
    width = max(sum(len(seqs[i].input_ids) for i in row) for row in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    positions = torch.zeros((len(rows), width), dtype=torch.long)
    for r, row in enumerate(rows):
        at = 0
        for i in row:
            s, n = seqs[i], len(seqs[i].input_ids)
            ids[r, at : at + n] = torch.tensor(s.input_ids)
            labels[r, at : at + n] = torch.tensor(s.labels)
            labels[r, at] = IGNORE  # never the target of the previous example's last token
            mask[r, at : at + n] = 1
            positions[r, at : at + n] = torch.arange(n)
            at += n
        positions[r, at:] = torch.arange(width - at)  # the padding is a sequence of its own
    if pack_to is None:
        return {"input_ids": ids.to(dev), "labels": labels.to(dev), "attention_mask": mask.to(dev)}
    return {
        "input_ids": ids.to(dev),
        "labels": labels.to(dev),
        "attention_mask": None,
        "position_ids": positions.to(dev),
    }
