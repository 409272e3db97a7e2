#!/usr/bin/env python
"""The least time any one-pass ``compress`` encoder built on PyTorch's stock kernels needs on this machine, and so
the most it can gain over an earlier codec: the float model itself (no quantisation, no coder) run once over
every window that ``compress`` runs, in float32 and in bfloat16.

Same documents, model and windows as ``codec_speed.py`` (the first three documents of each shipped sample corpus,
SmolLM2-135M-Instruct, the document protocol at 1900/512). Each window costs one forward pass of the model's body
over its inputs, then the output head and a float32 log-softmax over its scored rows only. With ``--speed`` (a
``codec_speed.py`` JSON) it prints the earlier codec's compress seconds divided by those seconds: no encoder
that does at least this work can be faster than that by more.

It also times the exact codec's own floor on this machine: only the matrix products its encoder runs over the
same windows (the int8 products of every linear layer and of the output layer over the scored rows, the
float64 attention products of every block of queries), with the shapes the encoder gives them and none of the
elementwise work around them; and the time their operations would take at the rate of one large square
product of each kind, measured in the same run (about the best these kernels reach here). Usage::

    python benchmarks/codec_bound.py --threads 1 --speed codec_speed.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from codec_speed import CORPORA  # noqa: E402  (this folder: the same corpora as the speed benchmark)

from lm_eval_compression import demo  # noqa: E402
from lm_eval_compression.codec import coding, exact_model  # noqa: E402
from lm_eval_compression.codec.commands import load_lm  # noqa: E402
from lm_eval_compression.engine.windows import iter_document_windows  # noqa: E402


def window_inputs(documents: list[list[int]], prefix: int, block_size: int, stride: int) -> list[tuple[list, int]]:
    """Each window's input ids and its scored count, as ``compress`` runs them (no window BOS)."""
    out = []
    for ids in documents:
        seq = [prefix] + ids
        for w in iter_document_windows(len(ids), block_size, stride, False):
            out.append((seq[w.start : w.end], w.n_scored))
    return out


@torch.inference_mode()
def time_windows(model, windows: list[tuple[list, int]]) -> float:
    """Seconds of the body over every window's inputs, then the head and a log-softmax over its scored rows."""
    model(torch.tensor([windows[0][0][:16]]))  # warm-up
    start = time.perf_counter()
    for inputs, scored in windows:
        hidden = model.model(torch.tensor([inputs])).last_hidden_state[0, -scored:]
        model.lm_head(hidden).float().log_softmax(dim=-1)
    return time.perf_counter() - start


Product = tuple[str, tuple, tuple, bool]  # operation, the operands' shapes, whether the second is transposed


def exact_products(model: exact_model.ExactLM, windows: list[tuple[list, int]]) -> list[Product]:
    """The matrix products the exact encoder runs on a CPU over ``windows``, in order: per layer the int8
    products of its four weights (the activations' two bytes stacked: twice the rows) around the float64
    attention products of each block of ``QUERY_CHUNK`` queries (the keys a transposed view of the cache), then
    the output layer's int8 products over the scored rows, ``ROWS`` at a time."""
    s = model.shape
    group, chunk, calls = s.heads // s.kv_heads, exact_model.QUERY_CHUNK, []
    for inputs, scored in windows:
        steps = len(inputs)
        for layer in model.layers:
            calls.append(("_int_mm", (2 * steps, s.hidden), tuple(layer.qkv.weight_t.shape), False))
            for t0 in range(0, steps, chunk):
                t1 = min(steps, t0 + chunk)
                rows = group * (t1 - t0)
                calls.append(("bmm", (s.kv_heads, rows, s.head_dim), (s.kv_heads, s.head_dim, t1), True))
                calls.append(("bmm", (s.kv_heads, rows, t1), (s.kv_heads, t1, s.head_dim), False))
            for weight in (layer.o, layer.gate_up, layer.down):
                calls.append(("_int_mm", (2 * steps, weight.weight_t.shape[0]), tuple(weight.weight_t.shape), False))
        for r0 in range(0, scored, coding.ROWS):
            rows = min(coding.ROWS, scored - r0)
            calls.append(("_int_mm", (2 * rows, s.hidden), tuple(model.head.weight_t.shape), False))
    return calls


def time_products(calls: list[Product]) -> dict[str, float]:
    """Seconds of ``calls`` run in order on operands of their shapes and layouts (small integers: int8 for
    ``_int_mm``, float64 for ``bmm``), each distinct operand made and each operation warmed up once before the
    clock starts; summed by operation."""
    operands: dict[tuple, torch.Tensor] = {}

    def operand(name: str, shape: tuple, transposed: bool = False) -> torch.Tensor:
        if (name, shape, transposed) not in operands:
            dtype = torch.int8 if name == "_int_mm" else torch.float64
            stored = (*shape[:-2], shape[-1], shape[-2]) if transposed else shape
            x = torch.randint(-100, 100, stored).to(dtype)
            operands[name, shape, transposed] = x.transpose(-1, -2) if transposed else x
        return operands[name, shape, transposed]

    work = [(name, operand(name, a), operand(name, b, t)) for name, a, b, t in calls]
    seconds = dict.fromkeys(sorted({name for name, *_ in work}), 0.0)
    for name in seconds:  # warm-up: each operation once, on its first operands in the list
        _, a, b = next(w for w in work if w[0] == name)
        getattr(torch, name)(a, b)
    for name, a, b in work:
        start = time.perf_counter()
        getattr(torch, name)(a, b)
        seconds[name] += time.perf_counter() - start
    return seconds


def product_work(calls: list[Product]) -> dict[str, float]:
    """Arithmetic operations (two per multiply-add) of ``calls``, summed by operation."""
    work: dict[str, float] = {}
    for name, a, b, _ in calls:
        work[name] = work.get(name, 0.0) + 2.0 * math.prod(a) * b[-1]
    return work


def best_rates(size: int = 2048) -> dict[str, float]:
    """Operations per second of one large square product per operation (float64 ``bmm`` of ``size``, int8
    ``_int_mm`` of ``2 * size`` rows): about the best rate this machine's kernels reach."""
    calls = [("bmm", (1, size, size), (1, size, size), False), ("_int_mm", (2 * size, size), (size, size), False)]
    seconds = time_products(calls * 3)
    return {name: work * 3 / seconds[name] for name, work in product_work(calls).items()}


def corpus_options(parser: argparse.ArgumentParser, threads: int) -> None:
    """The options of the benchmarks that run the model over ``codec_speed.py``'s corpora and windows."""
    parser.add_argument("--threads", type=int, default=threads)
    parser.add_argument("--documents", type=int, default=3, help="first lines of each corpus")
    parser.add_argument("--block-size", type=int, default=1900)
    parser.add_argument("--stride", type=int, default=512)
    parser.add_argument("--json", type=Path, help="write the figures here")


def sample_texts(name: str, documents: int) -> list[str]:
    """The first ``documents`` texts of the shipped sample corpus ``name``."""
    lines = (demo.sample_dir() / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()[:documents]
    return [json.loads(line)["content"] for line in lines]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    corpus_options(parser, threads=1)
    parser.add_argument("--speed", type=Path, help="a codec_speed.py JSON: its baseline compress seconds")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    lm = load_lm(demo.model_args(demo.smollm2_gguf()), "cpu")
    exact = exact_model.ExactLM.from_hf(lm.model)
    speed = json.loads(args.speed.read_text()) if args.speed else {}
    results = {}
    rates = best_rates()
    print("best rates: float64 bmm", f"{rates['bmm'] / 1e9:.0f} GFLOP/s,", f"int8 {rates['_int_mm'] / 1e12:.2f} TOP/s")
    for name in CORPORA:
        documents = lm.tokenizer(sample_texts(name, args.documents), add_special_tokens=False)["input_ids"]
        windows = window_inputs(documents, int(lm.prefix_token_id), args.block_size, args.stride)
        row = {"windows": len(windows), "input_tokens": sum(len(i) for i, _ in windows)}
        for dtype in (torch.float32, torch.bfloat16):
            row[f"seconds_{str(dtype)[6:]}"] = time_windows(lm.model.to(dtype), windows)
        lm.model.to(torch.float32)
        calls = exact_products(exact, windows)
        products = time_products(calls)
        row["seconds_exact_float64_bmm"], row["seconds_exact_int8_mm"] = products["bmm"], products["_int_mm"]
        row["seconds_exact_products"] = sum(products.values())
        work = product_work(calls)
        row["gflop_exact_float64_bmm"], row["gop_exact_int8_mm"] = work["bmm"] / 1e9, work["_int_mm"] / 1e9
        row["seconds_exact_products_at_best_rates"] = sum(work[name] / rates[name] for name in work)
        baseline = speed.get(name, {}).get("baseline", {}).get("compress_seconds")
        if baseline:
            row["baseline_compress_seconds"] = baseline
            for kind in ("float32", "bfloat16", "exact_products", "exact_products_at_best_rates"):
                row[f"most_speedup_{kind}"] = baseline / row[f"seconds_{kind}"]
        results[name] = row
        print(name, json.dumps(row), flush=True)
    if args.json:
        summary = {"threads": args.threads, "best_rates": rates, "corpora": results}
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
