"""What the ``correlate`` and ``leaderboard`` commands share: their common options and error handling."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from .results import ResultsError


def parse_labels(pairs: Sequence[str]) -> dict[str, str]:
    """``--label MODEL_OR_PATH=LABEL`` options as a dict."""
    labels = {}
    for pair in pairs or ():
        key, eq, label = pair.partition("=")
        if not eq or not key or not label:
            raise argparse.ArgumentTypeError(f"bad --label {pair!r}: expected MODEL_OR_PATH=LABEL")
        labels[key] = label
    return labels


def results_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """A parser with the options both commands take: results paths, --label, --output-dir."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument(
        "results",
        nargs="+",
        metavar="RESULTS",
        help="results_*.json files or lm_eval --output_path folders (searched recursively)",
    )
    parser.add_argument(
        "--label",
        action="append",
        default=[],
        metavar="MODEL_OR_PATH=LABEL",
        help="show a model (by model name, results file or folder) under another name; repeatable",
    )
    parser.add_argument("--output-dir", type=Path, help="write markdown, CSV (and plots) here")
    return parser


def run_command(body: Callable[[], int]) -> int:
    """Run a command body; input errors and a missing report extra become a message and exit status 2."""
    try:
        return body()
    except ResultsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except ImportError as err:
        print(f"error: {err}; install the report extra: pip install 'lm-eval-compression[report]'", file=sys.stderr)
        return 2


def publish(text: str, output_dir: Path | None, markdown_name: str, writers: Sequence[Callable[[Path], object]]) -> int:
    """Print the report's markdown; with ``output_dir``, also write it there as ``markdown_name``, run each
    writer on ``output_dir`` (CSV files, plots) and say what was written.  Returns the exit status, 0."""
    print(text, end="")
    if output_dir is None:
        return 0
    output_dir.mkdir(parents=True, exist_ok=True)
    markdown = output_dir / markdown_name
    markdown.write_text(text, encoding="utf-8")
    written = [markdown]
    for writer in writers:
        result = writer(output_dir)
        written += result if isinstance(result, list) else [result]
    print("wrote " + ", ".join(str(p) for p in written), file=sys.stderr)
    return 0
