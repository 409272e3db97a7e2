"""arXiv inputs for the collection tests: LaTeX source archives, OAI-PMH listing pages, and the hostile
sources that must yield only their own text or be dropped with a reason."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

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
