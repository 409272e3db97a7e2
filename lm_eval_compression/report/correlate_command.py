"""``python -m lm_eval_compression correlate``: fit benchmark scores against bpc and write the report."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .areas import COMPRESSION_GROUP, Area, ScoreSpec
from .cli import parse_labels, publish, results_parser, run_command
from .results import load_results


def _parser() -> argparse.ArgumentParser:
    parser = results_parser(
        "python -m lm_eval_compression correlate",
        "Fit benchmark scores against bits-per-character, linear (Huang et al., 2024) and against log bpc "
        "(Luo et al., 2025), with leave-one-out errors; predict the scores of other models from their bpc.",
    )
    parser.add_argument(
        "--area",
        action="append",
        default=[],
        metavar="AREA=TASK/METRIC[,FILTER],...",
        help="a paper pairing: knowledge (compression_cc), coding (compression_python) or "
        "math (compression_arxiv_math), with the benchmarks averaged for it, e.g. "
        "knowledge=hellaswag/acc_norm,arc_easy/acc; NAME:BPC_TASK=... pairs any task; repeatable",
    )
    parser.add_argument("--bpc-task", help="compression task or group for --score (default: compression, the mean)")
    parser.add_argument(
        "--score",
        action="append",
        default=[],
        metavar="TASK/METRIC[,FILTER]",
        help="benchmark metric averaged against --bpc-task; repeatable",
    )
    parser.add_argument("--name", default="score", help="area name for --bpc-task/--score (default: score)")
    parser.add_argument(
        "--predict",
        action="extend",
        nargs="+",
        default=[],
        metavar="RESULTS",
        help="results files or folders of models to predict (not fitted): each area's predicted score for their "
        "bpc, with its prediction interval, marked as extrapolation outside the fitted bpc range",
    )
    return parser


def _areas(args: argparse.Namespace) -> list[Area]:
    """The areas the options ask for; ValueError names a bad one."""
    areas = [Area.parse(text) for text in args.area]
    if args.score:
        scores = tuple(ScoreSpec.parse(s) for s in args.score)
        areas.append(Area(args.name, args.bpc_task or COMPRESSION_GROUP, scores))
    elif args.bpc_task:
        raise ValueError("--bpc-task needs at least one --score")
    return areas


def _plot(fits, predictions, stem):
    from .plot import plot_fits  # needs matplotlib

    return plot_fits(fits, stem, predictions=predictions)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        labels = parse_labels(args.label)
        areas = _areas(args)
    except (ValueError, argparse.ArgumentTypeError) as err:
        parser.error(str(err))
    if not areas:
        parser.error("name at least one --area or --score")

    return run_command(lambda: _report(args, labels, areas))


def _report(args: argparse.Namespace, labels: dict[str, str], areas: list[Area]) -> int:
    """Fit, predict where asked, print the markdown and write the files."""
    from .correlate import correlate  # needs scipy (the report extra)
    from .predict import predict_scores
    from .render import fits_markdown, write_fit_csv, write_stats_csv

    fitted = load_results(args.results, labels)
    fits = correlate(fitted, areas)
    predictions = predict_scores(fits, fitted, load_results(args.predict, labels)) if args.predict else []
    text = fits_markdown(fits)
    writers = [
        lambda out: write_fit_csv(fits, out / "correlate.csv"),
        lambda out: write_stats_csv(fits, out / "correlate_stats.csv"),
        lambda out: _plot(fits, predictions, out / "correlate"),
    ]
    if predictions:
        from .render import predictions_markdown, write_predictions_csv, write_predictions_json

        text += "\n## Predicted scores\n\n" + predictions_markdown(predictions)
        writers += [
            lambda out: write_predictions_csv(predictions, out / "correlate_predictions.csv"),
            lambda out: write_predictions_json(predictions, out / "correlate_predictions.json"),
        ]
    return publish(text, args.output_dir, "correlate.md", writers)
