"""Text of an arXiv paper from its TeX files: find the main file, inline ``\\input``/``\\include``, drop
comments, bibliography and preamble, then convert with a sandboxed pandoc to markdown (as the paper did)
or keep the cleaned LaTeX.

Every step is linear in the size of the source, inclusions are bounded in number and size, and pandoc
runs with ``--sandbox`` (it reads no file and no environment: only the text given to it) under a time
and a heap limit, so the text comes from the paper's own source and nothing else.
"""

from __future__ import annotations

import bisect
import posixpath
import re
import subprocess
from dataclasses import dataclass

from .limits import MAX_INPUT_DEPTH, MAX_INPUTS, MAX_TEX_CHARS, Deadline, LimitExceeded

PANDOC_TIMEOUT = 120.0
PANDOC_MAX_HEAP = "2048M"  # pandoc's own advice for untrusted input: bound its heap (+RTS -M)
NAME = r"[^{}]{0,1024}"  # a braced file name: no braces, bounded, so a missing brace costs little


@dataclass(frozen=True)
class TextSettings:
    """How a paper's text is made: ``fmt`` markdown (pandoc, to ``pandoc_to``) or latex, and the bounds
    on its inclusions."""

    fmt: str = "markdown"
    pandoc_to: str = "markdown"
    pandoc_timeout: float = PANDOC_TIMEOUT
    max_inputs: int = MAX_INPUTS
    max_depth: int = MAX_INPUT_DEPTH
    max_chars: int = MAX_TEX_CHARS


def decode_tex(data: bytes) -> str:
    """TeX source bytes as text: UTF-8, else Latin-1 (which decodes any bytes)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def drop_spans(text: str, begin: re.Pattern, end: re.Pattern, unclosed_to_end: bool = False) -> str:
    """``begin.*?end`` spans removed (as ``re.sub`` with DOTALL would) in linear time; a ``begin`` with no
    ``end`` after it is kept, or with ``unclosed_to_end`` removed with everything after it."""
    ends = [(m.start(), m.end()) for m in end.finditer(text)]
    starts = [s for s, _ in ends]
    out, pos = [], 0
    while (m := begin.search(text, pos)) is not None:
        out.append(text[pos : m.start()])
        i = bisect.bisect_left(starts, m.end())
        if i == len(starts):
            pos = len(text) if unclosed_to_end else m.start()
            break
        pos = ends[i][1]
    out.append(text[pos:])
    return "".join(out)


_COMMENT = re.compile(r"(?<!\\)(?:\\\\)*%")
_VERB_BEGIN = re.compile(r"\\begin\{(verbatim\*?|Verbatim|lstlisting|minted)\}")
_IFFALSE, _FI = re.compile(r"\\iffalse\b"), re.compile(r"\\fi\b")
_COMMENT_BEGIN, _COMMENT_END = re.compile(r"\\begin\{comment\}"), re.compile(r"\\end\{comment\}")


def strip_comments(tex: str) -> str:
    """Remove ``%`` comments as TeX reads them: the comment, its line end and the next line's leading
    blanks go, so a whole-line comment leaves no blank line behind; ``\\%`` and verbatim stay.
    ``comment`` environments and ``\\iffalse``...``\\fi`` go; one left open drops the rest of the file,
    as TeX does."""
    lines: list[list[str]] = []  # each output line as the pieces joined into it
    join = False
    verb_end = None
    for line in tex.split("\n"):
        if verb_end:
            lines.append([line])
            if verb_end in line:
                verb_end = None
            join = False
            continue
        if join:
            line = line.lstrip(" \t")
        m = _COMMENT.search(line)
        if m:
            line = line[: m.end() - 1]
        if join and lines:
            lines[-1].append(line)
        else:
            lines.append([line])
        join = m is not None
        v = _VERB_BEGIN.search(line)
        if v and f"\\end{{{v.group(1)}}}" not in line[v.end() :]:
            verb_end = f"\\end{{{v.group(1)}}}"
    tex = "\n".join("".join(pieces) for pieces in lines)
    tex = drop_spans(tex, _COMMENT_BEGIN, _COMMENT_END, unclosed_to_end=True)
    return drop_spans(tex, _IFFALSE, _FI, unclosed_to_end=True)


_INPUT = re.compile(
    rf"\\(?:input|include|subfile)(?![a-zA-Z@])\s*\{{({NAME})\}}"  # \input{file}
    r"|\\input(?![a-zA-Z@])[ \t]+([^\s{}\\]+)"  # \input file
    rf"|\\(?:sub)?import(?![a-zA-Z@])\s*\{{({NAME})\}}\s*\{{({NAME})\}}"  # \import{dir}{file}
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


class _Inliner:
    """Inlines inclusions recursively, counting them and the characters they add against the bounds."""

    def __init__(self, files: dict[str, str], settings: TextSettings, deadline: Deadline | None):
        self.files, self.settings, self.deadline = files, settings, deadline
        self.unresolved: list[str] = []
        self.inputs = 0
        self.chars = 0

    def resolve(self, target: str, base: str, folder: str = "") -> str | None:
        target = target.strip().strip('"')
        for root in (base, ""):
            for cand in (target, target + ".tex"):
                path = posixpath.normpath(posixpath.join(root, folder, cand))
                if path in self.files:
                    return path
        return None

    def include(self, path: str) -> None:
        """Count one inclusion of ``path``; over a bound it raises :class:`LimitExceeded`."""
        self.inputs += 1
        self.chars += len(self.files[path])
        if self.inputs > self.settings.max_inputs:
            raise LimitExceeded("too_many_inputs", f"over {self.settings.max_inputs} inclusions")
        if self.chars > self.settings.max_chars:
            raise LimitExceeded("too_large_text", f"over {self.settings.max_chars} characters inlined")
        if self.deadline is not None:
            self.deadline.check()

    def text(self, name: str, depth: int = 0, stack: tuple = ()) -> str:
        base = posixpath.dirname(stack[0]) if stack else posixpath.dirname(name)

        def repl(m: re.Match) -> str:
            target = m.group(1) or m.group(2) or m.group(4)
            path = self.resolve(target, base, m.group(3) or "")
            if path is None or path in stack or depth > self.settings.max_depth:
                self.unresolved.append(target)
                return ""
            self.include(path)
            return self.text(path, depth + 1, stack + (name,))

        return _INPUT.sub(repl, self.files[name])


def inline_inputs(
    name: str,
    files: dict[str, str],
    unresolved: list[str],
    settings: TextSettings = TextSettings(),
    deadline: Deadline | None = None,
) -> str:
    """The text of ``name`` with ``\\input``/``\\include``/``\\subfile``/``\\import`` replaced by the
    (comment-free) files they name, recursively; names not in the archive are recorded in ``unresolved``
    and dropped.  More inclusions or characters than ``settings`` allow raise :class:`LimitExceeded`."""
    inliner = _Inliner(files, settings, deadline)
    try:
        return inliner.text(name)
    finally:
        unresolved.extend(inliner.unresolved)


_THEBIBLIOGRAPHY = (re.compile(r"\\begin\{thebibliography\}"), re.compile(r"\\end\{thebibliography\}"))
_BIB = [
    re.compile(rf"\\bibliography(?:style)?\s*\{{{NAME}\}}"),
    re.compile(r"\\printbibliography(?:\[[^\[\]]{0,1024}\])?"),
    re.compile(rf"\\addbibresource\s*\{{{NAME}\}}"),
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
    tex = drop_spans(tex, *_THEBIBLIOGRAPHY)
    for pattern in _BIB:
        tex = pattern.sub("", tex)
    return tex


def tidy(text: str) -> str:
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def pandoc(tex: str, to: str = "markdown", timeout: float = PANDOC_TIMEOUT) -> str:
    """Convert LaTeX with the pandoc binary shipped by ``pypandoc-binary``, sandboxed (no file or
    environment access), with a time and a heap limit."""
    import pypandoc

    proc = subprocess.run(
        [pypandoc.get_pandoc_path(), "--sandbox", "--from=latex", f"--to={to}", "--wrap=none"]
        + ["+RTS", f"-M{PANDOC_MAX_HEAP}", "-RTS"],
        input=tex,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip()[:300])
    return proc.stdout


def _convert(preamble: str, body: str, settings: TextSettings, deadline: Deadline | None) -> str:
    """pandoc on the paper (preamble included, so the paper's own macros expand; without --standalone it
    writes the body only), then on the body alone when the preamble is more than pandoc can read."""
    # pandoc would move the abstract into metadata, so make it a section
    body = re.sub(r"\\begin\{abstract\}", r"\\section*{Abstract}", body).replace("\\end{abstract}", "")
    documents = [
        f"{drop_bibliography(preamble)}\\begin{{document}}\n{body}\n\\end{{document}}\n",
        f"\\documentclass{{article}}\n\\begin{{document}}\n{body}\n\\end{{document}}\n",
    ]
    for i, doc in enumerate(documents):
        timeout = settings.pandoc_timeout
        if deadline is not None:
            deadline.check()
            timeout = min(timeout, deadline.remaining())
        try:
            return pandoc(doc, settings.pandoc_to, timeout)
        except subprocess.TimeoutExpired:
            if timeout < settings.pandoc_timeout:
                raise LimitExceeded(deadline.reason, f"over {deadline.seconds:g} s") from None
            raise LimitExceeded("pandoc_timeout", f"over {timeout:g} s") from None
        except RuntimeError:
            if i == len(documents) - 1:
                raise LimitExceeded("pandoc_error") from None
    raise AssertionError("unreachable")


def latex_to_text(
    files: dict[str, bytes], settings: TextSettings = TextSettings(), deadline: Deadline | None = None
) -> tuple[str, dict] | str:
    """Clean text of a paper from its TeX files, with details for the metadata; a string is the reason
    for having none (``no_main_tex``, ``pandoc_error``, ``pandoc_timeout``, or a bound's reason)."""
    try:
        texts = {}
        for name, data in files.items():
            texts[name] = strip_comments(decode_tex(data))
            if deadline is not None:
                deadline.check()
        main = find_main(texts)
        if main is None:
            return "no_main_tex"
        unresolved: list[str] = []
        preamble, body = split_document(inline_inputs(main, texts, unresolved, settings, deadline))
        body = drop_bibliography(body)
        info = {"main_file": main, "format": settings.fmt}
        if unresolved:
            info["unresolved_inputs"] = sorted(set(unresolved))
        if settings.fmt == "latex":
            return tidy(body), info
        return tidy(_convert(preamble, body, settings, deadline)), info
    except LimitExceeded as e:
        return e.reason


def id_month(arxiv_id: str) -> str | None:
    """First day of the submission month encoded in a new-style id (``2310.01234`` -> 2023-10-01)."""
    m = re.match(r"(\d{2})(\d{2})\.\d{4,5}(v\d+)?$", arxiv_id)
    if not m or not 1 <= int(m.group(2)) <= 12:
        return None
    return f"20{m.group(1)}-{m.group(2)}-01T00:00:00Z"
