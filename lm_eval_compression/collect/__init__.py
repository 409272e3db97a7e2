"""``python -m lm_eval_compression collect``: rebuild the three corpora from material newer than a cut-off.

Compression (bits per character) only measures generalisation on text that no model has trained on,
so the corpora have to be rebuilt after every new model's training cut-off.  Each pipeline writes
``<out>/<area>.jsonl`` in the evaluation schema (``{"content", "subset", "meta"}``), so ``<out>`` can be
passed as the tasks' ``data_dir``, plus ``<out>/<area>.manifest.json``.

    collect python      {search,clone,extract,all}  GitHub repositories -> python.jsonl
    collect arxiv_math  {list,download,extract,all} arXiv math LaTeX sources -> arxiv_math.jsonl
    collect cc          {extract,all}               Common Crawl WARC/WET files -> cc.jsonl
    collect contamination INPUT.jsonl --reference REF.jsonl   share of documents sharing a 13-gram
"""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    from . import arxiv, python_code, web

    p = argparse.ArgumentParser(prog="python -m lm_eval_compression collect", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="area", metavar="{python,arxiv_math,cc,contamination}")
    python_code.add_parser(sub)
    arxiv.add_parser(sub)
    web.add_parser(sub)
    sub.add_parser("contamination", add_help=False,
                   help="share of documents sharing a word n-gram with a reference corpus (and decontaminate)")
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
    """datatrove logs every sandbox start and stop at INFO through loguru; keep warnings only."""
    try:
        from loguru import logger

        logger.remove()
        logger.add(sys.stderr, level="WARNING")
    except Exception:  # pragma: no cover - loguru is a datatrove dependency
        pass
