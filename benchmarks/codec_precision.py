#!/usr/bin/env python
"""What coarser integer arithmetic would cost in bits: the float model's bits per character on the same windows
as ``codec_speed.py`` with its numbers rounded as an integer codec would round them, simulated in float64.

Each precision rounds, per row to a symmetric integer grid whose largest value is the row's largest magnitude:
the weights (int8 per output row, as the exact codec), the input rows of every linear layer (one scale per
token), the queries and keys (one scale per token and head), the attention weights (integers up to
``2**bits - 1`` relative to each row's largest, divided by their sum) and the values (one scale per head and
channel over the window). The exact codec's own arithmetic (activations of 15 bits and a sign, 2**20
attention weights, 32-bit keys) is close to the ``exact`` row; the others are what an encoder whose attention
or activations fit int8 products would pay (a two-byte operand split into two int8 halves, as the codec's
activations are). The values' per-window scale is tighter than any a step decoder could fix in advance,
so those rows are lower bounds of their cost. Usage::

    python benchmarks/codec_precision.py --json precision.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from codec_bound import corpus_options, sample_texts  # noqa: E402  (this folder)
from codec_speed import CORPORA  # noqa: E402  (this folder: the same corpora as the speed benchmark)

from lm_eval_compression import demo  # noqa: E402
from lm_eval_compression.engine.windows import iter_document_windows, window_tokens  # noqa: E402

ATTENTION = "codec_precision"  # the name the rounding attention is registered under in transformers


@dataclass(frozen=True)
class Precision:
    """Bits of each rounded quantity, the sign included (``None``: kept in float64); attention weights are
    non-negative, integers up to ``2**attention_weight_bits - 1``."""

    name: str
    int8_weights: bool = True
    activation_bits: int | None = None
    query_key_bits: int | None = None
    attention_weight_bits: int | None = None
    value_bits: int | None = None

    @property
    def rounds_attention(self) -> bool:
        return any(b is not None for b in (self.query_key_bits, self.attention_weight_bits, self.value_bits))


PRECISIONS = (
    Precision("float", int8_weights=False),
    Precision("int8 weights"),
    Precision("exact", activation_bits=16),
    Precision("8-bit activations", activation_bits=8),
    Precision("8-bit queries and keys", activation_bits=16, query_key_bits=8),
    Precision("two-byte attention", activation_bits=16, query_key_bits=8, attention_weight_bits=15, value_bits=16),
    Precision("8-bit attention", activation_bits=16, query_key_bits=8, attention_weight_bits=7, value_bits=8),
)


def round_rows(x: torch.Tensor, bits: int | None) -> torch.Tensor:
    """``x`` on a grid of ``2**(bits - 1) - 1`` steps each side per row (its last dimension); ``None``: ``x``."""
    if bits is None:
        return x
    steps = 2 ** (bits - 1) - 1
    scale = x.abs().amax(dim=-1, keepdim=True) / steps
    scale = torch.where(scale > 0, scale, 1.0)
    return torch.round(x / scale) * scale


class Rounding:
    """Puts a model (float64) under one :class:`Precision` at a time: its weights rounded in place (restored by
    :meth:`use` on the next precision), every linear layer's input rounded by a hook, and attention through
    :func:`attention` when the precision rounds it."""

    def __init__(self, model):
        from transformers import AttentionInterface

        self.model, self.precision = model, PRECISIONS[0]
        self.linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
        self.weights = [m.weight.detach().clone() for m in self.linears]
        self.implementation = model.config._attn_implementation
        for m in self.linears:
            m.register_forward_pre_hook(lambda _, args: (round_rows(args[0], self.precision.activation_bits),))
        AttentionInterface.register(ATTENTION, self.attention)

    def use(self, precision: Precision) -> None:
        self.precision = precision
        with torch.no_grad():
            for m, w in zip(self.linears, self.weights, strict=True):
                m.weight.copy_(round_rows(w, 8) if precision.int8_weights else w)
        self.model.set_attn_implementation(ATTENTION if precision.rounds_attention else self.implementation)

    def attention(self, module, query, key, value, attention_mask, scaling, dropout=0.0, **_):
        """Causal attention ``[batch, heads, T, head_dim]`` (one unpadded window) with the precision's rounding."""
        p = self.precision
        group = query.shape[1] // key.shape[1]
        key, value = key.repeat_interleave(group, dim=1), value.repeat_interleave(group, dim=1)
        scores = round_rows(query, p.query_key_bits) @ round_rows(key, p.query_key_bits).transpose(-1, -2)
        steps = scores.shape[-1]
        later = torch.ones(steps, steps, dtype=torch.bool, device=scores.device).triu_(1)
        weights = torch.softmax((scores * scaling).masked_fill(later, -math.inf), dim=-1)
        if p.attention_weight_bits is not None:
            top = 2**p.attention_weight_bits - 1
            weights = torch.round(weights / weights.amax(dim=-1, keepdim=True) * top)
            weights = weights / weights.sum(dim=-1, keepdim=True)
        value = round_rows(value.transpose(-1, -2), p.value_bits).transpose(-1, -2)
        return (weights @ value).transpose(1, 2).contiguous(), None


def windows(documents: list[list[int]], prefix: int, block_size: int, stride: int) -> list[tuple[list, list]]:
    """Each window's inputs and its scored targets, as ``compress`` codes them (no window BOS)."""
    out = []
    for ids in documents:
        seq = [prefix] + ids
        for w in iter_document_windows(len(ids), block_size, stride, False):
            inputs, targets = window_tokens(seq, w)
            out.append((inputs, targets[-w.n_scored :]))
    return out


@torch.inference_mode()
def window_bits(model, work: list[tuple[list, list]]) -> float:
    """``-log2 p`` of every scored target, summed in float64."""
    total = 0.0
    for inputs, targets in work:
        logits = model(torch.tensor([inputs])).logits[0, -len(targets) :].double()
        logp = logits.log_softmax(dim=-1).gather(1, torch.tensor(targets).view(-1, 1))
        total -= float(logp.sum()) / math.log(2)
    return total


def main() -> int:
    from lm_eval_compression.codec.commands import load_lm

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    corpus_options(parser, threads=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    lm = load_lm(demo.model_args(demo.smollm2_gguf()), "cpu")
    rounding = Rounding(lm.model.double())
    results = {}
    for name in CORPORA:
        texts = sample_texts(name, args.documents)
        documents = lm.tokenizer(texts, add_special_tokens=False)["input_ids"]
        work = windows(documents, int(lm.prefix_token_id), args.block_size, args.stride)
        chars, rows = sum(map(len, texts)), []
        for precision in PRECISIONS:
            rounding.use(precision)
            start = time.perf_counter()
            bpc = window_bits(lm.model, work) / chars
            rows.append({**asdict(precision), "bpc": bpc, "seconds": time.perf_counter() - start})
            rows[-1]["vs_float_percent"] = 100 * (bpc / rows[0]["bpc"] - 1)
            print(name, json.dumps(rows[-1]), flush=True)
        results[name] = {"characters": chars, "windows": len(work), "precisions": rows}
    if args.json:
        args.json.write_text(json.dumps({"threads": args.threads, "corpora": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
