"""Common Crawl WARC/WET files (local or over HTTP(S)) as documents: the ``extract`` step of ``cc``.

HTML ``response`` records go through the main-text extractor in batches; WET ``conversion`` records are
plain text already.  Records outside the date range, responses that are not HTTP 200 or not HTML are
dropped with a reason; a file that cannot be read is recorded (``failed_files``) and the others go on.
"""

from __future__ import annotations

import gzip
import io
import json
import sys
from dataclasses import dataclass
from urllib.parse import urlsplit

from datatrove.data import Document
from datatrove.io import get_datafolder

from .dates import DateRange, iso, parse_date
from .html_text import EXTRACT_FAILURES, html_decode, make_extractor
from .limits import MAX_LISTING_BYTES, MAX_RECORD_BYTES, LimitExceeded, read_capped
from .network import session
from .steps import ORDER_KEY, StepSource

CC_BASE = "https://data.commoncrawl.org/"
CC_TERMS = "https://commoncrawl.org/terms-of-use"
HTML_TYPES = ("text/html", "application/xhtml+xml")


def is_url(location: str) -> bool:
    return location.startswith(("http://", "https://"))


def open_location(location: str):
    """A binary stream of a local file or an HTTP(S) URL (streamed, with retries on connecting)."""
    if is_url(location):
        r = session().get(location, stream=True, timeout=120)
        r.raise_for_status()
        r.raw.decode_content = False  # warcio handles the per-record gzip itself
        return r.raw
    return open(location, "rb")


def _listing_bytes(location: str) -> bytes:
    """The listing's text as bytes, gunzipped, at most MAX_LISTING_BYTES either way."""
    try:
        with open_location(location) as f:
            data = read_capped(f, MAX_LISTING_BYTES, "too_large")
        if data[:2] == b"\x1f\x8b":
            data = read_capped(gzip.GzipFile(fileobj=io.BytesIO(data)), MAX_LISTING_BYTES, "too_large")
    except LimitExceeded as e:
        raise SystemExit(f"--paths-file {location}: {e}: not a paths listing") from None
    return data


def read_paths_file(location: str, base_url: str) -> list[str]:
    """A Common Crawl ``warc.paths.gz``/``wet.paths.gz`` listing -> full URLs.

    Its lines are paths under ``base_url``; a line that is a URL must have the listing's own scheme (that
    of a listing fetched over HTTP(S), else of ``base_url``).  A line is never read as a local file."""
    scheme = urlsplit(location if is_url(location) else base_url).scheme
    out = []
    for number, line in enumerate(_listing_bytes(location).decode("utf-8").splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        if "://" in line:
            if urlsplit(line).scheme != scheme:
                raise SystemExit(f"--paths-file {location}, line {number}: {line!r} is not a {scheme} URL")
            out.append(line)
        else:
            out.append(base_url.rstrip("/") + "/" + line.lstrip("/"))
    return out


@dataclass(frozen=True)
class WarcSettings:
    """How records become documents: the date range, the HTML extractor, its per-page timeout and batch
    size, and the largest record payload read."""

    date_range: DateRange
    extractor: str = "trafilatura"
    timeout: float = 5.0
    batch: int = 1000
    max_record_bytes: int = MAX_RECORD_BYTES


def _record_meta(headers, name: str, li: int, ri: int) -> dict:
    date = headers.get_header("WARC-Date")
    return {
        "source": "commoncrawl",
        "url": headers.get_header("WARC-Target-URI"),
        "date": iso(parse_date(date)) if date else None,
        "license": "unknown",
        "terms": CC_TERMS,
        "warc_file": name,
        "record_id": headers.get_header("WARC-Record-ID"),
        ORDER_KEY: [li, ri],
    }


def _http_problem(record) -> tuple[str, dict] | None:
    """Why a ``response`` record is no HTML page (reason and what it says), or None."""
    http = record.http_headers
    status = http.get_statuscode() if http else None
    ctype = (
        record.rec_headers.get_header("WARC-Identified-Payload-Type")
        or (http.get_header("Content-Type") if http else "")
        or ""
    ).lower()
    if status != "200":
        return "http_status", {"status": status}
    if not any(t in ctype for t in HTML_TYPES):
        return "not_html", {"content_type": ctype}
    return None


class WarcReader(StepSource):
    def __init__(
        self,
        locations: list[str],
        settings: WarcSettings,
        details_folder: str | None = None,
        name: str = "extract",
        exclusion_writer=None,
    ):
        super().__init__(name, exclusion_writer)
        self.locations = locations
        self.settings = settings
        self.details_folder = details_folder

    def _record_doc(self, record, meta: dict) -> Document | None:
        """The record as a document (``metadata['html']`` true for a page to extract), or None if dropped."""
        doc_id = meta["record_id"] or f"{meta['warc_file']}:{meta['url']}"
        html = record.rec_type == "response"
        problem = _http_problem(record) if html else None
        if problem is not None:
            self.drop(problem[0], Document(text="", id=doc_id, metadata={**meta, **problem[1]}))
            return None
        if meta["date"] not in self.settings.date_range:
            self.drop("out_of_date_range", Document(text="", id=doc_id, metadata=meta))
            return None
        limit = self.settings.max_record_bytes
        data = record.content_stream().read(limit + 1)
        if len(data) > limit:
            self.drop("too_large_record", Document(text="", id=doc_id, metadata={**meta, "max_bytes": limit}))
            return None
        text = html_decode(data) if html else data.decode("utf-8", errors="replace")
        return Document(text=text, id=doc_id, metadata={**meta, "html": html})

    def records(self, location: str, li: int):
        """Documents of one file: HTML (``metadata['html']`` true) or plain text."""
        from warcio.archiveiterator import ArchiveIterator

        name = location.rsplit("/", 1)[-1]
        with open_location(location) as stream:
            for ri, record in enumerate(ArchiveIterator(stream)):
                if record.rec_type not in ("response", "conversion"):
                    continue
                doc = self._record_doc(record, _record_meta(record.rec_headers, name, li, ri))
                if doc is not None:
                    yield doc

    def extracted(self, extractor, pending: list[Document]):
        """Main text of a batch of HTML pages (one sandbox process per batch); losses counted by reason."""
        before = {k: extractor.stats[k].total for k in EXTRACT_FAILURES}
        kept = 0
        for doc in extractor.run(iter(pending)):
            doc.text = doc.text.strip()
            doc.metadata.pop("html", None)
            kept += 1
            yield doc
        lost = len(pending) - kept
        for key, reason in EXTRACT_FAILURES.items():
            n = int(extractor.stats[key].total - before[key])
            if n:
                self.drop(reason, count=n)
                lost -= n
        if lost:
            self.drop("extract_failed", count=lost)

    def produce(self, rank: int, world_size: int):
        extractor = make_extractor(self.settings.extractor, self.settings.timeout)
        failed = {}
        for li, location in enumerate(self.locations):
            if li % world_size != rank:
                continue
            self.stat_update("files")
            pending: list[Document] = []
            try:
                for doc in self.records(location, li):
                    if doc.metadata.get("html"):
                        pending.append(doc)
                        if len(pending) >= self.settings.batch:
                            yield from self.extracted(extractor, pending)
                            pending = []
                        continue
                    doc.metadata.pop("html", None)
                    doc.text = doc.text.strip()
                    if doc.text:
                        yield doc
                    else:
                        self.drop("extract_empty", doc)
            except Exception as e:  # a broken or unreachable file is recorded; the others go on
                failed[location] = f"{type(e).__name__}: {e}"[:300]
                print(f"[collect] extract: {location}: {failed[location]}", file=sys.stderr)
            if pending:
                yield from self.extracted(extractor, pending)
        if self.details_folder:
            with get_datafolder(self.details_folder).open(f"{rank:05d}.json", "w") as f:
                json.dump({self.name: {"failed_files": failed}}, f)
