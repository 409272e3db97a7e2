"""``python -m lm_eval_compression compare RUN_A RUN_B -o DIR``: two runs on the same documents, paired."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..report.results import ResultsError
from .build import CompareSettings, compare
from .markdown import summary
from .runs import load_run


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m lm_eval_compression compare",
        description="Compare two lm_eval runs of the compression tasks on the same documents: paired "
        "differences with errors, context-length curves, and (with token_records) the lines where they differ.",
    )
    p.add_argument("run_a", type=Path, metavar="RUN_A", help="lm_eval --output_path folder (with --log_samples)")
    p.add_argument("run_b", type=Path, metavar="RUN_B", help="the other run, same tasks, documents and windows")
    p.add_argument("-o", "--output-dir", type=Path, required=True, help="where compare.json, .md, .html go")
    p.add_argument("--label-a", help="name shown for A (default: the model's name)")
    p.add_argument("--label-b", help="name shown for B")
    p.add_argument("--top", type=int, default=10, help="documents and lines listed each way (default 10)")
    p.add_argument("--group-by", help="dotted document field for per-subdomain tables (default: the runs')")
    return p


def write(comparison: dict, out: Path) -> list[Path]:
    """compare.json, compare.md, the two figures and compare.html into ``out``."""
    from .figures import context_figure, scatter_figure
    from .page import render

    out.mkdir(parents=True, exist_ok=True)
    written = [out / "compare.json", out / "compare.md"]
    written[0].write_text(json.dumps(comparison, indent=1, allow_nan=True), encoding="utf-8")
    written[1].write_text(summary(comparison), encoding="utf-8")
    figures = {
        "bpc by context length": context_figure(comparison, out / "context_length.png"),
        "bpc per document, A against B": scatter_figure(comparison, out / "documents.png"),
    }
    page = out / "compare.html"
    page.write_text(render(comparison, figures), encoding="utf-8")
    return written + list(figures.values()) + [page]


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if args.top < 1:
        print("error: --top must be at least 1", file=sys.stderr)
        return 2
    try:
        a = load_run(args.run_a, args.label_a)
        b = load_run(args.run_b, args.label_b)
        comparison = compare(a, b, CompareSettings(top=args.top, group_by=args.group_by))
        written = write(comparison, args.output_dir)
    except ResultsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(summary(comparison), end="")
    print("wrote " + ", ".join(str(p) for p in written), file=sys.stderr)
    return 0
