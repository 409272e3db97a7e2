"""arXiv: the OAI-PMH listing of papers (``ListRecords``, arXiv metadata format) and source downloads
from the e-print service, at arXiv's requested pace."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from tqdm.auto import tqdm

from .dates import DateRange, iso, parse_date
from .files import AtomicWriter, json_line
from .network import PoliteSession

OAI_URL = "https://oaipmh.arxiv.org/oai"
EPRINT_URL = "https://arxiv.org/e-print"
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


def list_papers(args, date_range: DateRange, out_path: Path) -> dict:
    client = PoliteSession(args.delay)
    kept, reasons = 0, {}
    # OAI datestamps are last-modified dates, never earlier than the first submission: from=--after
    # finds every paper first submitted since, and "created" then decides.
    from_date = date_range.after.strftime("%Y-%m-%d") if date_range.after else None
    with AtomicWriter(out_path) as f:
        for rec in oai_records(client, args.oai_url, args.set, from_date, show_progress=not args.no_progress):
            if rec.get("deleted"):
                reason = "deleted"
            elif not (rec["primary_category"] or "").startswith(args.category_prefix):
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


def safe_name(arxiv_id: str) -> str:
    """Old-style ids contain a slash (``math/0601001``)."""
    return arxiv_id.replace("/", "_")


def download_sources(papers: list[dict], sources: Path, eprint_url: str, delay: float, show_progress: bool) -> dict:
    sources.mkdir(parents=True, exist_ok=True)
    client = PoliteSession(delay)
    done = there = 0
    failed = {}
    for paper in tqdm(papers, desc="download", unit="paper", disable=not show_progress):
        dest = sources / safe_name(paper["id"])
        if dest.exists():
            there += 1
            continue
        try:
            r = client.get(f"{eprint_url.rstrip('/')}/{paper['id']}")
            if r.status_code != 200:
                failed[paper["id"]] = f"HTTP {r.status_code}"
                continue
        except Exception as e:  # network errors are recorded, the next paper is tried
            failed[paper["id"]] = f"{type(e).__name__}: {e}"[:200]
            continue
        tmp = dest.with_name(dest.name + ".partial")
        tmp.write_bytes(r.content)
        tmp.replace(dest)
        done += 1
    return {
        "papers": len(papers),
        "downloaded": done,
        "already_there": there,
        "failed": len(failed),
        "failures": dict(list(failed.items())[:50]),
        "requests": client.requests,
        "changed": done > 0,
    }
