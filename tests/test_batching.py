"""Packing, length grouping and token-budget batches: the packed loss is the unpacked loss, every example is
trained once per epoch in every layout, and a packed job trains to the same adapter as an unpacked one."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from ftadvisor.backends.base import JobSpec, wait  # noqa: E402
from local_backend.backend import LocalBackend  # noqa: E402
from local_backend.batching import Layout, collate, plan  # noqa: E402
from local_backend.chatdata import IGNORE, encode_chat  # noqa: E402
from tests.test_local_backend import SYSTEM, dataset  # noqa: E402


def _rows(tiny: Path, n: int = 5) -> tuple[object, list]:  # type: ignore[type-arg]
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny)
    return tok, [
        encode_chat(
            tok,
            [
                SYSTEM,
                {"role": "user", "content": "My invoice is wrong." * (1 + 3 * i)},
                {"role": "assistant", "content": '{"category": "billing"}' * (1 + i % 3)},
            ],
            512,
        )
        for i in range(n)
    ]


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_packed_loss_and_gradients_equal_the_unpacked_ones(tiny: Path, attention: str) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from local_backend.losses import labelled_ce_sum

    tok, rows = _rows(tiny)
    torch.manual_seed(0)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(tiny, attn_implementation=attention),
        LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules="all-linear", init_lora_weights=False),
    )
    padded = collate(rows, tok.pad_token_id, "cpu")
    packed = collate(rows, tok.pad_token_id, "cpu", pack_to=10_000)
    assert packed["input_ids"].shape[0] == 1 and packed["attention_mask"] is None  # one row, no padding
    assert packed["input_ids"].numel() == sum(len(r.input_ids) for r in rows) < padded["input_ids"].numel()
    want, n_want = labelled_ce_sum(model.get_base_model(), padded)
    want.backward()
    grads = {k: p.grad.clone() for k, p in model.named_parameters() if p.requires_grad}
    model.zero_grad()
    got, n_got = labelled_ce_sum(model.get_base_model(), packed)
    got.backward()
    assert n_got == n_want
    assert abs(float(got) - float(want)) <= 1e-5 * abs(float(want))
    for k, p in model.named_parameters():
        if p.requires_grad:
            assert (p.grad - grads[k]).abs().max() <= 1e-5 * grads[k].abs().max() + 1e-7, k
    # without the restarted position ids the examples would see each other: the loss moves
    leaky = {**packed, "position_ids": torch.arange(packed["input_ids"].shape[1]).unsqueeze(0)}
    assert abs(float(labelled_ce_sum(model.get_base_model(), leaky)[0]) - float(want)) > 1e-3


def test_packed_rows_respect_the_row_length_and_never_target_across_examples(tiny: Path) -> None:
    tok, rows = _rows(tiny, 8)
    longest = max(len(r.input_ids) for r in rows)
    batch = collate(rows, tok.pad_token_id, "cpu", pack_to=longest)
    assert batch["input_ids"].shape[1] == longest and batch["input_ids"].shape[0] < len(rows)
    starts = (batch["position_ids"] == 0).nonzero().tolist()
    assert all(batch["labels"][r, c] == IGNORE for r, c in starts)  # an example's first token is no target
    labelled = int((batch["labels"] != IGNORE).sum())
    assert labelled == sum(sum(1 for x in r.labels[1:] if x != IGNORE) for r in rows)


@pytest.mark.parametrize(
    "layout",
    [
        Layout(batch_size=3, world=1, accumulation=1),
        Layout(batch_size=2, world=2, accumulation=2),
        Layout(batch_size=3, world=1, accumulation=1, group_by_length=True),
        Layout(batch_size=1, world=2, accumulation=1, batch_tokens=600),
        Layout(batch_size=1, world=1, accumulation=3, batch_tokens=600, packing=True, group_by_length=True),
    ],
)
def test_every_layout_trains_each_example_once_per_epoch(layout: Layout) -> None:
    rng = random.Random(1)
    lengths = [rng.randint(20, 300) for _ in range(103)]
    steps = plan(lengths, layout, seed=7, epochs=2)
    assert plan(lengths, layout, seed=7, epochs=2) == steps  # the same every time: resume relies on it
    for epoch in (0, 1):
        seen = [i for s in steps if s.epoch == epoch for share in s.shares for mb in share for i in mb]
        extra = len(seen) - len(set(seen))  # a short last step repeats one example per idle process
        assert set(seen) == set(range(103)) and extra < layout.world
    assert [s.last_of_epoch for s in steps].count(True) == 2
    if layout.batch_tokens:
        assert all(
            layout.cost([lengths[i] for i in mb]) <= layout.batch_tokens or len(mb) == 1
            for s in steps
            for share in s.shares
            for mb in share
        )
    assert len(plan(lengths, layout, seed=7, epochs=1, max_steps=len(steps) + 5)) == len(steps) + 5


def _padding(lengths: list[int], layout: Layout) -> int:
    steps = plan(lengths, layout, seed=0, epochs=1)
    return sum(
        layout.cost([lengths[i] for i in mb]) - sum(lengths[i] for i in mb)
        for s in steps
        for share in s.shares
        for mb in share
    )


def test_grouping_by_length_and_token_budgets_cut_padding() -> None:
    rng = random.Random(2)
    lengths = [rng.choice([30, 40, 400, 500]) for _ in range(400)]
    plain = _padding(lengths, Layout(batch_size=8, world=1, accumulation=1))
    grouped = _padding(lengths, Layout(batch_size=8, world=1, accumulation=1, group_by_length=True))
    assert grouped < plain / 5
    budget = Layout(batch_size=1, world=1, accumulation=1, batch_tokens=2048, group_by_length=True)
    sizes = [len(mb) for s in plan(lengths, budget, seed=0, epochs=1) for mb in s.shares[0]]
    assert max(sizes) >= 40 and min(sizes) <= 5  # many short examples per micro-batch, few long ones


def _adapter(b: LocalBackend, job_id: str) -> dict:  # type: ignore[type-arg]
    from safetensors.torch import load_file

    return load_file(str(b.root / "jobs" / job_id / "adapter" / "adapter_model.safetensors"))


def test_a_packed_job_trains_the_adapter_an_unpacked_one_does(tiny: Path, tmp_path: Path) -> None:
    b = LocalBackend(tmp_path / "store", poll_interval=0.2, sleep=time.sleep)
    data = b.upload(dataset(tmp_path / "train.jsonl", 12)).id
    jobs = []
    for extra in (
        {},
        {"packing": True},
        {"packing": True, "batch_tokens": 100_000},
        {"packing": True, "attention": "eager"},
    ):
        job = b.create_job(
            JobSpec(
                model=str(tiny),
                training_file=data,
                hyperparameters={"n_epochs": 1, "batch_size": 4},
                options={"lora_rank": 4, "lora_dropout": 0.0, "precision": "fp32", **extra},
            )
        )
        done = wait(b, job.id, poll_interval=0.2, sleep=time.sleep)
        assert done.status == "succeeded", done.error
        jobs.append(done.id)
    plain, packed, budget, eager = (_adapter(b, j) for j in jobs)
    for k in plain:
        assert torch.allclose(plain[k], packed[k], atol=1e-5), k
        assert torch.allclose(plain[k], eager[k], atol=1e-5), k  # the block mask is the same with eager attention
    assert not all(torch.allclose(plain[k], budget[k], atol=1e-5) for k in plain)  # one 12-example step instead
    events = [e.message for e in b.list_events(jobs[2], limit=1000)]
    assert any("micro-batches of up to 100,000 tokens, 1 steps, packed" in m for m in events)
    assert any("sdpa attention" in m for m in events)
    assert any("eager attention" in m.message for m in b.list_events(jobs[3], limit=1000))


def test_packing_is_refused_for_dpo(tiny: Path, tmp_path: Path) -> None:
    from ftadvisor.errors import InputError

    b = LocalBackend(tmp_path / "store")
    f = b.upload(Path(__file__).resolve().parents[1] / "fixtures" / "good" / "dpo.jsonl")
    with pytest.raises(InputError, match="packing"):
        b.create_job(JobSpec(model=str(tiny), training_file=f.id, method="dpo", options={"packing": True}))
