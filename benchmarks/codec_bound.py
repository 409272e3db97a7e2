#!/usr/bin/env python
"""The least time any one-pass ``compress`` encoder built on PyTorch's stock kernels needs on this machine, and so
the most it can gain over an earlier codec: the float model itself (no quantisation, no coder) run once over
every window that ``compress`` runs, in float32 and in bfloat16.

Same documents, model and windows as ``codec_speed.py`` (the first three documents of each shipped sample corpus,
SmolLM2-135M-Instruct, the document protocol at 1900/512). Each window costs one forward pass of the model's body
over its inputs, then the output head and a float32 log-softmax over its scored rows only. With ``--speed`` (a
``codec_speed.py`` JSON) it prints the earlier codec's compress seconds divided by those seconds: no encoder
that does at least this work can be faster than that by more. Usage::

    python benchmarks/codec_bound.py --threads 1 --speed codec_speed.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from codec_speed import CORPORA  # noqa: E402  (this folder: the same corpora as the speed benchmark)

from lm_eval_compression import demo  # noqa: E402
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--documents", type=int, default=3, help="first lines of each corpus")
    parser.add_argument("--block-size", type=int, default=1900)
    parser.add_argument("--stride", type=int, default=512)
    parser.add_argument("--speed", type=Path, help="a codec_speed.py JSON: its baseline compress seconds")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    lm = load_lm(demo.model_args(demo.smollm2_gguf()), "cpu")
    speed = json.loads(args.speed.read_text()) if args.speed else {}
    results = {}
    for name in CORPORA:
        lines = (demo.sample_dir() / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()[: args.documents]
        texts = [json.loads(line)["content"] for line in lines]
        documents = lm.tokenizer(texts, add_special_tokens=False)["input_ids"]
        windows = window_inputs(documents, int(lm.prefix_token_id), args.block_size, args.stride)
        row = {"windows": len(windows), "input_tokens": sum(len(i) for i, _ in windows)}
        for dtype in (torch.float32, torch.bfloat16):
            row[f"seconds_{str(dtype)[6:]}"] = time_windows(lm.model.to(dtype), windows)
        lm.model.to(torch.float32)
        baseline = speed.get(name, {}).get("baseline", {}).get("compress_seconds")
        if baseline:
            row["baseline_compress_seconds"] = baseline
            row["most_speedup_float32"] = baseline / row["seconds_float32"]
            row["most_speedup_bfloat16"] = baseline / row["seconds_bfloat16"]
        results[name] = row
        print(name, json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps({"threads": args.threads, "corpora": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
