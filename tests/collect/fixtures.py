"""Local inputs for the collection pipeline tests: git repositories, LaTeX source archives, WARC files,
and a loopback HTTP server that plays GitHub's search API, arXiv's OAI-PMH/e-print endpoints and a
Common Crawl file host.  Nothing here reaches the network."""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import random
import re
import subprocess
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from lm_eval_compression.collect import main as collect_main


def collect(*args) -> int:
    """Run ``python -m lm_eval_compression collect ...`` in this process (imports are shared)."""
    rc = collect_main([str(a) for a in args])
    assert rc == 0, f"collect {' '.join(map(str, args))} returned {rc}"
    return rc


def read_jsonl(path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


# the pipelines' task layouts every end-to-end test runs with: one task, and two tasks on two local workers
LAYOUTS = {"1task": [], "2tasks": ["--tasks", "2", "--workers", "2"]}


def dropped_rows(work, step_name: str) -> list[dict]:
    """The documents a step dropped (datatrove's exclusion writers, one file per task), in id order."""
    rows = [r for f in sorted(Path(work).glob(f"stages/*/dropped/{step_name}/*.jsonl")) for r in read_jsonl(f)]
    return sorted(rows, key=lambda r: r["id"])


def stage_stats(work) -> dict[str, str]:
    """datatrove's per-task stats files of every stage but the manifest (which runs each time)."""
    return {
        str(p.relative_to(work)): p.read_text()
        for p in Path(work).glob("stages/*/logs/stats/*.json")
        if "_manifest" not in str(p)
    }


def step(manifest: dict, name: str) -> dict:
    return next(s for s in manifest["steps"] if s["name"] == name)


def check_manifest_counts(manifest: dict, doc_steps: list[str]) -> None:
    """Counts add up inside every document step, and each step reads what the one before wrote."""
    names = [s["name"] for s in manifest["steps"] if s["kind"] == "documents"]
    assert names == doc_steps, names
    prev = None
    for s in manifest["steps"]:
        if s["kind"] != "documents":
            continue
        assert s["in_docs"] == s["out_docs"] + sum(s["dropped"].values()), s
        if prev is not None:
            assert s["in_docs"] == prev["out_docs"], (prev["name"], s["name"])
            assert s["in_chars"] == prev["out_chars"], (prev["name"], s["name"])
            assert s["in_chars"] == s["out_chars"] + sum(s["dropped_chars"].values()), s
        prev = s
    assert manifest["final"]["docs"] == prev["out_docs"]
    assert manifest["final"]["chars"] == prev["out_chars"]
    for lib in ("datatrove", "datasketch", "python"):
        assert lib in manifest["libraries"]


# ------------------------------------------------------------------ HTTP


class _Handler(BaseHTTPRequestHandler):
    routes: dict = {}
    log: list = []

    def do_GET(self):  # noqa: N802
        url = urlparse(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        self.log.append((url.path, query, dict(self.headers)))
        for prefix, fn in self.routes.items():
            if url.path.startswith(prefix):
                status, ctype, body, *extra = fn(url.path, query)
                break
        else:
            status, ctype, body, extra = 404, "text/plain", b"not found", []
        headers = {"Content-Type": ctype, "Content-Length": str(len(body)), **(extra[0] if extra else {})}
        self.send_response(status)
        for key, value in headers.items():
            if value is not None:  # None leaves a header out (no Content-Length: the body ends with the connection)
                self.send_header(key, value)
        if headers["Content-Length"] is None:
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(routes: dict):
    """A server on 127.0.0.1 (any free port): ``routes`` maps a path prefix to
    ``fn(path, query) -> (status, content_type, body[, headers])``.  Yields (base_url, request_log)."""
    handler = type("Handler", (_Handler,), {"routes": routes, "log": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler.log
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# ------------------------------------------------------------------ git repositories

WORDS = (
    "alpha beta gamma delta sigma omega vector matrix tensor graph node edge cache queue stack heap "
    "parser lexer token buffer stream socket packet frame window cursor record table column index "
    "filter mapper reducer batch shard worker thread signal event handler router session client "
    "server payload schema field value weight score metric sample random seed entropy"
).split()


def code_file(seed: int, functions: int = 12) -> str:
    """Plausible Python; files from different seeds share almost no 5-token shingles."""
    rng = random.Random(seed)
    lines = [f'"""Helpers number {seed}: small numeric utilities."""', "import math", ""]
    for i in range(functions):
        a, b, c = rng.sample(WORDS, 3)
        lines += [
            f"def {a}_{b}_{i}({c}, scale={rng.randint(1, 99)}):",
            f'    """Return the {a} {b} of {c}, scaled by {rng.randint(2, 9)}."""',
            f"    total = {rng.randint(0, 999)}",
            f"    for {b} in range(len({c})):",
            f"        total += {c}[{b}] * scale - {rng.randint(1, 50)}",
            f"    return math.sqrt(abs(total)) + {rng.random():.4f}",
            "",
        ]
    return "\n".join(lines) + "\n"


def git(repo: Path, *args: str, date: str | None = None) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "t@example.org",
    }
    if date:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = date
    subprocess.run(["git", "-C", str(repo), *args], check=True, env=env, capture_output=True)


def make_repo(path: Path, files: dict[str, str | bytes], date: str = "2024-01-15T12:00:00+00:00") -> Path:
    """A git repository with ``files`` in one commit made at ``date``."""
    path.mkdir(parents=True)
    for name, content in files.items():
        f = path / name
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial", date=date)
    return path


def python_repos(root: Path) -> dict:
    """Three repositories and what should happen to each file.

    ``acme__alpha`` (listed, created 2023-10-05, MIT): two good files, a near-duplicate of one of them,
    the first copy of a file duplicated in ``bob__beta``, and one file for each filter.
    ``bob__beta`` (not listed: date from its HEAD commit, licence from its LICENSE file): the second copy
    and one good file.  ``old__legacy`` (listed, created 2022-05-01): before the cut-off.
    """
    geometry = code_file(1)
    near = geometry.replace("import math", "import math  # square roots")
    helpers = code_file(3)
    long_line = code_file(4) + "TABLE = [" + ", ".join(str(i) for i in range(400)) + "]\n"
    wide = "\n".join(f'MESSAGE_{i} = "{" ".join(random.Random(i).choices(WORDS, k=22))}"' for i in range(12)) + "\n"
    generated = (
        "# -*- coding: utf-8 -*-\n# Generated by the protocol buffer compiler.  DO NOT EDIT!\n"
        "# source: thing.proto\n" + code_file(5)
    )
    art = (
        "\n".join(
            [
                "BANNER = '''",
                *["#=*=*=*=#  ~~~~  <<>>  ----  ....  ++++  ****  |||| ;;; #"] * 20,
                "'''",
                "print(BANNER)",
            ]
        )
        + "\n"
    )
    alpha = make_repo(
        root / "acme__alpha",
        {
            "pkg/geometry.py": geometry,
            "pkg/stats_utils.py": code_file(2),
            "pkg/geometry_copy.py": near,
            "vendored/helpers.py": helpers,
            "data_table.py": long_line,
            "wide.py": wide,
            "proto_pb2.py": generated,
            "art.py": art,
            "big.py": code_file(6, functions=200),
            "latin1.py": "# caf\xe9\nX = 1\n".encode("latin-1"),
            "empty.py": "\n\n",
            "README.md": "# alpha\n",
        },
    )
    beta = make_repo(
        root / "bob__beta",
        {
            "helpers.py": helpers,
            "server.py": code_file(7),
            "LICENSE": " " * 33 + "Apache License\n" + " " * 27 + "Version 2.0, January 2004\n",
        },
        date="2024-01-15T12:00:00+00:00",
    )
    legacy = make_repo(root / "old__legacy", {"legacy.py": code_file(8)})
    repo_list = [
        {
            "full_name": "acme/alpha",
            "clone_url": alpha.as_uri(),
            "html_url": "https://github.com/acme/alpha",
            "created_at": "2023-10-05T08:00:00Z",
            "stars": 42,
            "license": "MIT",
        },
        {
            "full_name": "old/legacy",
            "clone_url": legacy.as_uri(),
            "html_url": "https://github.com/old/legacy",
            "created_at": "2022-05-01T08:00:00Z",
            "stars": 99,
            "license": "MIT",
        },
    ]
    return {
        "root": root,
        "repo_list": repo_list,
        "alpha": alpha,
        "beta": beta,
        "legacy": legacy,
        "big_bytes": len(code_file(6, functions=200).encode()),
    }


# ------------------------------------------------------------------ LaTeX sources

MAIN_TEX = r"""\documentclass[11pt]{amsart}
\usepackage{amsmath,amssymb}
\newcommand{\R}{\mathbb{R}}
\title{Preamble Title Words}
% preamble comment that must vanish
\begin{document}
\maketitle
\begin{abstract}
We study curvature flows of closed hypersurfaces in $\R^n$ and prove that they converge.
\end{abstract}
\input{sections/intro}
\section{Main result}
Let $u \in \R$ be a smooth function. % trailing comment that must vanish
The discount is 50\% for everybody who reads this far into the argument.
% a whole-line comment that must vanish
\include{proof}
\iffalse
This draft paragraph is switched off and must vanish.
\fi
\bibliographystyle{plain}
\bibliography{refs}
\begin{thebibliography}{9}
\bibitem{ref1} Bibitem Author, \emph{A cited book}, 1999.
\end{thebibliography}
\end{document}
"""

INTRO_TEX = r"""\section{Introduction}
The inlined introduction sentence explains why monotone quantities control the flow.
% secret intro comment
Previous work handled only convex initial data, a restriction we remove here entirely.
"""

PROOF_TEX = r"""\section{Proof}
The proof from the included file uses the maximum principle and a careful barrier argument.
"""

SINGLE_TEX = r"""\documentclass{article}
\begin{document}
\section{Counting}
We count lattice points in dilated polytopes and show the count is a quasi-polynomial in the
dilation factor whose leading coefficient equals the volume of the polytope, with explicit bounds
on the remaining coefficients in terms of the facet normals of the polytope.
\end{document}
"""


def tar_gz(files: dict[str, str | bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, content in files.items():
            data = content if isinstance(content, bytes) else content.encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def arxiv_sources() -> dict[str, bytes]:
    """E-print bodies by id: a tarball with \\input/\\include, a gzipped single file, a PDF, and a second
    copy of the single file under another id."""
    return {
        "2310.00001": tar_gz(
            {
                "main.tex": MAIN_TEX,
                "sections/intro.tex": INTRO_TEX,
                "proof.tex": PROOF_TEX,
                "fig.png": b"\x89PNG\r\n\x1a\nnot really",
            }
        ),
        "2310.00002": gzip.compress(SINGLE_TEX.encode()),
        "2310.00003": b"%PDF-1.5\n%binary pdf only\n",
        "2310.00004": gzip.compress(SINGLE_TEX.encode()),
    }


def oai_record(
    arxiv_id, categories, created, license_="http://creativecommons.org/licenses/by/4.0/", deleted=False
) -> str:
    if deleted:
        return f'<record><header status="deleted"><identifier>oai:arXiv.org:{arxiv_id}</identifier></header></record>'
    return f"""<record><header><identifier>oai:arXiv.org:{arxiv_id}</identifier><datestamp>2023-10-20</datestamp>
<setSpec>math</setSpec></header><metadata>
<arXiv xmlns="http://arxiv.org/OAI/arXiv/"><id>{arxiv_id}</id><created>{created}</created>
<authors><author><keyname>Doe</keyname></author></authors><title>Paper {arxiv_id}</title>
<categories>{categories}</categories><license>{license_}</license><abstract>...</abstract></arXiv>
</metadata></record>"""


def oai_pages() -> list[str]:
    """Two ListRecords pages joined by a resumption token."""
    head = (
        '<?xml version="1.0" encoding="UTF-8"?><OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
        '<responseDate>2023-11-01T00:00:00Z</responseDate><request verb="ListRecords">x</request><ListRecords>'
    )
    page1 = [
        oai_record("2310.00001", "math.DG math.AP", "2023-10-02"),
        oai_record("2310.00002", "math.CO", "2023-10-03"),
        oai_record("2310.09999", "cs.LG math.OC", "2023-10-03"),  # math only as a cross-list
        oai_record("2310.08888", "math-ph math.MP", "2023-10-04"),
    ]  # primary math-ph: not math.*
    page2 = [
        oai_record("2310.00003", "math.NT", "2023-10-05"),
        oai_record("2310.00004", "math.CO", "2023-10-06"),
        oai_record("2308.00005", "math.AG", "2023-08-15"),  # submitted before the cut-off
        oai_record("2310.00006", "math.GT", "2023-10-07"),  # e-print missing (404)
        oai_record("2310.07777", "math.AG", "2023-10-07", deleted=True),
    ]
    return [
        head + "".join(page1) + '<resumptionToken completeListSize="9">tok-1</resumptionToken></ListRecords></OAI-PMH>',
        head + "".join(page2) + '<resumptionToken completeListSize="9"></resumptionToken></ListRecords></OAI-PMH>',
    ]


# ------------------------------------------------------------------ web pages

EN_1 = """The river town of Millbrook spent most of the winter arguing about its old stone bridge. Engineers
said that the arches were sound, but the road above them had cracked after years of heavy trucks. At a
long meeting in the library, residents agreed to close the bridge to lorries and to repair the surface
before the spring floods. The mayor promised that the work would be finished by April, and that a
temporary footpath would keep the market open. Shop owners were relieved, because the bridge carries
most of their customers from the farms on the other side of the water. A local historian reminded
everyone that the bridge has survived three great floods since it was built, and that it deserves the
same care that earlier generations gave it."""

EN_2 = """Learning to bake bread at home is mostly a matter of patience. The dough needs time to rise, and
the flavour improves when it rests overnight in a cool kitchen. Start with good flour, water, salt and a
small amount of yeast, then mix until no dry flour remains. Fold the dough a few times during the first
hours instead of kneading it hard. When it has doubled in size, shape it gently into a round loaf and
let it rise again in a basket dusted with flour. Bake it in a very hot oven inside a covered pot, which
traps the steam and gives the crust its colour. Wait until the loaf has cooled before you cut it, or the
crumb will be gummy and dense."""

EN_3 = """Astronomers have found a small planet orbiting a quiet red dwarf about forty light years from the
Sun. The planet is slightly larger than the Earth and completes one orbit in eleven days, so its year is
shorter than a month on our calendar. Because red dwarfs are cool, the planet may still receive a
moderate amount of light, and some researchers think that water could exist on its surface. Other
scientists are more cautious, since such stars often release violent flares that could strip away an
atmosphere. New telescopes will study the light that passes through the edge of the planet during each
transit, which should reveal whether it has air at all and what that air is made of."""

DE_1 = """Die kleine Stadt am Fluss hat den ganzen Winter über ihre alte Steinbrücke gestritten. Die
Ingenieure sagten, dass die Bögen stabil seien, aber die Straße darüber war nach vielen Jahren mit
schweren Lastwagen gerissen. Bei einer langen Versammlung in der Bibliothek einigten sich die Bewohner
darauf, die Brücke für Lastwagen zu sperren und die Oberfläche vor dem Frühjahrshochwasser zu
reparieren. Der Bürgermeister versprach, dass die Arbeiten bis April abgeschlossen sein würden und dass
ein provisorischer Fußweg den Markt offen halten würde. Die Ladenbesitzer waren erleichtert, denn über
die Brücke kommen die meisten ihrer Kunden von den Bauernhöfen auf der anderen Seite des Wassers."""

FR_1 = """Apprendre à faire son pain à la maison est surtout une affaire de patience. La pâte a besoin de
temps pour lever, et le goût s'améliore lorsqu'elle repose toute une nuit dans une cuisine fraîche.
Commencez avec une bonne farine, de l'eau, du sel et une petite quantité de levure, puis mélangez
jusqu'à ce qu'il ne reste plus de farine sèche. Rabattez la pâte plusieurs fois pendant les premières
heures au lieu de la pétrir fortement. Quand elle a doublé de volume, façonnez doucement une boule et
laissez-la lever encore dans un panier fariné avant de la cuire dans un four très chaud."""

SPAM = "\n".join(["Buy cheap watches online now at the best price", "Click here for the best deals today"] * 20)


def html_page(title: str, text: str) -> str:
    paras = "".join(f"<p>{p}</p>" for p in re.split(r"(?<=\.)\s+", text) if p)
    return (
        f"<!DOCTYPE html><html><head><title>{title}</title><meta charset='utf-8'></head><body>"
        f"<nav><a href='/'>Home</a> <a href='/about'>About us</a></nav>"
        f"<article><h1>{title}</h1>{paras}</article>"
        f"<footer>Copyright 2024 Example Media. All rights reserved.</footer></body></html>"
    )


def write_warc(path: Path, records: list[dict], gzip_: bool = True) -> Path:
    """A WARC file written with warcio; each record: url, date, and html (str), body+ctype, or text (WET)."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as f:
        writer = WARCWriter(f, gzip=gzip_)
        for rec in records:
            warc_headers = {"WARC-Date": rec["date"]}
            if "text" in rec:  # WET conversion record
                warc_headers["WARC-Identified-Content-Language"] = "eng"
                r = writer.create_warc_record(
                    rec["url"],
                    "conversion",
                    payload=io.BytesIO(rec["text"].encode()),
                    warc_content_type="text/plain",
                    warc_headers_dict=warc_headers,
                )
            else:
                body = rec["html"].encode("utf-8") if "html" in rec else rec["body"]
                ctype = "text/html; charset=utf-8" if "html" in rec else rec["ctype"]
                http = StatusAndHeaders(rec.get("status", "200 OK"), [("Content-Type", ctype)], protocol="HTTP/1.1")
                if rec.get("request"):
                    req = writer.create_warc_record(
                        rec["url"],
                        "request",
                        payload=io.BytesIO(b""),
                        http_headers=StatusAndHeaders(
                            "GET / HTTP/1.1", [("Host", "example.org")], is_http_request=True
                        ),
                        warc_headers_dict=dict(warc_headers),
                    )
                    writer.write_record(req)
                r = writer.create_warc_record(
                    rec["url"], "response", payload=io.BytesIO(body), http_headers=http, warc_headers_dict=warc_headers
                )
            writer.write_record(r)
    return path


def near_copy(text: str) -> str:
    """The same page with one sentence changed."""
    return text.replace(
        "Wait until the loaf has cooled before you cut it",
        "Wait until the loaf has cooled completely before you cut it",
    )


def web_records() -> list[dict]:
    d = "2024-02-01T10:00:00Z"
    return [
        {
            "url": "https://news.example.org/bridge",
            "date": d,
            "html": html_page("Bridge repairs", EN_1),
            "request": True,
        },
        {"url": "https://food.example.org/bread", "date": d, "html": html_page("Home baking", EN_2)},
        {"url": "https://de.example.org/bruecke", "date": d, "html": html_page("Die Brücke", DE_1)},
        {"url": "https://fr.example.org/pain", "date": d, "html": html_page("Le pain", FR_1)},
        {"url": "https://mirror.example.net/bridge", "date": d, "html": html_page("Bridge repairs", EN_1)},
        {"url": "https://copy.example.net/bread", "date": d, "html": html_page("Home baking", near_copy(EN_2))},
        {"url": "https://spam.example.com/", "date": d, "html": html_page("Deals", SPAM)},
        {"url": "https://img.example.org/logo.png", "date": d, "body": b"\x89PNG\r\n\x1a\n....", "ctype": "image/png"},
        {"url": "https://gone.example.org/", "date": d, "html": html_page("Gone", EN_3), "status": "404 Not Found"},
        {"url": "https://old.example.org/planet", "date": "2023-05-01T10:00:00Z", "html": html_page("Planet", EN_3)},
    ]


def wet_records() -> list[dict]:
    d = "2024-02-02T10:00:00Z"
    return [
        {"url": "https://space.example.org/planet", "date": d, "text": EN_3},
        {"url": "https://de.example.org/wet", "date": d, "text": DE_1},
    ]


# ------------------------------------------------------------------ hostile LaTeX sources

LEAK_TOKEN = "LEAKTOKEN7f3a9c41"  # set in the environment of the tests that must not see it in their output
SECRET_TEXT = "SECRETFILE41b2e9"  # the content of a local file the sources name

FILLER = (
    "We prove that every bounded harmonic function on the plane is constant and give a short argument for "
    "the maximum principle on compact domains, then extend both results to elliptic operators with smooth "
    "coefficients and discuss why the bounds cannot be improved in general."
)


BEFORE_IFFALSE = (
    "Before the switched-off drafts comes a second paragraph on lattice walks: we count walks confined to a "
    "quadrant, relate their generating functions to hypergeometric series, and show that the counting sequence "
    "is holonomic exactly when the step set has a vertical symmetry, which settles the remaining small cases."
)


def paper(body: str, preamble: str = "") -> str:
    """A complete LaTeX paper with ``FILLER`` before ``body``."""
    return (
        f"\\documentclass{{article}}\n\\usepackage{{listings}}\n\\usepackage{{minted}}\n{preamble}"
        f"\\begin{{document}}\n\\section{{Result}}\n{FILLER}\n{body}\n\\end{{document}}\n"
    )


def reading_forms(secret: Path) -> dict[str, str]:
    """Three ways a paper can ask pandoc to read a local file or the environment."""
    return {
        "lstinputlisting": paper("\\lstinputlisting{/proc/self/environ}"),
        "inputminted": paper(f"\\inputminted{{text}}{{{secret}}}"),
        "macro_input": paper(f"\\inc{{{secret}}}", preamble="\\newcommand{\\inc}{\\input}\n"),
    }


def gzip_bomb(expanded: int) -> bytes:
    """A gzipped tar header followed by ``expanded`` zero bytes, compressed in chunks (small in memory)."""
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9) as gz:
        info = tarfile.TarInfo("zeros.bin")
        info.size = expanded
        gz.write(info.tobuf())
        chunk = bytes(1 << 20)
        for start in range(0, expanded, len(chunk)):
            gz.write(chunk[: min(len(chunk), expanded - start)])
    return buf.getvalue()


def damaged_gzip() -> bytes:
    """A gzipped single-file paper with bytes of its deflate stream flipped (``zlib.error`` on reading)."""
    data = bytearray(gzip.compress(paper("Undamaged text.").encode(), mtime=0))
    for i in range(20, 60):
        data[i] ^= 0xFF
    return bytes(data)


def fan_out(levels: int = 19) -> dict[str, str]:
    """A few hundred bytes of TeX whose ``\\input`` tree inlines the leaf 2**levels times."""
    files = {"main.tex": paper("\\input{f0}")}
    for i in range(levels):
        files[f"f{i}.tex"] = f"\\input{{f{i + 1}}}\\input{{f{i + 1}}}"
    files[f"f{levels}.tex"] = "word "
    return files


def many_members(count: int) -> bytes:
    """A gzipped tar of the paper plus ``count`` empty files."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, text in [("main.tex", paper("A paper with many small files."))] + [
            (f"data/{i:05d}.txt", "") for i in range(count)
        ]:
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def hostile_sources(secret: Path) -> dict[str, tuple[bytes, str | None]]:
    """arXiv id -> (source file, drop reason or None when the paper is kept) for the hostile-input set:
    local-file reads through pandoc, a damaged gzip, a gzip bomb, an ``\\input`` fan-out, unclosed
    ``\\iffalse`` and ``\\input{`` runs that took quadratic time, and an archive of too many members."""
    forms = reading_forms(secret)
    return {
        "2310.10001": (tar_gz({"main.tex": forms["lstinputlisting"]}), None),
        "2310.10002": (tar_gz({"main.tex": forms["inputminted"]}), None),
        "2310.10003": (tar_gz({"main.tex": forms["macro_input"]}), None),
        "2310.10004": (damaged_gzip(), "bad_archive"),
        "2310.10005": (gzip_bomb(315_000_000), "too_large_expanded"),
        "2310.10006": (tar_gz(fan_out()), "too_many_inputs"),
        "2310.10007": (gzip.compress(paper(BEFORE_IFFALSE + "\n" + "\\iffalse x\n" * 20_000).encode()), None),
        "2310.10008": (gzip.compress(paper("\\input{" * 40_000).encode()), "pandoc_error"),
        "2310.10009": (many_members(10_001), "too_many_members"),
    }
