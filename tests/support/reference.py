"""Independent plain-PyTorch references of both protocols (no harness or plugin code)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


@torch.no_grad()
def _window_logprobs(model, inputs: list[int], targets: list[int]) -> torch.Tensor:
    logits = model(torch.tensor([inputs])).logits[0].float()
    return F.log_softmax(logits, dim=-1).gather(1, torch.tensor(targets)[:, None]).squeeze(1).double()


def reference_document_windows(tokens: list[int], prefix: int, block: int, stride: int, bos: int | None = None):
    """The windows that score every token once, as ``(inputs, targets, n_scored, offset)``: the first
    ``block`` tokens from the prefix, then spans of ``stride`` tokens, each read with the ``block`` inputs
    ending right before its last token (or, with ``bos``, that BOS followed by the last ``block - 1`` of
    those inputs); only the last ``n_scored`` targets count, and target ``j`` is token ``offset + j``."""
    full = [prefix] + tokens
    a, b = 0, min(block, len(tokens))
    while a < len(tokens):
        if a == 0:
            inputs = full[:b]
        elif bos is None:
            inputs = full[b - block : b]
        else:
            inputs = [bos] + full[b - block + 1 : b]
        yield inputs, full[b - len(inputs) + 1 : b + 1], b - a, b - len(inputs)
        a, b = b, min(b + stride, len(tokens))


def document_loglikelihood(
    model, tokens: list[int], prefix: int, block: int, stride: int, bos: int | None = None
) -> float:
    """The document's log-likelihood under :func:`reference_document_windows`."""
    return sum(
        float(_window_logprobs(model, inputs, targets)[-n:].sum())
        for inputs, targets, n, _ in reference_document_windows(tokens, prefix, block, stride, bos)
    )


def reference_paper_windows(n_tokens: int, block: int, stride: int):
    """The reference windows over a stream of ``n_tokens``, as ``(begin, end, first)``: the chunk
    ``stream[begin:end]`` of ``block + 1`` tokens, predicting ``chunk[j]`` for ``j >= first`` (the first
    window all of them, later ones their last ``stride``)."""
    begin, prev_end = 0, 0
    for _ in range((n_tokens - (block + 1)) // stride + 1):
        end = begin + block + 1
        yield begin, end, max(prev_end - begin, 1)
        prev_end = end
        begin += stride


def paper_loglikelihoods(model, encoded_docs: list[list[int]], block: int, stride: int) -> tuple[float, list[float]]:
    """The reference evaluation: one stream, windows of ``block + 1`` tokens every ``stride`` tokens,
    the first scoring everything and later ones their last ``stride`` predictions. Returns the total
    and the per-document share (each scored token credited to the document it belongs to)."""
    stream = [t for d in encoded_docs for t in d]
    owner = [k for k, d in enumerate(encoded_docs) for _ in d]
    per_doc = [0.0] * len(encoded_docs)
    total = 0.0
    for begin, end, first in reference_paper_windows(len(stream), block, stride):
        chunk = stream[begin:end]
        lp = _window_logprobs(model, chunk[:-1], chunk[1:])
        for j in range(first, len(chunk)):
            value = float(lp[j - 1])
            per_doc[owner[begin + j]] += value
            total += value
    return total, per_doc


def document_token_scores(model, tokens: list[int], prefix: int, block: int, stride: int, bos: int | None = None):
    """Every token of one document as ``(token index, log-probability, context length)`` under
    :func:`reference_document_windows`, the context length being the inputs the prediction reads (1-based input
    position of the predicting token)."""
    out = []
    for inputs, targets, n, offset in reference_document_windows(tokens, prefix, block, stride, bos):
        lp = _window_logprobs(model, inputs, targets)
        out += [(offset + j, float(lp[j]), j + 1) for j in range(len(inputs) - n, len(inputs))]
    return out


def paper_token_scores(model, encoded_docs: list[list[int]], block: int, stride: int):
    """Every scored token of the reference stream as ``(document, token index in it, log-probability,
    context length)``, in stream order."""
    stream = [t for d in encoded_docs for t in d]
    where = [(k, i) for k, d in enumerate(encoded_docs) for i in range(len(d))]
    out = []
    for begin, end, first in reference_paper_windows(len(stream), block, stride):
        chunk = stream[begin:end]
        lp = _window_logprobs(model, chunk[:-1], chunk[1:])
        out += [(*where[begin + j], float(lp[j - 1]), j) for j in range(first, len(chunk))]
    return out


@torch.no_grad()
def window_moments(model, inputs: list[int], targets: list[int], n_scored: int) -> list[tuple[float, float, float]]:
    """float64 ``(log p(target), mean of log p under p, its standard deviation)`` of the last ``n_scored``
    targets of one window."""
    logp = torch.log_softmax(model(torch.tensor([inputs])).logits[0].double(), dim=-1)
    out = []
    for j in range(len(inputs) - n_scored, len(inputs)):
        p = logp[j].exp()
        mu = float((p * logp[j]).sum())
        out.append((float(logp[j, targets[j]]), mu, float((p * (logp[j] - mu) ** 2).sum()) ** 0.5))
    return out


def owned_chars(offsets, n_chars: int) -> list[int]:
    """Characters per token, one character at a time: a character goes to the first token whose offset end
    lies beyond it (so a character shared by byte-level tokens goes to the first); what lies beyond every
    token goes to the last."""
    counts = [0] * len(offsets)
    for c in range(n_chars):
        owner = next((i for i, (_, end) in enumerate(offsets) if end > c), len(offsets) - 1)
        counts[owner] += 1
    return counts
