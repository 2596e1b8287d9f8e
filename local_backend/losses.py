"""The training losses, computed only where labels are.

A causal LM's usual loss projects every position onto the whole vocabulary and upcasts those logits to fp32,
prompt and padding included, then slices them (whose backward writes a full-size zero gradient). Here the
decoder's hidden states are gathered at the labelled positions first, so the LM head, the fp32 upcast and
the cross-entropy see only the tokens that are trained; past ``CHUNK`` positions they run in chunks whose
logits are recomputed in the backward pass, so no full-vocabulary copy is ever held. The loss is the same
sum over the same tokens (tests compare it with the full-logits loss).
"""

from __future__ import annotations

from typing import Any

from local_backend.chatdata import IGNORE

CHUNK = 4096  # positions per cross-entropy chunk (x vocabulary x 4 bytes of fp32 logits at a time)


def _ce_sum(head: Any, hidden: Any, labels: Any) -> Any:
    import torch.nn.functional as F

    return F.cross_entropy(head(hidden).float(), labels, reduction="sum")


def labelled_ce_sum(base: Any, batch: dict[str, Any]) -> tuple[Any, int]:
    """Sum of the cross-entropy over the labelled next-token positions of ``batch``, and their number.
    ``base`` is the (adapted) ``*ForCausalLM`` model: its decoder and its LM head are called separately."""
    import torch
    from torch.utils.checkpoint import checkpoint

    # no cache: training needs none, and with one transformers would not read packed position ids as packing
    hidden = base.get_decoder()(
        input_ids=batch["input_ids"],
        attention_mask=batch["attention_mask"],
        position_ids=batch.get("position_ids"),
        use_cache=False,
    ).last_hidden_state
    targets = batch["labels"][:, 1:]
    keep = targets != IGNORE
    n = int(keep.sum())
    if n == 0:
        return hidden.sum() * 0.0, 0  # keeps the graph (and DDP's gradient hooks) alive
    h, y = hidden[:, :-1][keep], targets[keep]
    head = base.get_output_embeddings()
    if n <= CHUNK:
        return _ce_sum(head, h, y), n
    total = torch.zeros((), device=h.device, dtype=torch.float32)
    for i in range(0, n, CHUNK):
        total = total + checkpoint(_ce_sum, head, h[i : i + CHUNK], y[i : i + CHUNK], use_reentrant=False)
    return total, n


def make_loss_module(peft_model: Any) -> Any:
    """An ``nn.Module`` whose forward returns (loss sum, labelled tokens) for a batch; DDP wraps it, so the
    gradient hooks fire although the loss does not go through ``model.forward``."""
    import torch

    class LabelledLoss(torch.nn.Module):
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, batch: dict[str, Any]) -> tuple[Any, Any]:
            loss, n = labelled_ce_sum(self.model.get_base_model(), batch)
            return loss, torch.tensor(n)

    return LabelledLoss(peft_model)


def sequence_logps(model: Any, batch: dict[str, Any]) -> Any:
    """Sum of the log-probabilities of each sequence's labelled tokens (DPO)."""
    import torch

    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1].float()
    labels = batch["labels"][:, 1:]
    mask = labels != IGNORE
    logps = torch.gather(logits.log_softmax(-1), 2, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (logps * mask).sum(-1)
