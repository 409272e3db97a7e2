"""English web pages from a Common Crawl dump newer than a cut-off (the ``cc`` corpus).

Steps (each resumable, in ``<work>``):

``extract``   reads WARC files (HTML ``response`` records) or WET files (plain-text ``conversion``
              records), local or over HTTP(S), with ``warcio``; keeps records whose ``WARC-Date`` is in
              ``[--after, --before)``; extracts the main text of HTML with trafilatura through
              datatrove's extractor (a sandboxed process with a per-page timeout) or resiliparse.
``language``  keeps English pages (lingua, offline, all languages as candidates).
``quality``   datatrove's Gopher repetition and quality filters (English word tokenizer from spaCy,
              no download needed).
then exact and MinHash near-dedup, optional decontamination and sampling to ``--target-chars``.
"""

from __future__ import annotations

import argparse
import gzip
import random
import sys
from pathlib import Path

from datatrove.data import Document
from datatrove.pipeline.extractors.base import BaseExtractor
from datatrove.pipeline.filters.base_filter import BaseFilter

from .common import (
    DateRange,
    StepContext,
    Steps,
    add_common_args,
    date_range_of,
    fingerprint,
    finish,
    iso,
    parse_date,
    progress,
    work_dir,
)
from .dedup import ExactDedupFilter, MinhashDedupFilter

AREA = "cc"
CC_BASE = "https://data.commoncrawl.org/"
CC_TERMS = "https://commoncrawl.org/terms-of-use"
HTML_TYPES = ("text/html", "application/xhtml+xml")


# ---------------------------------------------------------------- reading


def is_url(location: str) -> bool:
    return location.startswith(("http://", "https://"))


def open_location(location: str):
    """A binary stream of a local file or an HTTP(S) URL (streamed, not held in memory)."""
    if is_url(location):
        import requests

        r = requests.get(location, stream=True, timeout=120,
                         headers={"User-Agent": "lm-eval-compression-collect"})
        r.raise_for_status()
        r.raw.decode_content = False  # warcio handles the per-record gzip itself
        return r.raw
    return open(location, "rb")


def read_paths_file(location: str, base_url: str) -> list[str]:
    """A Common Crawl ``warc.paths.gz``/``wet.paths.gz`` listing -> full URLs (local paths stay)."""
    with open_location(location) as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    out = []
    for line in data.decode("utf-8").splitlines():
        line = line.strip()
        if line:
            out.append(line if is_url(line) or Path(line).exists() else base_url.rstrip("/") + "/" + line)
    return out


def html_decode(data: bytes) -> str:
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding

    return bytes_to_str(data, detect_encoding(data))


def iter_records(ctx: StepContext, location: str, date_range: DateRange):
    """Documents of one WARC/WET file: HTML (``metadata['html']`` true) or plain text.

    Other record types (request, metadata, warcinfo) are no documents; responses that are not HTML or
    not HTTP 200, and records outside the date range, are dropped with a reason.
    """
    from warcio.archiveiterator import ArchiveIterator

    name = location.rsplit("/", 1)[-1]
    with open_location(location) as stream:
        for record in ArchiveIterator(stream):
            if record.rec_type not in ("response", "conversion"):
                continue
            headers = record.rec_headers
            date = headers.get_header("WARC-Date")
            meta = {"source": "commoncrawl", "url": headers.get_header("WARC-Target-URI"),
                    "date": iso(parse_date(date)) if date else None, "license": "unknown",
                    "terms": CC_TERMS, "warc_file": name, "record_id": headers.get_header("WARC-Record-ID")}
            doc_id = meta["record_id"] or f"{name}:{meta['url']}"
            if record.rec_type == "response":
                http = record.http_headers
                status = http.get_statuscode() if http else None
                ctype = (headers.get_header("WARC-Identified-Payload-Type")
                         or (http.get_header("Content-Type") if http else "") or "").lower()
                if status != "200":
                    ctx.drop("http_status", Document(text="", id=doc_id, metadata={**meta, "status": status}))
                    continue
                if not any(t in ctype for t in HTML_TYPES):
                    ctx.drop("not_html", Document(text="", id=doc_id, metadata={**meta, "content_type": ctype}))
                    continue
                html = True
            else:
                html = False
            if meta["date"] not in date_range:
                ctx.drop("out_of_date_range", Document(text="", id=doc_id, metadata=meta))
                continue
            data = record.content_stream().read()
            text = html_decode(data) if html else data.decode("utf-8", errors="replace")
            yield Document(text=text, id=doc_id, metadata={**meta, "html": html})


class ResiliparseExtractor(BaseExtractor):
    """Main-content text with resiliparse (much faster than trafilatura, a little less precise)."""

    name = "resiliparse"

    def __init__(self, timeout: float = 5):
        super().__init__(timeout)

    def extract(self, text: str) -> str:
        from resiliparse.extract.html2text import extract_plain_text

        return extract_plain_text(text, preserve_formatting=True, main_content=True, alt_texts=False,
                                  list_bullets=True, comments=False)


def make_extractor(name: str, timeout: float) -> BaseExtractor:
    if name == "resiliparse":
        return ResiliparseExtractor(timeout)
    import trafilatura  # noqa: F401  (imported before the sandbox forks, so its start is quick)
    from datatrove.pipeline.extractors import Trafilatura

    return Trafilatura(favour_precision=True, timeout=timeout)


_EXTRACT_STATS = {"timeout": "extract_timeout", "broken_process": "extract_crash", "clean_error": "extract_error",
                  "dropped": "extract_empty"}


def extract_pages(ctx: StepContext, locations: list[str], date_range: DateRange, extractor_name: str,
                  timeout: float, batch: int, show_progress: bool) -> None:
    """HTML goes through the extractor in batches (one sandbox process per batch); WET text passes."""
    extractor = make_extractor(extractor_name, timeout)
    failed_files = {}
    bar = progress(desc="extract", unit="record", enabled=show_progress)

    def flush(pending: list[Document]) -> None:
        before = {k: extractor.stats[k].total for k in _EXTRACT_STATS}
        kept_before = ctx.out_docs
        for doc in extractor.run(iter(pending)):
            doc.text = doc.text.strip()
            doc.metadata.pop("html", None)
            ctx.keep(doc)
        lost = len(pending) - (ctx.out_docs - kept_before)
        for key, reason in _EXTRACT_STATS.items():
            n = int(extractor.stats[key].total - before[key])
            if n:
                ctx.drop(reason, count=n)
                lost -= n
        if lost:
            ctx.drop("extract_failed", count=lost)

    for location in locations:
        pending: list[Document] = []
        try:
            for doc in iter_records(ctx, location, date_range):
                bar.update(1)
                if doc.metadata.get("html"):
                    pending.append(doc)
                    if len(pending) >= batch:
                        flush(pending)
                        pending = []
                else:
                    doc.metadata.pop("html", None)
                    doc.text = doc.text.strip()
                    if doc.text:
                        ctx.keep(doc)
                    else:
                        ctx.drop("extract_empty", doc)
        except Exception as e:  # a broken or unreachable file is recorded; the others go on
            failed_files[location] = f"{type(e).__name__}: {e}"[:300]
            print(f"[collect] extract: {location}: {failed_files[location]}", file=sys.stderr)
        if pending:
            flush(pending)
    bar.close()
    ctx.extra["files"] = len(locations)
    ctx.extra["failed_files"] = failed_files


# ---------------------------------------------------------------- filters


class LinguaLanguageFilter(BaseFilter):
    """Keeps documents whose most likely language (lingua, all languages as candidates) is one of
    ``languages`` with confidence at least ``min_score``.  Offline: lingua ships its models.  Low-accuracy
    mode (trigram models only, loaded in well under a second) is reliable on page-length text."""

    name = "lingua language id"

    def __init__(self, languages=("en",), min_score: float = 0.5, high_accuracy: bool = False,
                 max_chars: int = 10_000):
        super().__init__()
        self.languages = {x.lower() for x in languages}
        self.min_score = min_score
        self.high_accuracy = high_accuracy
        self.max_chars = max_chars
        self._detector = None

    @property
    def detector(self):
        if self._detector is None:
            from lingua import LanguageDetectorBuilder

            builder = LanguageDetectorBuilder.from_all_languages()
            if not self.high_accuracy:
                builder = builder.with_low_accuracy_mode()
            self._detector = builder.build()
        return self._detector

    def filter(self, doc: Document):
        values = self.detector.compute_language_confidence_values(doc.text[: self.max_chars])
        if not values:
            return False, "unknown_language"
        top = values[0]
        lang = top.language.iso_code_639_1.name.lower()
        doc.metadata["language"] = lang
        doc.metadata["language_score"] = round(float(top.value), 4)
        if lang not in self.languages:
            return False, "other_language"
        if top.value < self.min_score:
            return False, "low_language_score"
        return True


def quality_filters() -> list[BaseFilter]:
    from datatrove.pipeline.filters import GopherQualityFilter, GopherRepetitionFilter

    return [GopherRepetitionFilter(), GopherQualityFilter()]


# ---------------------------------------------------------------- command line

STEPS = ("extract", "all")


def add_parser(sub) -> None:
    p = sub.add_parser("cc", help="English web pages from Common Crawl WARC/WET files after a cut-off",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("step", choices=STEPS, help="extract | all (the same: extraction and every later step)")
    add_common_args(p)
    g = p.add_argument_group("input")
    g.add_argument("--warc", nargs="+", default=[], metavar="PATH_OR_URL", help="WARC or WET files (.warc[.gz])")
    g.add_argument("--paths-file", default=None,
                   help="a Common Crawl warc.paths.gz / wet.paths.gz listing (local or URL)")
    g.add_argument("--base-url", default=CC_BASE, help="prefix of the listing's paths (default: %(default)s)")
    g.add_argument("--max-files", type=int, default=None, help="seeded random sample of this many listed files")
    g = p.add_argument_group("extract and filter")
    g.add_argument("--extractor", choices=("trafilatura", "resiliparse"), default="trafilatura")
    g.add_argument("--extract-timeout", type=float, default=5.0, help="seconds per page (default: %(default)s)")
    g.add_argument("--extract-batch", type=int, default=1000, help=argparse.SUPPRESS)
    g.add_argument("--languages", default="en", help="comma-separated ISO 639-1 codes to keep (default: en)")
    g.add_argument("--min-language-score", type=float, default=0.5)
    g.add_argument("--lid-high-accuracy", action="store_true",
                   help="lingua's high-accuracy mode (slower, loads ~1 GB of models)")
    p.set_defaults(func=run)


def run(args) -> int:
    work = work_dir(args, AREA)
    steps = Steps(work, force=args.force, show_progress=not args.no_progress)
    date_range = date_range_of(args)
    locations = list(args.warc)
    if args.paths_file:
        listed = read_paths_file(args.paths_file, args.base_url)
        if args.max_files is not None and len(listed) > args.max_files:
            listed = sorted(random.Random(args.seed).sample(listed, args.max_files))
        locations += listed
    if not locations:
        raise SystemExit("no input: pass --warc files/URLs or --paths-file")
    locations = [str(Path(x).resolve()) if not is_url(x) else x for x in locations]

    src = steps.run_docs(
        "extract",
        lambda ctx: extract_pages(ctx, locations, date_range, args.extractor, args.extract_timeout,
                                  args.extract_batch, not args.no_progress),
        {"inputs": len(locations), "inputs_fingerprint": fingerprint(locations), **date_range.to_json(),
         "extractor": args.extractor})
    languages = [x.strip() for x in args.languages.split(",") if x.strip()]
    stages = [
        ("language", lambda: [LinguaLanguageFilter(languages, args.min_language_score, args.lid_high_accuracy)],
         {"languages": languages, "min_score": args.min_language_score, "high_accuracy": args.lid_high_accuracy,
          "identifier": "lingua"}),
        ("quality", quality_filters, {"filters": ["datatrove GopherRepetitionFilter", "datatrove GopherQualityFilter"],
                                      "settings": "datatrove defaults"}),
        ("exact_dedup", lambda: [ExactDedupFilter(normalize_whitespace=True)], {"normalize_whitespace": True}),
        ("near_dedup", lambda: [MinhashDedupFilter(args.near_dup_threshold, args.num_perm, 5, "words")],
         {"threshold": args.near_dup_threshold, "num_perm": args.num_perm, "shingle": "5 words"}),
    ]
    finish(AREA, args, steps, src, stages, date_range, extra_manifest={"inputs": locations[:1000]})
    return 0

