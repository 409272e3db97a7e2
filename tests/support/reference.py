"""Independent plain-PyTorch references of both protocols (no harness or plugin code)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


@torch.no_grad()
def _window_logprobs(model, inputs: list[int], targets: list[int]) -> torch.Tensor:
    logits = model(torch.tensor([inputs])).logits[0].float()
    return F.log_softmax(logits, dim=-1).gather(1, torch.tensor(targets)[:, None]).squeeze(1).double()


def document_loglikelihood(
    model, tokens: list[int], prefix: int, block: int, stride: int, bos: int | None = None
) -> float:
    """Score every token once: the first ``block`` tokens from the prefix, then spans of ``stride``
    tokens, each read with the ``block`` inputs ending right before its last token (or, with ``bos``,
    that BOS followed by the last ``block - 1`` of those inputs)."""
    full = [prefix] + tokens
    total = 0.0
    spans = [(0, min(block, len(tokens)))]
    while spans[-1][1] < len(tokens):
        a = spans[-1][1]
        spans.append((a, min(a + stride, len(tokens))))
    for i, (a, b) in enumerate(spans):
        if i == 0:
            inputs = full[:b]
            targets = tokens[:b]
        elif bos is None:
            inputs = full[b - block : b]
            targets = full[b - block + 1 : b + 1]
        else:
            inputs = [bos] + full[b - block + 1 : b]
            targets = full[b - block + 1 : b + 1]
        lp = _window_logprobs(model, inputs, targets)
        total += float(lp[-(b - a) :].sum())
    return total


def paper_loglikelihoods(model, encoded_docs: list[list[int]], block: int, stride: int) -> tuple[float, list[float]]:
    """The reference evaluation: one stream, windows of ``block + 1`` tokens every ``stride`` tokens,
    the first scoring everything and later ones their last ``stride`` predictions. Returns the total
    and the per-document share (each scored token credited to the document it belongs to)."""
    stream = [t for d in encoded_docs for t in d]
    owner = [k for k, d in enumerate(encoded_docs) for _ in d]
    per_doc = [0.0] * len(encoded_docs)
    total = 0.0
    begin, prev_end = 0, 0
    n_windows = (len(stream) - (block + 1)) // stride + 1
    for _ in range(n_windows):
        end = begin + block + 1
        trg_len = end - prev_end
        chunk = stream[begin:end]
        lp = _window_logprobs(model, chunk[:-1], chunk[1:])
        first_scored = len(chunk) - trg_len  # index into chunk of the first scored token (>= 1)
        for j in range(max(first_scored, 1), len(chunk)):
            value = float(lp[j - 1])
            per_doc[owner[begin + j]] += value
            total += value
        prev_end = end
        begin += stride
    return total, per_doc
