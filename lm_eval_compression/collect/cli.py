"""Command line of ``python -m lm_eval_compression collect``: the options every pipeline shares
(output, dates, sampling, dedup, and where it runs: ``--executor local|ray|slurm``) and the entry point."""

from __future__ import annotations

import argparse
import sys

from . import arxiv, python_code, web

DESCRIPTION = """Rebuild the compression corpora from material newer than a cut-off, with datatrove.

    collect python      {search,clone,extract,all}  GitHub repositories -> python.jsonl
    collect arxiv_math  {list,download,extract,all} arXiv math LaTeX sources -> arxiv_math.jsonl
    collect cc          {extract,all}               Common Crawl WARC/WET files -> cc.jsonl
    collect contamination INPUT.jsonl --reference REF.jsonl   share of documents sharing a 13-gram

Every pipeline runs on this machine by default; --executor ray or slurm runs the same stages on a cluster."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m lm_eval_compression collect",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="area", metavar="{python,arxiv_math,cc,contamination}")
    python_code.add_parser(sub)
    arxiv.add_parser(sub)
    web.add_parser(sub)
    sub.add_parser(
        "contamination",
        add_help=False,
        help="share of documents sharing a word n-gram with a reference corpus (and decontaminate)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "contamination":
        from .contamination import main as contamination_main

        return contamination_main(argv[1:])
    parser = build_parser()  # imports datatrove, which installs its own log handler
    _quiet_datatrove()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if not argv else 2
    return args.func(args)


def _quiet_datatrove() -> None:
    """datatrove logs every task start and stop at INFO through loguru; keep warnings only."""
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level="WARNING")
