"""Mathematics papers from arXiv LaTeX sources, first submitted after a cut-off (the ``arxiv_math`` corpus).

Steps (each resumable, in ``<work>``):

``list``      arXiv's OAI-PMH interface (``ListRecords``, ``metadataPrefix=arXiv``, set ``math``): papers
              whose primary category (the first listed) starts with ``math.`` and whose first version was
              submitted in ``[--after, --before)``; writes ``papers.jsonl`` (id, categories, date, licence).
``download``  the source of every listed paper from ``<eprint-url>/<id>`` into ``<work>/sources``,
              politely (``--delay``, 3 s by default as arXiv asks) and one file at a time.
``extract``   on local sources: find the main ``.tex`` (``\\documentclass`` and ``\\begin{document}``),
              inline ``\\input``/``\\include`` recursively, drop comments, the bibliography and the
              preamble, then convert with pandoc to markdown (``--format markdown``, as the paper did) or
              keep the cleaned LaTeX (``--format latex``); then dedup, decontamination and sampling.
"""

from __future__ import annotations

import argparse
import gzip
import io
import posixpath
import random
import re
import subprocess
import sys
import tarfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from datatrove.data import Document

from .common import (
    AtomicWriter,
    DateRange,
    StepContext,
    Steps,
    add_common_args,
    date_range_of,
    fingerprint,
    finish,
    iso,
    json_line,
    parse_date,
    progress,
    read_jsonl,
    work_dir,
)
from .dedup import ExactDedupFilter, MinhashDedupFilter

AREA = "arxiv_math"
OAI_URL = "https://oaipmh.arxiv.org/oai"
EPRINT_URL = "https://arxiv.org/e-print"
NS = {"oai": "http://www.openarchives.org/OAI/2.0/", "arxiv": "http://arxiv.org/OAI/arXiv/"}
TEX_SUFFIXES = (".tex", ".ltx", ".bbl")
MAX_MEMBER_BYTES = 20_000_000


# ---------------------------------------------------------------- list


class Polite:
    """A requests session that waits ``delay`` seconds between calls and honours 503/429 Retry-After."""

    def __init__(self, delay: float = 3.0, max_wait: float = 600.0):
        import requests

        self.session = requests.Session()
        self.session.headers["User-Agent"] = "lm-eval-compression-collect (corpus for compression evaluation)"
        self.delay = delay
        self.max_wait = max_wait
        self._last = 0.0
        self.requests = 0

    def get(self, url: str, **kwargs):
        for attempt in range(8):
            wait = self.delay - (time.monotonic() - self._last)
            if wait > 0:
                time.sleep(wait)
            self._last = time.monotonic()
            r = self.session.get(url, timeout=120, **kwargs)
            self.requests += 1
            if r.status_code in (429, 503) or r.status_code >= 500:
                pause = r.headers.get("Retry-After")
                pause = float(pause) if pause and pause.isdigit() else min(2 ** attempt * 5, self.max_wait)
                print(f"[collect] {r.status_code} from {url}, retrying in {pause:.0f}s", file=sys.stderr)
                time.sleep(min(pause, self.max_wait))
                continue
            return r
        raise RuntimeError(f"{url} kept failing")


def _text(elem, path: str) -> str | None:
    found = elem.find(path, NS)
    return " ".join(found.text.split()) if found is not None and found.text else None


def oai_records(client: Polite, base_url: str, set_spec: str, from_date: str | None, until: str | None = None,
                show_progress: bool = True):
    """Records of ``ListRecords`` in the arXiv metadata format, following resumption tokens."""
    params = {"verb": "ListRecords", "metadataPrefix": "arXiv", "set": set_spec}
    if from_date:
        params["from"] = from_date
    if until:
        params["until"] = until
    bar = progress(desc="list", unit="record", enabled=show_progress)
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
    client = Polite(args.delay)
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
    return {"records": kept + sum(reasons.values()), "papers": kept, "dropped": reasons,
            "requests": client.requests, "output": str(out_path)}


# ---------------------------------------------------------------- download


def safe_name(arxiv_id: str) -> str:
    """Old-style ids contain a slash (``math/0601001``)."""
    return arxiv_id.replace("/", "_")


def download_sources(papers: list[dict], sources: Path, eprint_url: str, delay: float, show_progress: bool) -> dict:
    sources.mkdir(parents=True, exist_ok=True)
    client = Polite(delay)
    done = there = 0
    failed = {}
    for paper in progress(papers, desc="download", unit="paper", enabled=show_progress):
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
    return {"papers": len(papers), "downloaded": done, "already_there": there, "failed": len(failed),
            "failures": dict(list(failed.items())[:50]), "requests": client.requests, "changed": done > 0}


# ---------------------------------------------------------------- LaTeX


def read_source(path: Path) -> dict[str, bytes] | str:
    """The TeX files of an arXiv source (gzipped tar, gzipped single file, or plain); a string is the
    reason it has none (``pdf_only``, ``bad_archive``)."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError):
            return "bad_archive"
    if raw[:5] == b"%PDF-":
        return "pdf_only"
    bio = io.BytesIO(raw)
    if len(raw) >= 512 and tarfile.is_tarfile(bio):
        files = {}
        try:
            with tarfile.open(fileobj=io.BytesIO(raw)) as tf:
                for m in tf.getmembers():
                    name = posixpath.normpath(m.name.lstrip("/"))
                    if m.isfile() and m.size <= MAX_MEMBER_BYTES and name.lower().endswith(TEX_SUFFIXES):
                        files[name] = tf.extractfile(m).read()
        except (tarfile.TarError, OSError, EOFError):
            return "bad_archive"
        return files
    return {"main.tex": raw}


def decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


_COMMENT = re.compile(r"(?<!\\)(?:\\\\)*%")
_VERB_BEGIN = re.compile(r"\\begin\{(verbatim\*?|Verbatim|lstlisting|minted)\}")


def strip_comments(tex: str) -> str:
    """Remove ``%`` comments as TeX reads them: the comment, its line end and the next line's leading
    blanks go, so a whole-line comment leaves no blank line behind; ``\\%`` and verbatim stay."""
    out: list[str] = []
    join = False
    verb_end = None
    for line in tex.split("\n"):
        if verb_end:
            out.append(line)
            if verb_end in line:
                verb_end = None
            join = False
            continue
        if join:
            line = line.lstrip(" \t")
        m = _COMMENT.search(line)
        if m:
            line = line[: m.end() - 1]
        if join and out:
            out[-1] += line
        else:
            out.append(line)
        join = m is not None
        v = _VERB_BEGIN.search(line)
        if v and f"\\end{{{v.group(1)}}}" not in line[v.end():]:
            verb_end = f"\\end{{{v.group(1)}}}"
    tex = "\n".join(out)
    tex = re.sub(r"\\begin\{comment\}.*?\\end\{comment\}", "", tex, flags=re.S)
    tex = re.sub(r"\\iffalse\b.*?\\fi\b", "", tex, flags=re.S)
    return tex


_INPUT = re.compile(
    r"\\(?:input|include|subfile)(?![a-zA-Z@])\s*\{([^}]*)\}"      # \input{file}
    r"|\\input(?![a-zA-Z@])[ \t]+([^\s{}\\]+)"                      # \input file
    r"|\\(?:sub)?import(?![a-zA-Z@])\s*\{([^}]*)\}\s*\{([^}]*)\}"  # \import{dir}{file}
)


def find_main(files: dict[str, str]) -> str | None:
    """The root file: has ``\\documentclass`` and ``\\begin{document}``; ties go to the usual names,
    then to the longest file."""
    def score(name: str) -> tuple:
        text = files[name]
        return ("\\documentclass" in text or "\\documentstyle" in text, "\\begin{document}" in text,
                posixpath.basename(name).lower() in ("main.tex", "ms.tex", "paper.tex", "article.tex"),
                len(text))

    candidates = [n for n in files if n.lower().endswith((".tex", ".ltx"))
                  and ("\\begin{document}" in files[n] or "\\documentclass" in files[n])]
    return max(candidates, key=score) if candidates else None


def inline_inputs(name: str, files: dict[str, str], unresolved: list[str], depth: int = 0,
                  stack: tuple = ()) -> str:
    """The text of ``name`` with ``\\input``/``\\include``/``\\subfile``/``\\import`` replaced by the
    (comment-free) files they name, recursively; names not in the archive are recorded and dropped."""
    base = posixpath.dirname(stack[0]) if stack else posixpath.dirname(name)
    text = files[name]

    def resolve(target: str, folder: str = "") -> str | None:
        target = target.strip().strip('"')
        for root in (base, ""):
            for cand in (target, target + ".tex"):
                path = posixpath.normpath(posixpath.join(root, folder, cand))
                if path in files:
                    return path
        return None

    def repl(m: re.Match) -> str:
        target = m.group(1) or m.group(2) or m.group(4)
        folder = m.group(3) or ""
        path = resolve(target, folder)
        if path is None or path in stack or depth > 20:
            unresolved.append(target)
            return ""
        return inline_inputs(path, files, unresolved, depth + 1, stack + (name,))

    return _INPUT.sub(repl, text)


_BIB = [
    re.compile(r"\\begin\{thebibliography\}.*?\\end\{thebibliography\}", re.S),
    re.compile(r"\\bibliography(?:style)?\s*\{[^}]*\}"),
    re.compile(r"\\printbibliography(?:\[[^\]]*\])?"),
    re.compile(r"\\addbibresource\s*\{[^}]*\}"),
]


def split_document(tex: str) -> tuple[str, str]:
    """(preamble, body): the body lies between ``\\begin{document}`` and ``\\end{document}``."""
    begin = tex.find("\\begin{document}")
    if begin < 0:
        return "", tex
    end = tex.find("\\end{document}", begin)
    body = tex[begin + len("\\begin{document}"): end if end >= 0 else len(tex)]
    return tex[:begin], body


def drop_bibliography(tex: str) -> str:
    for pattern in _BIB:
        tex = pattern.sub("", tex)
    return tex


def tidy(text: str) -> str:
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def pandoc(tex: str, to: str = "markdown", timeout: float = 120) -> str:
    """Convert LaTeX with the pandoc binary shipped by ``pypandoc-binary`` (with a time limit)."""
    import pypandoc

    proc = subprocess.run([pypandoc.get_pandoc_path(), "--from=latex", f"--to={to}", "--wrap=none"],
                          input=tex, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip()[:300])
    return proc.stdout


def latex_to_text(files: dict[str, bytes], fmt: str = "markdown", pandoc_to: str = "markdown",
                  timeout: float = 120) -> tuple[str, dict] | str:
    """Clean text of a paper from its TeX files, with details for the metadata; a string is the reason
    for having none (``no_main_tex``, ``pandoc_error``, ``pandoc_timeout``)."""
    texts = {name: strip_comments(decode(data)) for name, data in files.items()}
    main = find_main(texts)
    if main is None:
        return "no_main_tex"
    unresolved: list[str] = []
    full = inline_inputs(main, texts, unresolved)
    preamble, body = split_document(full)
    body = drop_bibliography(body)
    info = {"main_file": main, "format": fmt}
    if unresolved:
        info["unresolved_inputs"] = sorted(set(unresolved))
    if fmt == "latex":
        return tidy(body), info
    # pandoc gets the preamble too, so it can expand the paper's own macros; without --standalone it
    # writes the body only.  It would move the abstract into metadata, so make it a section.
    body = re.sub(r"\\begin\{abstract\}", r"\\section*{Abstract}", body).replace("\\end{abstract}", "")
    doc = f"{drop_bibliography(preamble)}\\begin{{document}}\n{body}\n\\end{{document}}\n"
    try:
        try:
            text = pandoc(doc, pandoc_to, timeout)
        except RuntimeError:  # an unusual preamble: try the body alone
            text = pandoc(f"\\documentclass{{article}}\n\\begin{{document}}\n{body}\n\\end{{document}}\n",
                          pandoc_to, timeout)
    except subprocess.TimeoutExpired:
        return "pandoc_timeout"
    except RuntimeError:
        return "pandoc_error"
    return tidy(text), info


def extract_papers(ctx: StepContext, papers: list[dict], sources: Path, date_range: DateRange, args) -> None:
    for paper in progress(papers, desc="extract", unit="paper", enabled=not args.no_progress):
        meta = {"source": "arxiv", "arxiv_id": paper["id"], "primary_category": paper.get("primary_category"),
                "categories": paper.get("categories"), "date": paper.get("created"),
                "license": paper.get("license"), "title": paper.get("title")}
        if meta["date"] is None and (month := id_month(paper["id"])):
            meta["date"], meta["date_source"] = month, "arxiv_id"
        doc_id = f"arxiv:{paper['id']}"
        empty = Document(text="", id=doc_id, metadata=meta)
        if meta["date"] not in date_range:
            ctx.drop("out_of_date_range" if meta["date"] else "unknown_date", empty)
            continue
        path = sources / safe_name(paper["id"])
        if not path.exists():
            ctx.drop("no_source", empty)
            continue
        files = read_source(path)
        if isinstance(files, str):
            ctx.drop(files, empty)
            continue
        result = latex_to_text(files, args.format, args.pandoc_to, args.pandoc_timeout)
        if isinstance(result, str):
            ctx.drop(result, empty)
            continue
        text, info = result
        doc = Document(text=text, id=doc_id, metadata={**meta, **info})
        if len(text.strip()) < args.min_chars:
            ctx.drop("too_short", doc)
            continue
        ctx.keep(doc)


def id_month(arxiv_id: str) -> str | None:
    """First day of the submission month encoded in a new-style id (``2310.01234`` -> 2023-10-01)."""
    m = re.match(r"(\d{2})(\d{2})\.\d{4,5}(v\d+)?$", arxiv_id)
    if not m or not 1 <= int(m.group(2)) <= 12:
        return None
    return f"20{m.group(1)}-{m.group(2)}-01T00:00:00Z"


def load_papers(papers_path: Path, sources: Path) -> list[dict]:
    """``papers.jsonl`` when there is one; otherwise every file in ``sources`` (named by id, no metadata)."""
    if papers_path.exists():
        return list(read_jsonl(papers_path))
    return [{"id": p.name.replace("_", "/")} for p in sorted(sources.iterdir())
            if p.is_file() and not p.name.endswith(".partial")]


# ---------------------------------------------------------------- command line

STEPS = ("list", "download", "extract", "all")


def add_parser(sub) -> None:
    p = sub.add_parser("arxiv_math", help="arXiv math papers (LaTeX sources) first submitted after a cut-off",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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
    g.add_argument("--format", choices=("markdown", "latex"), default="markdown",
                   help="pandoc markdown (as the paper) or cleaned LaTeX (default: %(default)s)")
    g.add_argument("--pandoc-to", default="markdown", help="pandoc output format (default: %(default)s)")
    g.add_argument("--pandoc-timeout", type=float, default=120)
    g.add_argument("--min-chars", type=int, default=200, help="drop papers shorter than this (default: %(default)s)")
    p.set_defaults(func=run)


def run(args) -> int:
    work = work_dir(args, AREA)
    steps = Steps(work, force=args.force, show_progress=not args.no_progress)
    date_range = date_range_of(args)
    papers_path = work / "papers.jsonl"
    sources = Path(args.sources) if args.sources else work / "sources"

    if args.step in ("list", "all"):
        if date_range.after is None:
            raise SystemExit("list needs --after (the cut-off date)")
        steps.run_fetch("list", lambda: list_papers(args, date_range, papers_path),
                        {"oai_url": args.oai_url, "set": args.set, "category_prefix": args.category_prefix,
                         **date_range.to_json()}, [papers_path])

    if args.step in ("download", "all"):
        if not papers_path.exists():
            raise SystemExit(f"no {papers_path}: run the list step first")
        papers = list(read_jsonl(papers_path))
        if args.max_papers is not None and len(papers) > args.max_papers:
            papers = random.Random(args.seed).sample(papers, args.max_papers)
        steps.run_fetch("download", lambda: download_sources(papers, sources, args.eprint_url, args.delay,
                                                             not args.no_progress),
                        {"eprint_url": args.eprint_url, "max_papers": args.max_papers, "seed": args.seed},
                        always=True)

    if args.step in ("extract", "all"):
        if not sources.is_dir():
            raise SystemExit(f"no sources folder {sources} (run the download step or pass --sources)")
        papers = load_papers(papers_path, sources)
        names = sorted(p.name for p in sources.iterdir())
        src = steps.run_docs(
            "extract", lambda ctx: extract_papers(ctx, papers, sources, date_range, args),
            {"sources": str(sources), "papers": len(papers), "files": fingerprint(names),
             **date_range.to_json(), "format": args.format, "pandoc_to": args.pandoc_to,
             "min_chars": args.min_chars})
        stages = [
            ("exact_dedup", lambda: [ExactDedupFilter(normalize_whitespace=True)], {"normalize_whitespace": True}),
            ("near_dedup", lambda: [MinhashDedupFilter(args.near_dup_threshold, args.num_perm, 5, "words")],
             {"threshold": args.near_dup_threshold, "num_perm": args.num_perm, "shingle": "5 words"}),
        ]
        fetched = [n for n in ("list", "download") if steps.load_stats(n)]
        finish(AREA, args, steps, src, stages, date_range, fetch_steps=fetched,
               extra_manifest={"pandoc": _pandoc_version() if args.format == "markdown" else None})
    return 0


def _pandoc_version() -> str | None:
    try:
        import pypandoc

        return pypandoc.get_pandoc_version()
    except Exception:
        return None
