"""``collect cc``: English web pages from a Common Crawl dump newer than a cut-off.

``extract`` (or ``all``) runs the document stages: WARC files (HTML ``response`` records) or WET files
(plain-text ``conversion`` records), local or over HTTP(S), read with ``warcio``; records whose
``WARC-Date`` is in ``[--after, --before)`` kept; the main text of HTML extracted with trafilatura or
resiliparse; English pages kept (lingua, offline); datatrove's Gopher repetition and quality filters;
then exact and MinHash near-dedup, optional decontamination and sampling to ``--target-chars``.
For a whole dump, pass its ``wet.paths.gz`` listing and run with ``--executor slurm`` or ``ray`` and
many ``--tasks`` (input files are split between tasks).
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from .files import fingerprint
from .filters import LinguaLanguageFilter, gopher_filters
from .limits import MAX_RECORD_BYTES
from .options import PipelineOptions, add_area_parser, pipeline_options, positive
from .pipeline import AreaPipeline, run_area
from .steps import dropped_writer
from .warc import CC_BASE, WarcReader, WarcSettings, is_url, read_paths_file

AREA = "cc"
STEPS = ("extract", "all")


def add_parser(sub) -> None:
    p = add_area_parser(
        sub,
        AREA,
        "English web pages from Common Crawl WARC/WET files after a cut-off",
        __doc__,
        STEPS,
        "extract | all (the same: extraction and every later step)",
    )
    g = p.add_argument_group("input")
    g.add_argument("--warc", nargs="+", default=[], metavar="PATH_OR_URL", help="WARC or WET files (.warc[.gz])")
    g.add_argument(
        "--paths-file", default=None, help="a Common Crawl warc.paths.gz / wet.paths.gz listing (local or URL)"
    )
    g.add_argument("--base-url", default=CC_BASE, help="prefix of the listing's paths (default: %(default)s)")
    g.add_argument("--max-files", type=int, default=None, help="seeded random sample of this many listed files")
    g = p.add_argument_group("extract and filter")
    g.add_argument("--extractor", choices=("trafilatura", "resiliparse"), default="trafilatura")
    g.add_argument("--extract-timeout", type=float, default=5.0, help="seconds per page (default: %(default)s)")
    g.add_argument("--extract-batch", type=int, default=1000, help=argparse.SUPPRESS)
    g.add_argument(
        "--max-record-bytes",
        type=positive(int),
        default=MAX_RECORD_BYTES,
        help="largest record payload read, in bytes; larger records are dropped (default: %(default)s)",
    )
    g.add_argument("--languages", default="en", help="comma-separated ISO 639-1 codes to keep (default: en)")
    g.add_argument("--min-language-score", type=float, default=0.5)
    g.add_argument(
        "--lid-high-accuracy", action="store_true", help="lingua's high-accuracy mode (slower, loads ~1 GB of models)"
    )
    p.set_defaults(func=run)


def input_locations(args: argparse.Namespace, seed: int) -> list[str]:
    locations = list(args.warc)
    if args.paths_file:
        listed = read_paths_file(args.paths_file, args.base_url)
        if args.max_files is not None and len(listed) > args.max_files:
            listed = sorted(random.Random(seed).sample(listed, args.max_files))
        locations += listed
    if not locations:
        raise SystemExit("no input: pass --warc files/URLs or --paths-file")
    return [x if is_url(x) else str(Path(x).resolve()) for x in locations]


def extract_pipeline(args: argparse.Namespace, options: PipelineOptions, locations: list[str]) -> AreaPipeline:
    """The WARC reader, the language and Gopher filters before exact dedup, and what the manifest says."""
    settings = WarcSettings(
        options.date_range, args.extractor, args.extract_timeout, args.extract_batch, args.max_record_bytes
    )
    languages = [x.strip() for x in args.languages.split(",") if x.strip()]
    return AreaPipeline(
        area=AREA,
        reader=lambda f: [
            WarcReader(
                locations, settings, details_folder=str(f / "details"), exclusion_writer=dropped_writer(f, "extract")
            )
        ],
        reader_params={
            "inputs": len(locations),
            "inputs_fingerprint": fingerprint(locations),
            **options.date_range.to_json(),
            "extractor": args.extractor,
            "max_record_bytes": args.max_record_bytes,
        },
        early_filters=lambda f: [
            LinguaLanguageFilter(
                languages,
                args.min_language_score,
                args.lid_high_accuracy,
                exclusion_writer=dropped_writer(f, "language"),
            ),
            gopher_filters("quality", dropped_writer(f, "quality")),
        ],
        early_params={
            "languages": languages,
            "min_language_score": args.min_language_score,
            "lid_high_accuracy": args.lid_high_accuracy,
            "identifier": "lingua",
            "quality": "datatrove GopherRepetitionFilter + GopherQualityFilter, defaults",
        },
        normalize_whitespace=True,
        manifest_extra={"inputs": locations[:1000]},
    )


def run(args: argparse.Namespace) -> int:
    options = pipeline_options(args, AREA)
    locations = input_locations(args, options.seed)
    run_area(extract_pipeline(args, options, locations), options)
    return 0
