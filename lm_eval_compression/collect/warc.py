"""Common Crawl WARC/WET files (local or over HTTP(S)) as documents: the ``extract`` step of ``cc``.

HTML ``response`` records go through the main-text extractor in batches; WET ``conversion`` records are
plain text already.  Records outside the date range, responses that are not HTTP 200 or not HTML are
dropped with a reason; a file that cannot be read is recorded (``failed_files``) and the others go on.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

from datatrove.data import Document
from datatrove.io import get_datafolder

from .dates import DateRange, iso, parse_date
from .html_text import EXTRACT_FAILURES, html_decode, make_extractor
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


class WarcReader(StepSource):
    def __init__(
        self,
        locations: list[str],
        date_range: DateRange,
        extractor: str = "trafilatura",
        timeout: float = 5.0,
        batch: int = 1000,
        details_folder: str | None = None,
        name: str = "extract",
        exclusion_writer=None,
    ):
        super().__init__(name, exclusion_writer)
        self.locations = locations
        self.date_range = date_range
        self.extractor_name = extractor
        self.timeout = timeout
        self.batch = batch
        self.details_folder = details_folder

    def records(self, location: str, li: int):
        """Documents of one file: HTML (``metadata['html']`` true) or plain text."""
        from warcio.archiveiterator import ArchiveIterator

        name = location.rsplit("/", 1)[-1]
        with open_location(location) as stream:
            for ri, record in enumerate(ArchiveIterator(stream)):
                if record.rec_type not in ("response", "conversion"):
                    continue
                headers = record.rec_headers
                date = headers.get_header("WARC-Date")
                meta = {
                    "source": "commoncrawl",
                    "url": headers.get_header("WARC-Target-URI"),
                    "date": iso(parse_date(date)) if date else None,
                    "license": "unknown",
                    "terms": CC_TERMS,
                    "warc_file": name,
                    "record_id": headers.get_header("WARC-Record-ID"),
                    ORDER_KEY: [li, ri],
                }
                doc_id = meta["record_id"] or f"{name}:{meta['url']}"
                html = record.rec_type == "response"
                if html:
                    http = record.http_headers
                    status = http.get_statuscode() if http else None
                    ctype = (
                        headers.get_header("WARC-Identified-Payload-Type")
                        or (http.get_header("Content-Type") if http else "")
                        or ""
                    ).lower()
                    if status != "200":
                        self.drop("http_status", Document(text="", id=doc_id, metadata={**meta, "status": status}))
                        continue
                    if not any(t in ctype for t in HTML_TYPES):
                        self.drop("not_html", Document(text="", id=doc_id, metadata={**meta, "content_type": ctype}))
                        continue
                if meta["date"] not in self.date_range:
                    self.drop("out_of_date_range", Document(text="", id=doc_id, metadata=meta))
                    continue
                data = record.content_stream().read()
                text = html_decode(data) if html else data.decode("utf-8", errors="replace")
                yield Document(text=text, id=doc_id, metadata={**meta, "html": html})

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
        extractor = make_extractor(self.extractor_name, self.timeout)
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
                        if len(pending) >= self.batch:
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
