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
import dataclasses
import random
from pathlib import Path

from .arxiv_api import ARXIV_DELAY, EPRINT_URL, OAI_URL, DownloadOptions, ListOptions, download_sources, list_papers
from .fetch import run_fetch
from .files import fingerprint, read_jsonl
from .latex import PANDOC_TIMEOUT, TextSettings
from .limits import MAX_ARCHIVE_MEMBERS, MAX_EXPANDED_BYTES, MAX_SOURCE_BYTES, PAPER_TIMEOUT
from .options import PipelineOptions, add_area_parser, pipeline_options, positive
from .pipeline import AreaPipeline, run_area
from .readers import ArxivSourceReader, PaperSettings
from .sources import SourceLimits
from .steps import dropped_writer

AREA = "arxiv_math"
STEPS = ("list", "download", "extract", "all")


def add_parser(sub) -> None:
    p = add_area_parser(
        sub,
        AREA,
        "arXiv math papers (LaTeX sources) first submitted after a cut-off",
        __doc__,
        STEPS,
        "list | download | extract | all (list, download, extract)",
    )
    g = p.add_argument_group("list and download")
    g.add_argument("--oai-url", default=OAI_URL, help="OAI-PMH endpoint (default: %(default)s)")
    g.add_argument("--set", default="math", help="OAI set (default: %(default)s)")
    g.add_argument("--category-prefix", default="math.", help="primary category prefix (default: %(default)s)")
    g.add_argument("--eprint-url", default=EPRINT_URL, help="source download base (default: %(default)s)")
    g.add_argument("--delay", type=float, default=ARXIV_DELAY, help="seconds between requests (default: %(default)s)")
    g.add_argument("--max-papers", type=int, default=None, help="download a seeded random sample of this many")
    g.add_argument("--sources", default=None, help="folder of downloaded sources (default: <work>/sources)")
    g.add_argument(
        "--max-source-bytes",
        type=positive(int),
        default=MAX_SOURCE_BYTES,
        help="largest source file downloaded or read, in bytes (default: %(default)s)",
    )
    _add_extract_args(p.add_argument_group("extract"))
    p.set_defaults(func=run)


def _add_extract_args(g) -> None:
    g.add_argument(
        "--format",
        choices=("markdown", "latex"),
        default="markdown",
        help="pandoc markdown (as the paper) or cleaned LaTeX (default: %(default)s)",
    )
    g.add_argument("--pandoc-to", default="markdown", help="pandoc output format (default: %(default)s)")
    g.add_argument("--pandoc-timeout", type=positive(float), default=PANDOC_TIMEOUT)
    g.add_argument("--min-chars", type=int, default=200, help="drop papers shorter than this (default: %(default)s)")
    g.add_argument(
        "--paper-timeout",
        type=positive(float),
        default=PAPER_TIMEOUT,
        help="seconds one paper may take, pandoc included (default: %(default)s)",
    )
    g.add_argument(
        "--max-expanded-bytes",
        type=positive(int),
        default=MAX_EXPANDED_BYTES,
        help="largest source after gzip/tar expansion, in bytes (default: %(default)s)",
    )
    g.add_argument(
        "--max-archive-members",
        type=positive(int),
        default=MAX_ARCHIVE_MEMBERS,
        help="most files in one source archive (default: %(default)s)",
    )


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


def paper_settings(args: argparse.Namespace, options: PipelineOptions) -> PaperSettings:
    """The extract settings of the command line."""
    return PaperSettings(
        date_range=options.date_range,
        text=TextSettings(fmt=args.format, pandoc_to=args.pandoc_to, pandoc_timeout=args.pandoc_timeout),
        limits=SourceLimits(
            max_source_bytes=args.max_source_bytes,
            max_expanded_bytes=args.max_expanded_bytes,
            max_members=args.max_archive_members,
        ),
        paper_timeout=args.paper_timeout,
        min_chars=args.min_chars,
    )


def list_step(args: argparse.Namespace, options: PipelineOptions, papers_path: Path) -> None:
    date_range = options.date_range
    if date_range.after is None:
        raise SystemExit("list needs --after (the cut-off date)")
    listing = ListOptions(args.oai_url, args.set, args.category_prefix, args.delay, options.progress)
    run_fetch(
        options.work,
        "list",
        lambda: list_papers(listing, date_range, papers_path),
        {"oai_url": args.oai_url, "set": args.set, "category_prefix": args.category_prefix, **date_range.to_json()},
        [papers_path],
        force=options.force,
    )


def download_step(args: argparse.Namespace, options: PipelineOptions, papers_path: Path, sources: Path) -> None:
    if not papers_path.exists():
        raise SystemExit(f"no {papers_path}: run the list step first")
    papers = list(read_jsonl(papers_path))
    if args.max_papers is not None and len(papers) > args.max_papers:
        papers = random.Random(options.seed).sample(papers, args.max_papers)
    download = DownloadOptions(args.eprint_url, args.delay, args.max_source_bytes, options.progress)
    run_fetch(
        options.work,
        "download",
        lambda: download_sources(papers, sources, download),
        {"eprint_url": args.eprint_url, "max_papers": args.max_papers, "seed": options.seed},
        always=True,
    )


def extract_pipeline(settings: PaperSettings, papers: list[dict], sources: Path, work: Path) -> AreaPipeline:
    """The arXiv reader and what the manifest says about it."""
    return AreaPipeline(
        area=AREA,
        reader=lambda f: [
            ArxivSourceReader(papers, str(sources), settings, exclusion_writer=dropped_writer(f, "extract"))
        ],
        reader_params={
            "sources": str(sources),
            "papers": len(papers),
            "papers_fingerprint": fingerprint(p["id"] for p in papers),
            "files": fingerprint(p.name for p in sources.iterdir()),
            **settings.date_range.to_json(),
            "format": settings.text.fmt,
            "pandoc_to": settings.text.pandoc_to,
            "min_chars": settings.min_chars,
            "paper_timeout": settings.paper_timeout,
            **dataclasses.asdict(settings.limits),
        },
        normalize_whitespace=True,
        fetch_steps=tuple(n for n in ("list", "download") if (work / f"{n}.stats.json").exists()),
        manifest_extra={"pandoc": pandoc_version() if settings.text.fmt == "markdown" else None},
    )


def run(args: argparse.Namespace) -> int:
    options = pipeline_options(args, AREA)
    options.work.mkdir(parents=True, exist_ok=True)
    papers_path = options.work / "papers.jsonl"
    sources = Path(args.sources) if args.sources else options.work / "sources"
    if args.step in ("list", "all"):
        list_step(args, options, papers_path)
    if args.step in ("download", "all"):
        download_step(args, options, papers_path, sources)
    if args.step in ("extract", "all"):
        if not sources.is_dir():
            raise SystemExit(f"no sources folder {sources} (run the download step or pass --sources)")
        papers = load_papers(papers_path, sources)
        run_area(extract_pipeline(paper_settings(args, options), papers, sources, options.work), options)
    return 0
