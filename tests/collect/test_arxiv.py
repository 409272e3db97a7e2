"""The arxiv_math pipeline end to end: OAI-PMH listing and e-print downloads from a local stand-in for
arXiv, then extraction of LaTeX sources made here, as cleaned LaTeX and as pandoc markdown."""

from __future__ import annotations

import json

import pytest

from lm_eval_compression.collect.latex import find_main, inline_inputs, strip_comments
from lm_eval_compression.collect.sources import read_source
from tests.collect.fixtures import LAYOUTS, check_manifest_counts, collect, read_jsonl, serve, step
from tests.collect.latex_sources import arxiv_sources, oai_pages

DOC_STEPS = ["extract", "exact_dedup", "near_dedup", "sample"]


def _arxiv_server():
    pages = oai_pages()
    sources = arxiv_sources()

    def oai(path, query):
        assert query["verb"] == "ListRecords"
        if "resumptionToken" in query:
            assert query["resumptionToken"] == "tok-1" and "set" not in query
            return 200, "text/xml", pages[1].encode()
        assert query["metadataPrefix"] == "arXiv" and query["set"] == "math" and query["from"] == "2023-09-01"
        return 200, "text/xml", pages[0].encode()

    def eprint(path, query):
        arxiv_id = path.split("/e-print/", 1)[1]
        if arxiv_id not in sources:
            return 404, "text/plain", b"no such paper"
        return 200, "application/x-eprint-tar", sources[arxiv_id]

    return serve({"/oai": oai, "/e-print/": eprint})


@pytest.fixture(scope="module", params=list(LAYOUTS))
def arxiv_run(tmp_path_factory, request):
    """list + download + extract as cleaned LaTeX."""
    tmp = tmp_path_factory.mktemp("arxiv")
    out, work = tmp / "out", tmp / "work"
    with _arxiv_server() as (base, log):
        collect(
            "arxiv_math",
            "all",
            "--oai-url",
            f"{base}/oai",
            "--eprint-url",
            f"{base}/e-print",
            "--after",
            "2023-09-01",
            "--delay",
            0,
            "--out",
            out,
            "--work",
            work,
            "--format",
            "latex",
            *LAYOUTS[request.param],
        )
        requests = list(log)
    return {
        "out": out,
        "work": work,
        "requests": requests,
        "manifest": json.loads((out / "arxiv_math.manifest.json").read_text()),
        "rows": read_jsonl(out / "arxiv_math.jsonl"),
    }


def test_list_and_download(arxiv_run):
    papers = read_jsonl(arxiv_run["work"] / "papers.jsonl")
    # primary category math.*, first submitted after the cut-off, not deleted
    assert [p["id"] for p in papers] == ["2310.00001", "2310.00002", "2310.00003", "2310.00004", "2310.00006"]
    assert papers[0]["primary_category"] == "math.DG" and papers[0]["created"] == "2023-10-02T00:00:00Z"
    assert papers[0]["license"] == "http://creativecommons.org/licenses/by/4.0/"
    m = arxiv_run["manifest"]
    listing = step(m, "list")
    assert listing["records"] == 9 and listing["papers"] == 5
    assert listing["dropped"] == {"deleted": 1, "other_primary_category": 2, "out_of_date_range": 1}
    download = step(m, "download")
    assert (download["downloaded"], download["failed"], download["already_there"]) == (4, 1, 0)
    assert download["failures"] == {"2310.00006": "HTTP 404"}
    assert sorted(p.name for p in (arxiv_run["work"] / "sources").iterdir()) == [
        "2310.00001",
        "2310.00002",
        "2310.00003",
        "2310.00004",
    ]
    assert sum(path == "/oai" for path, _, _ in arxiv_run["requests"]) == 2


def test_extract_latex(arxiv_run):
    m = arxiv_run["manifest"]
    check_manifest_counts(m, DOC_STEPS)
    assert step(m, "extract")["dropped"] == {"no_source": 1, "pdf_only": 1}
    assert step(m, "exact_dedup")["dropped"] == {"exact_duplicate": 1}
    assert step(m, "near_dedup")["dropped"] == {}
    rows = {r["meta"]["arxiv_id"]: r for r in arxiv_run["rows"]}
    assert sorted(rows) == ["2310.00001", "2310.00002"]
    for r in rows.values():
        assert r["subset"] == "arxiv_math" and r["meta"]["source"] == "arxiv"
        assert r["meta"]["license"] and r["meta"]["date"].startswith("2023-10")
    paper = rows["2310.00001"]
    text = paper["content"]
    assert paper["meta"]["main_file"] == "main.tex" and paper["meta"]["format"] == "latex"
    # \input and \include inlined
    assert "The inlined introduction sentence" in text and "The proof from the included file" in text
    assert "\\input" not in text and "\\include" not in text
    # comments, \iffalse blocks, bibliography and preamble gone; escaped percent kept
    for gone in (
        "comment",
        "switched off",
        "Bibitem Author",
        "thebibliography",
        "\\bibliography",
        "\\documentclass",
        "\\usepackage",
        "Preamble Title Words",
        "\\newcommand",
        "\\end{document}",
    ):
        assert gone not in text, gone
    assert "50\\%" in text
    assert "handled only convex initial data" in text
    assert "closed hypersurfaces in $\\R^n$" in text  # LaTeX keeps the paper's macros
    assert rows["2310.00002"]["content"].startswith("\\section{Counting}")


def test_extract_markdown_reuses_downloads(arxiv_run, tmp_path):
    out = tmp_path / "md"
    collect(
        "arxiv_math",
        "extract",
        "--work",
        arxiv_run["work"],
        "--out",
        out,
        "--after",
        "2023-09-01",
        "--format",
        "markdown",
    )
    m = json.loads((out / "arxiv_math.manifest.json").read_text())
    check_manifest_counts(m, DOC_STEPS)
    assert m["pandoc"] and m["parameters"]["format"] == "markdown"
    rows = {r["meta"]["arxiv_id"]: r["content"] for r in read_jsonl(out / "arxiv_math.jsonl")}
    text = rows["2310.00001"]
    assert "The inlined introduction sentence" in text and "The proof from the included file" in text
    assert "# Introduction" in text and "# Main result" in text
    assert "\\mathbb{R}" in text  # the preamble's \newcommand expanded by pandoc
    assert "curvature flows of closed hypersurfaces" in text  # the abstract survives as a section
    for gone in ("comment", "switched off", "Bibitem Author", "Preamble Title Words", "\\section", "\\input"):
        assert gone not in text, gone
    assert "50%" in text


def test_strip_comments_like_tex():
    tex = "a 10\\% rise % note\nnext line\n% whole line\n\n\\\\% after a line break\nend"
    assert strip_comments(tex) == "a 10\\% rise next line\n\n\\\\end"
    verb = "\\begin{verbatim}\nx = 5 % kept in verbatim\n\\end{verbatim}\n% gone\ny"
    assert strip_comments(verb) == "\\begin{verbatim}\nx = 5 % kept in verbatim\n\\end{verbatim}\ny"
    assert strip_comments("\\begin{comment}\nhidden\n\\end{comment}shown") == "shown"


def test_inline_inputs_recursive_and_unresolved():
    files = {
        "paper/main.tex": "\\documentclass{article}\\begin{document}\\input{a}\\include{missing}"
        "\\import{sub/}{c}\\input b.tex \\end{document}",
        "paper/a.tex": "A[\\input{sub/c.tex}]",
        "paper/sub/c.tex": "C",
        "paper/b.tex": "B",
        "paper/loop.tex": "\\input{loop}",
    }
    assert find_main(files) == "paper/main.tex"
    unresolved = []
    text = inline_inputs("paper/main.tex", files, unresolved)
    assert text == "\\documentclass{article}\\begin{document}A[C]CB \\end{document}"
    assert unresolved == ["missing"]
    unresolved = []
    assert inline_inputs("paper/loop.tex", files, unresolved) == ""
    assert unresolved == ["loop"]


def test_read_source_formats(tmp_path):
    srcs = arxiv_sources()
    for arxiv_id, data in srcs.items():
        (tmp_path / arxiv_id).write_bytes(data)
    assert sorted(read_source(tmp_path / "2310.00001")) == ["main.tex", "proof.tex", "sections/intro.tex"]
    assert list(read_source(tmp_path / "2310.00002")) == ["main.tex"]
    assert read_source(tmp_path / "2310.00003") == "pdf_only"


def test_requests_retry_server_errors():
    """Network retries are urllib3's Retry in requests' HTTPAdapter: two 503 answers, then the file."""
    from lm_eval_compression.collect.network import PoliteSession

    answers = [(503, "text/plain", b"busy"), (503, "text/plain", b"busy"), (200, "application/x-tar", b"SOURCE")]

    def flaky(path, query):
        return answers.pop(0)

    with serve({"/e-print/": flaky}) as (base, log):
        client = PoliteSession(delay=0, backoff=0)
        r = client.get(f"{base}/e-print/2310.00001")
        assert (r.status_code, r.content) == (200, b"SOURCE")
        assert len(log) == 3 and client.requests == 1
        answers.extend([(404, "text/plain", b"no such paper")] * 3)
        assert client.get(f"{base}/e-print/2310.00002").status_code == 404  # not retried
        assert len(log) == 4


def test_download_stops_at_the_source_size_bound(tmp_path):
    """A source over ``--max-source-bytes`` is not stored: its download stops there and the manifest
    says why; the others are downloaded."""
    bodies = {"2310.00001": b"x" * 5000, "2310.00002": b"y" * 100}
    papers = tmp_path / "work" / "papers.jsonl"
    papers.parent.mkdir()
    papers.write_text("".join(json.dumps({"id": i}) + "\n" for i in bodies))

    def eprint(path, query):  # no Content-Length: the size shows only while reading
        return 200, "application/gzip", bodies[path.rsplit("/", 1)[1]], {"Content-Length": None}

    with serve({"/e-print/": eprint}) as (base, _):
        collect(
            "arxiv_math", "download", "--work", tmp_path / "work", "--out", tmp_path / "out",
            "--eprint-url", f"{base}/e-print", "--delay", 0, "--max-source-bytes", 4096, "--no-progress",
        )  # fmt: skip
    stats = json.loads((tmp_path / "work" / "download.stats.json").read_text())
    assert (stats["downloaded"], stats["failed"]) == (1, 1)
    assert stats["failures"]["2310.00001"].startswith("too_large")
    assert sorted(p.name for p in (tmp_path / "work" / "sources").iterdir()) == ["2310.00002"]
