"""arXiv: the OAI-PMH listing of papers (``ListRecords``, arXiv metadata format) and source downloads
from the e-print service, at arXiv's requested pace."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from .dates import DateRange, iso, parse_date
from .files import AtomicWriter, json_line
from .limits import MAX_SOURCE_BYTES, READ_CHUNK, LimitExceeded
from .network import PoliteSession
from .sources import source_name

OAI_URL = "https://oaipmh.arxiv.org/oai"
EPRINT_URL = "https://arxiv.org/e-print"
ARXIV_DELAY = 3.0  # seconds between requests, as arXiv asks


@dataclass(frozen=True)
class ListOptions:
    """The OAI-PMH harvest: endpoint, set, the primary-category prefix kept, pace."""

    oai_url: str = OAI_URL
    set_spec: str = "math"
    category_prefix: str = "math."
    delay: float = ARXIV_DELAY
    progress: bool = True


@dataclass(frozen=True)
class DownloadOptions:
    """The e-print downloads: base URL, pace, and the largest source file taken."""

    eprint_url: str = EPRINT_URL
    delay: float = ARXIV_DELAY
    max_source_bytes: int = MAX_SOURCE_BYTES
    progress: bool = True


NS = {"oai": "http://www.openarchives.org/OAI/2.0/", "arxiv": "http://arxiv.org/OAI/arXiv/"}


def _text(elem, path: str) -> str | None:
    found = elem.find(path, NS)
    return " ".join(found.text.split()) if found is not None and found.text else None


def oai_records(
    client: PoliteSession,
    base_url: str,
    set_spec: str,
    from_date: str | None,
    until: str | None = None,
    show_progress: bool = True,
):
    """Records of ``ListRecords`` in the arXiv metadata format, following resumption tokens."""
    params = {"verb": "ListRecords", "metadataPrefix": "arXiv", "set": set_spec}
    if from_date:
        params["from"] = from_date
    if until:
        params["until"] = until
    bar = tqdm(desc="list", unit="record", disable=not show_progress)
    while True:
        r = client.get(base_url, params=params)
        r.raise_for_status()
        root = ET.fromstring(r.content)
        error = root.find("oai:error", NS)
        if error is not None:
            if error.get("code") == "noRecordsMatch":
                break
            raise RuntimeError(f"OAI-PMH error {error.get('code')}: {error.text}")
        for rec in root.iterfind("oai:ListRecords/oai:record", NS):
            bar.update(1)
            header = rec.find("oai:header", NS)
            if header is not None and header.get("status") == "deleted":
                yield {"deleted": True}
                continue
            meta = rec.find("oai:metadata/arxiv:arXiv", NS)
            if meta is None:
                continue
            categories = (_text(meta, "arxiv:categories") or "").split()
            yield {
                "id": _text(meta, "arxiv:id"),
                "primary_category": categories[0] if categories else None,  # arXiv lists the primary first
                "categories": categories,
                "created": _text(meta, "arxiv:created"),
                "updated": _text(meta, "arxiv:updated"),
                "license": _text(meta, "arxiv:license"),
                "title": _text(meta, "arxiv:title"),
            }
        token = root.find("oai:ListRecords/oai:resumptionToken", NS)
        if token is not None and token.get("completeListSize", "").isdigit():
            bar.total = int(token.get("completeListSize"))
        if token is None or not (token.text or "").strip():
            break
        params = {"verb": "ListRecords", "resumptionToken": token.text.strip()}
    bar.close()


def list_papers(options: ListOptions, date_range: DateRange, out_path: Path) -> dict:
    """Papers of the listing whose primary category and first version are wanted, into ``out_path``."""
    client = PoliteSession(options.delay)
    kept, reasons = 0, {}
    # OAI datestamps are last-modified dates, never earlier than the first submission: from=--after
    # finds every paper first submitted since, and "created" then decides.
    from_date = date_range.after.strftime("%Y-%m-%d") if date_range.after else None
    with AtomicWriter(out_path) as f:
        for rec in oai_records(client, options.oai_url, options.set_spec, from_date, show_progress=options.progress):
            if rec.get("deleted"):
                reason = "deleted"
            elif not (rec["primary_category"] or "").startswith(options.category_prefix):
                reason = "other_primary_category"
            elif rec["created"] not in date_range:
                reason = "out_of_date_range"
            else:
                rec["created"] = iso(parse_date(rec["created"]))
                f.write(json_line(rec))
                kept += 1
                continue
            reasons[reason] = reasons.get(reason, 0) + 1
    return {
        "records": kept + sum(reasons.values()),
        "papers": kept,
        "dropped": reasons,
        "requests": client.requests,
        "output": str(out_path),
    }


def fetch_file(client: PoliteSession, url: str, dest: Path, max_bytes: int) -> str | None:
    """Stream ``url`` into ``dest`` (through a ``.partial`` file, never more than ``max_bytes``); returns
    None, or why there is no file (``HTTP 404``, ``too_large: ...``, a network error)."""
    tmp = dest.with_name(dest.name + ".partial")
    try:
        with client.get(url, stream=True) as r:
            if r.status_code != 200:
                return f"HTTP {r.status_code}"
            declared = r.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                return f"too_large: {declared} bytes, over {max_bytes}"
            size = 0
            with open(tmp, "wb") as f:
                for chunk in r.iter_content(READ_CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise LimitExceeded("too_large", f"over {max_bytes} bytes")
                    f.write(chunk)
    except LimitExceeded as e:
        tmp.unlink(missing_ok=True)
        return str(e)
    except Exception as e:  # network errors are recorded, the next paper is tried
        tmp.unlink(missing_ok=True)
        return f"{type(e).__name__}: {e}"[:200]
    tmp.replace(dest)
    return None


def download_sources(papers: list[dict], sources: Path, options: DownloadOptions) -> dict:
    """Each paper's source from ``<eprint_url>/<id>`` into ``sources``; papers already there are kept."""
    sources.mkdir(parents=True, exist_ok=True)
    client = PoliteSession(options.delay)
    done = there = 0
    failed = {}
    for paper in tqdm(papers, desc="download", unit="paper", disable=not options.progress):
        name = source_name(paper["id"])
        if name is None:
            failed[paper["id"]] = "bad_id"
            continue
        dest = sources / name
        if dest.exists():
            there += 1
            continue
        error = fetch_file(client, f"{options.eprint_url.rstrip('/')}/{paper['id']}", dest, options.max_source_bytes)
        if error is None:
            done += 1
        else:
            failed[paper["id"]] = error
    return {
        "papers": len(papers),
        "downloaded": done,
        "already_there": there,
        "failed": len(failed),
        "failures": dict(list(failed.items())[:50]),
        "requests": client.requests,
        "changed": done > 0,
    }
