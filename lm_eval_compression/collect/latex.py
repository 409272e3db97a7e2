"""Text of an arXiv paper from its LaTeX source: find the main file, inline ``\\input``/``\\include``,
drop comments, bibliography and preamble, then convert with pandoc to markdown (as the paper did) or keep
the cleaned LaTeX."""

from __future__ import annotations

import gzip
import io
import posixpath
import re
import subprocess
import tarfile
from pathlib import Path

TEX_SUFFIXES = (".tex", ".ltx", ".bbl")
MAX_MEMBER_BYTES = 20_000_000


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
        if v and f"\\end{{{v.group(1)}}}" not in line[v.end() :]:
            verb_end = f"\\end{{{v.group(1)}}}"
    tex = "\n".join(out)
    tex = re.sub(r"\\begin\{comment\}.*?\\end\{comment\}", "", tex, flags=re.S)
    tex = re.sub(r"\\iffalse\b.*?\\fi\b", "", tex, flags=re.S)
    return tex


_INPUT = re.compile(
    r"\\(?:input|include|subfile)(?![a-zA-Z@])\s*\{([^}]*)\}"  # \input{file}
    r"|\\input(?![a-zA-Z@])[ \t]+([^\s{}\\]+)"  # \input file
    r"|\\(?:sub)?import(?![a-zA-Z@])\s*\{([^}]*)\}\s*\{([^}]*)\}"  # \import{dir}{file}
)


def find_main(files: dict[str, str]) -> str | None:
    """The root file: has ``\\documentclass`` and ``\\begin{document}``; ties go to the usual names,
    then to the longest file."""

    def score(name: str) -> tuple:
        text = files[name]
        return (
            "\\documentclass" in text or "\\documentstyle" in text,
            "\\begin{document}" in text,
            posixpath.basename(name).lower() in ("main.tex", "ms.tex", "paper.tex", "article.tex"),
            len(text),
        )

    candidates = [
        n
        for n in files
        if n.lower().endswith((".tex", ".ltx")) and ("\\begin{document}" in files[n] or "\\documentclass" in files[n])
    ]
    return max(candidates, key=score) if candidates else None


def inline_inputs(name: str, files: dict[str, str], unresolved: list[str], depth: int = 0, stack: tuple = ()) -> str:
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
    body = tex[begin + len("\\begin{document}") : end if end >= 0 else len(tex)]
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

    proc = subprocess.run(
        [pypandoc.get_pandoc_path(), "--from=latex", f"--to={to}", "--wrap=none"],
        input=tex,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip()[:300])
    return proc.stdout


def latex_to_text(
    files: dict[str, bytes], fmt: str = "markdown", pandoc_to: str = "markdown", timeout: float = 120
) -> tuple[str, dict] | str:
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
            text = pandoc(
                f"\\documentclass{{article}}\n\\begin{{document}}\n{body}\n\\end{{document}}\n", pandoc_to, timeout
            )
    except subprocess.TimeoutExpired:
        return "pandoc_timeout"
    except RuntimeError:
        return "pandoc_error"
    return tidy(text), info


def id_month(arxiv_id: str) -> str | None:
    """First day of the submission month encoded in a new-style id (``2310.01234`` -> 2023-10-01)."""
    m = re.match(r"(\d{2})(\d{2})\.\d{4,5}(v\d+)?$", arxiv_id)
    if not m or not 1 <= int(m.group(2)) <= 12:
        return None
    return f"20{m.group(1)}-{m.group(2)}-01T00:00:00Z"
