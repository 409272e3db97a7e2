"""Memory and time of the plugin's planning and bookkeeping at paper scale (no model).

For each corpus size (tokens) and protocol, a fresh process builds synthetic documents (random token
ids, lengths like web text), then the plugin's scoring plan (sequences, windows, scored tokens per
document), the batches the scorer would run, and the per-window owner bookkeeping that resuming
uses.  It reports the process's peak resident memory above its baseline after imports, and the
seconds of planning.

    python benchmarks/plan_scale.py --tokens 1e6,1e7,1e8 --json plan_scale.json
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synthetic_documents(n_tokens: int, seed: int = 0):
    """int32 token-id arrays whose lengths (log-normal, median about 700) add up to ``n_tokens``."""
    import numpy as np

    rng = np.random.default_rng(seed)
    docs, left = [], n_tokens
    while left > 0:
        n = int(min(left, max(1, rng.lognormal(6.5, 1.0))))
        docs.append(rng.integers(0, 50_000, size=n, dtype=np.int32))
        left -= n
    return docs


def measure(n_tokens: int, protocol: str, block: int, stride: int, batch_size: int) -> dict:
    """One measurement, in this process."""
    import numpy as np

    sys.path.insert(0, str(REPO))
    from lm_eval_compression.engine.planning import plan_documents, plan_stream
    from lm_eval_compression.engine.scoring import WindowScorer
    from lm_eval_compression.engine.settings import WindowSettings

    base = peak_rss_mib()
    docs = synthetic_documents(n_tokens)
    start = time.perf_counter()
    owners = list(range(len(docs)))
    windows = WindowSettings.parse({"block_size": block, "stride": stride, "protocol": protocol})
    if protocol == "document":
        plan = plan_documents(docs, owners, len(docs), windows.for_model(False, "benchmark", 0, None))
    else:
        plan = plan_stream(docs, owners, len(docs), windows, where="benchmark")
    del docs
    planned = time.perf_counter() - start
    job_ids = np.arange(len(plan.jobs))
    batches = WindowScorer.batches(plan, job_ids, batch_size * block)
    owner_of_job = np.fromiter(
        (plan.sequences[j.seq].owners_of(j.window.end, j.window.end + 1)[0] for j in plan.jobs),
        np.int64,
        len(plan.jobs),
    )
    left = np.bincount(owner_of_job, minlength=len(plan.scored_tokens))
    seconds = time.perf_counter() - start
    return {
        "tokens": n_tokens,
        "protocol": protocol,
        "documents": len(plan.scored_tokens),
        "windows": len(plan.jobs),
        "batches": len(batches),
        "scored_tokens": int(plan.scored_tokens.sum()),
        "unfinished": int((left > 0).sum()),
        "plan_seconds": round(planned, 2),
        "seconds": round(seconds, 2),
        "peak_mib_above_baseline": round(peak_rss_mib() - base, 1),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tokens", default="1e6,1e7,1e8", help="comma-separated corpus sizes in tokens")
    p.add_argument("--protocols", default="document,paper")
    p.add_argument("--block-size", type=int, default=1900)
    p.add_argument("--stride", type=int, default=512)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--json", type=Path, help="write the rows here")
    p.add_argument("--one", nargs=2, metavar=("TOKENS", "PROTOCOL"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.one:
        print(json.dumps(measure(int(float(args.one[0])), args.one[1], args.block_size, args.stride, args.batch_size)))
        return 0
    rows = []
    print(
        f"{'tokens':>12} {'protocol':>9} {'documents':>10} {'windows':>9} {'batches':>8} {'seconds':>8} {'peak MiB':>9}"
    )
    for tokens in args.tokens.split(","):
        for protocol in args.protocols.split(","):
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--one",
                    tokens,
                    protocol,
                    "--block-size",
                    str(args.block_size),
                    "--stride",
                    str(args.stride),
                    "--batch-size",
                    str(args.batch_size),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            row = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(
                f"{row['tokens']:>12,} {protocol:>9} {row['documents']:>10,} {row['windows']:>9,} "
                f"{row['batches']:>8,} {row['seconds']:>8.2f} {row['peak_mib_above_baseline']:>9.1f}"
            )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
