"""``python -m lm_eval_compression leaderboard``: bpc per corpus and the mean for every model, best first."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .areas import CORPUS_TASKS
from .cli import parse_labels, publish, results_parser, run_command
from .leaderboard import leaderboard
from .render import leaderboard_markdown, write_leaderboard_csv
from .results import load_results


def main(argv: Sequence[str] | None = None) -> int:
    parser = results_parser(
        "python -m lm_eval_compression leaderboard",
        "BPC of every model per corpus and the average, sorted by the average (lower is better).",
    )
    parser.add_argument(
        "--tasks",
        default=",".join(CORPUS_TASKS),
        help=f"comma-separated compression tasks (default: {','.join(CORPUS_TASKS)})",
    )
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        labels = parse_labels(args.label)
    except argparse.ArgumentTypeError as err:
        parser.error(str(err))
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    if not tasks:
        parser.error("--tasks is empty")

    def body() -> int:
        board = leaderboard(load_results(args.results, labels), tasks)
        writers = [lambda out: write_leaderboard_csv(board, out / "leaderboard.csv")]
        return publish(leaderboard_markdown(board), args.output_dir, "leaderboard.md", writers)

    return run_command(body)
