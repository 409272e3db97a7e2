"""Source readers: datatrove blocks (steps named ``extract``) that turn source files into documents.

Each task reads its share of the sources (source ``i`` goes to task ``i % tasks``) and gives every document
``metadata["_order"] = [source number, item number]``, the order in which one task would have read it.

* :class:`RepoFileReader`: source files of local git repositories (one document per file).
* :class:`ArxivSourceReader`: arXiv LaTeX sources, as markdown (pandoc) or cleaned LaTeX.
* :class:`WarcReader` (in ``warc.py``): Common Crawl WARC/WET records.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from datatrove.data import Document

from .dates import DateRange
from .github import list_repos, repo_metadata
from .latex import TextSettings, id_month, latex_to_text
from .limits import PAPER_TIMEOUT, Deadline
from .sources import SourceLimits, read_source, source_name
from .steps import ORDER_KEY, StepSource


class RepoFileReader(StepSource):
    """One document per source file; drops (with reason) files of out-of-range repositories, files over
    ``max_bytes``, files that are not UTF-8 and empty files."""

    def __init__(
        self,
        repos_dir: str,
        listed: dict[str, dict],
        date_range: DateRange,
        max_bytes: int,
        extensions: tuple[str, ...],
        name: str = "extract",
        exclusion_writer=None,
    ):
        super().__init__(name, exclusion_writer)
        self.repos_dir = Path(repos_dir)
        self.listed = listed
        self.date_range = date_range
        self.max_bytes = max_bytes
        self.extensions = extensions

    def produce(self, rank: int, world_size: int):
        for ri, repo in enumerate(list_repos(self.repos_dir)):
            if ri % world_size != rank:
                continue
            self.stat_update("repos")
            meta = repo_metadata(repo, self.listed.get(repo.name))
            in_range = meta["date"] in self.date_range
            if not in_range:
                self.stat_update("repos_out_of_date_range")
            url_base = meta.pop("url_base", None)
            fi = 0
            for root, dirs, files in os.walk(repo):
                dirs[:] = sorted(d for d in dirs if d != ".git")
                for name in sorted(files):
                    path = Path(root) / name
                    if not name.endswith(self.extensions) or path.is_symlink() or not path.is_file():
                        continue
                    rel = path.relative_to(repo).as_posix()
                    doc_meta = {**meta, "path": rel, ORDER_KEY: [ri, fi]}
                    fi += 1
                    if url_base:
                        doc_meta["url"] = url_base + rel
                    doc = self._file_doc(path, f"{meta['repo']}/{rel}", doc_meta, in_range, meta["date"])
                    if doc is not None:
                        yield doc

    def _file_doc(self, path: Path, doc_id: str, meta: dict, in_range: bool, date) -> Document | None:
        if not in_range:
            self.drop("out_of_date_range" if date else "unknown_date", Document(text="", id=doc_id, metadata=meta))
            return None
        size = path.stat().st_size
        if size > self.max_bytes:
            self.drop("too_large", Document(text="", id=doc_id, metadata={**meta, "bytes": size}))
            return None
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            self.drop("not_utf8", Document(text="", id=doc_id, metadata=meta))
            return None
        doc = Document(text=text, id=doc_id, metadata=meta)
        if not text.strip():
            self.drop("empty", doc)
            return None
        return doc


@dataclass(frozen=True)
class PaperSettings:
    """What the arXiv reader needs besides its papers: the date range, how text is made, the bounds on
    one paper's source and on its time, and the shortest paper kept."""

    date_range: DateRange
    text: TextSettings = TextSettings()
    limits: SourceLimits = SourceLimits()
    paper_timeout: float = PAPER_TIMEOUT
    min_chars: int = 200


class ArxivSourceReader(StepSource):
    """One document per paper whose source is in ``sources`` (named by id, ``/`` as ``_``); a paper over
    one of the bounds of :class:`PaperSettings` is dropped with the bound's reason."""

    def __init__(
        self,
        papers: list[dict],
        sources: str,
        settings: PaperSettings,
        name: str = "extract",
        exclusion_writer=None,
    ):
        super().__init__(name, exclusion_writer)
        self.papers = papers
        self.sources = Path(sources)
        self.settings = settings

    def produce(self, rank: int, world_size: int):
        for pi, paper in enumerate(self.papers):
            if pi % world_size == rank:
                doc = self._paper(paper, pi)
                if doc is not None:
                    yield doc

    @staticmethod
    def _meta(paper: dict, pi: int) -> dict:
        meta = {
            "source": "arxiv",
            "arxiv_id": paper["id"],
            "primary_category": paper.get("primary_category"),
            "categories": paper.get("categories"),
            "date": paper.get("created"),
            "license": paper.get("license"),
            "title": paper.get("title"),
            ORDER_KEY: [pi, 0],
        }
        if meta["date"] is None and (month := id_month(paper["id"])):
            meta["date"], meta["date_source"] = month, "arxiv_id"
        return meta

    def _text(self, path: Path) -> tuple[str, dict] | str:
        """The paper's text and details, or the reason it has none."""
        deadline = Deadline(self.settings.paper_timeout)
        files = read_source(path, self.settings.limits, deadline)
        if isinstance(files, str):
            return files
        return latex_to_text(files, self.settings.text, deadline)

    def _paper(self, paper: dict, pi: int) -> Document | None:
        meta = self._meta(paper, pi)
        doc_id = f"arxiv:{paper['id']}"
        empty = Document(text="", id=doc_id, metadata=meta)
        if meta["date"] not in self.settings.date_range:
            self.drop("out_of_date_range" if meta["date"] else "unknown_date", empty)
            return None
        name = source_name(paper["id"])
        if name is None:
            self.drop("bad_id", empty)
            return None
        path = self.sources / name
        if not path.is_file():
            self.drop("no_source", empty)
            return None
        result = self._text(path)
        if isinstance(result, str):
            self.drop(result, empty)
            return None
        text, info = result
        doc = Document(text=text, id=doc_id, metadata={**meta, **info})
        if len(text.strip()) < self.settings.min_chars:
            self.drop("too_short", doc)
            return None
        return doc
