"""``collect arxiv_math``: mathematics papers from arXiv LaTeX sources, first submitted after a cut-off.

``list``      arXiv's OAI-PMH interface (``ListRecords``, ``metadataPrefix=arXiv``, set ``math``): papers
              whose primary category (the first listed) starts with ``math.`` and whose first version was
              submitted in ``[--after, --before)``; writes ``papers.jsonl`` (id, categories, date, licence).
``download``  the source of every listed paper from ``<eprint-url>/<id>`` into ``<work>/sources``,
              politely (``--delay``, 3 s by default as arXiv asks) and one file at a time.
``extract``   the document stages on local sources: find the main ``.tex``, inline ``\\input``/``\\include``,
              drop comments, the bibliography and the preamble, convert with pandoc to markdown
              (``--format markdown``, as the paper did) or keep the cleaned LaTeX (``--format latex``);
              then dedup, decontamination and sampling.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from .arxiv_api import EPRINT_URL, OAI_URL, download_sources, list_papers
from .fetch import run_fetch
from .files import fingerprint, read_jsonl
from .options import add_common_args, date_range_of, public_params, work_dir
from .pipeline import Corpus, run_corpus
from .readers import ArxivSourceReader
from .steps import dropped_writer

AREA = "arxiv_math"
STEPS = ("list", "download", "extract", "all")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "arxiv_math",
        help="arXiv math papers (LaTeX sources) first submitted after a cut-off",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("step", choices=STEPS, help="list | download | extract | all (list, download, extract)")
    add_common_args(p)
    g = p.add_argument_group("list and download")
    g.add_argument("--oai-url", default=OAI_URL, help="OAI-PMH endpoint (default: %(default)s)")
    g.add_argument("--set", default="math", help="OAI set (default: %(default)s)")
    g.add_argument("--category-prefix", default="math.", help="primary category prefix (default: %(default)s)")
    g.add_argument("--eprint-url", default=EPRINT_URL, help="source download base (default: %(default)s)")
    g.add_argument("--delay", type=float, default=3.0, help="seconds between requests (default: %(default)s)")
    g.add_argument("--max-papers", type=int, default=None, help="download a seeded random sample of this many")
    g.add_argument("--sources", default=None, help="folder of downloaded sources (default: <work>/sources)")
    g = p.add_argument_group("extract")
    g.add_argument(
        "--format",
        choices=("markdown", "latex"),
        default="markdown",
        help="pandoc markdown (as the paper) or cleaned LaTeX (default: %(default)s)",
    )
    g.add_argument("--pandoc-to", default="markdown", help="pandoc output format (default: %(default)s)")
    g.add_argument("--pandoc-timeout", type=float, default=120)
    g.add_argument("--min-chars", type=int, default=200, help="drop papers shorter than this (default: %(default)s)")
    p.set_defaults(func=run)


def load_papers(papers_path: Path, sources: Path) -> list[dict]:
    """``papers.jsonl`` when there is one; otherwise every file in ``sources`` (named by id, no metadata)."""
    if papers_path.exists():
        return list(read_jsonl(papers_path))
    return [
        {"id": p.name.replace("_", "/")}
        for p in sorted(sources.iterdir())
        if p.is_file() and not p.name.endswith(".partial")
    ]


def pandoc_version() -> str | None:
    try:
        import pypandoc

        return pypandoc.get_pandoc_version()
    except (ImportError, OSError, RuntimeError):
        return None


def run(args) -> int:
    work = work_dir(args, AREA)
    work.mkdir(parents=True, exist_ok=True)
    date_range = date_range_of(args)
    papers_path = work / "papers.jsonl"
    sources = Path(args.sources) if args.sources else work / "sources"

    if args.step in ("list", "all"):
        if date_range.after is None:
            raise SystemExit("list needs --after (the cut-off date)")
        run_fetch(
            work,
            "list",
            lambda: list_papers(args, date_range, papers_path),
            {"oai_url": args.oai_url, "set": args.set, "category_prefix": args.category_prefix, **date_range.to_json()},
            [papers_path],
            force=args.force,
        )
    if args.step in ("download", "all"):
        if not papers_path.exists():
            raise SystemExit(f"no {papers_path}: run the list step first")
        papers = list(read_jsonl(papers_path))
        if args.max_papers is not None and len(papers) > args.max_papers:
            papers = random.Random(args.seed).sample(papers, args.max_papers)
        run_fetch(
            work,
            "download",
            lambda: download_sources(papers, sources, args.eprint_url, args.delay, not args.no_progress),
            {"eprint_url": args.eprint_url, "max_papers": args.max_papers, "seed": args.seed},
            always=True,
        )
    if args.step in ("extract", "all"):
        if not sources.is_dir():
            raise SystemExit(f"no sources folder {sources} (run the download step or pass --sources)")
        papers = load_papers(papers_path, sources)
        names = sorted(p.name for p in sources.iterdir())
        corpus = Corpus(
            area=AREA,
            reader=lambda f: [
                ArxivSourceReader(
                    papers,
                    str(sources),
                    date_range,
                    args.format,
                    args.pandoc_to,
                    args.pandoc_timeout,
                    args.min_chars,
                    exclusion_writer=dropped_writer(f, "extract"),
                )
            ],
            reader_params={
                "sources": str(sources),
                "papers": len(papers),
                "papers_fingerprint": fingerprint(p["id"] for p in papers),
                "files": fingerprint(names),
                **date_range.to_json(),
                "format": args.format,
                "pandoc_to": args.pandoc_to,
                "min_chars": args.min_chars,
            },
            normalize_whitespace=True,
            fetch_steps=[n for n in ("list", "download") if (work / f"{n}.stats.json").exists()],
            manifest_extra={"pandoc": pandoc_version() if args.format == "markdown" else None},
        )
        run_corpus(corpus, args, work, public_params(args), date_range.to_json())
    return 0
