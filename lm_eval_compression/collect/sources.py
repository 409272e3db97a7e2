"""The TeX files of one arXiv source file (a gzipped tar, a gzipped single file, or a plain file), read as
a stream under the bounds of :class:`SourceLimits`, so a damaged or hostile file is one dropped paper."""

from __future__ import annotations

import gzip
import posixpath
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from .files import is_plain_name
from .limits import (
    MAX_ARCHIVE_MEMBERS,
    MAX_EXPANDED_BYTES,
    MAX_MEMBER_BYTES,
    MAX_SOURCE_BYTES,
    CappedReader,
    Deadline,
    LimitExceeded,
    read_capped,
)

TEX_SUFFIXES = (".tex", ".ltx", ".bbl")
BAD_ARCHIVE = (tarfile.TarError, OSError, EOFError, zlib.error)  # gzip.BadGzipFile is an OSError


@dataclass(frozen=True)
class SourceLimits:
    """How large one paper's source may be: the file, its expansion, its members, one TeX file."""

    max_source_bytes: int = MAX_SOURCE_BYTES
    max_expanded_bytes: int = MAX_EXPANDED_BYTES
    max_members: int = MAX_ARCHIVE_MEMBERS
    max_member_bytes: int = MAX_MEMBER_BYTES


def source_name(arxiv_id: str) -> str | None:
    """The file name of a paper's source (old-style ids hold a slash: ``math/0601001`` -> ``math_0601001``);
    None for an id that would name anything but one file inside the sources folder."""
    name = arxiv_id.replace("/", "_")
    return name if is_plain_name(name) else None


class _Prepended:
    """``head`` followed by the rest of ``stream``, as one binary stream."""

    def __init__(self, head: bytes, stream):
        self.head = head
        self.stream = stream

    def read(self, n: int = -1) -> bytes:
        if not self.head:
            return self.stream.read(n)
        if n is None or n < 0:
            data, self.head = self.head + self.stream.read(), b""
            return data
        data, self.head = self.head[:n], self.head[n:]
        return data


def _is_tar_header(block: bytes) -> bool:
    try:
        tarfile.TarInfo.frombuf(block, tarfile.ENCODING, "surrogateescape")
    except tarfile.HeaderError:
        return False
    return True


def _tar_members(stream, limits: SourceLimits, deadline: Deadline | None) -> dict[str, bytes]:
    """The TeX members of a tar stream, read in one pass (``r|``: nothing else is held in memory)."""
    files = {}
    with tarfile.open(fileobj=stream, mode="r|") as tf:
        for count, member in enumerate(tf, 1):
            if count > limits.max_members:
                raise LimitExceeded("too_many_members", f"over {limits.max_members} members")
            if deadline is not None:
                deadline.check()
            name = posixpath.normpath(member.name.lstrip("/"))
            if member.isfile() and member.size <= limits.max_member_bytes and name.lower().endswith(TEX_SUFFIXES):
                files[name] = tf.extractfile(member).read()
    return files


def read_source(
    path: Path, limits: SourceLimits = SourceLimits(), deadline: Deadline | None = None
) -> dict[str, bytes] | str:
    """The TeX files of an arXiv source; a string is the reason it has none: ``pdf_only``, ``bad_archive``
    (damaged), or the reason of the bound of ``limits`` it exceeds (or ``deadline``'s, when it passes)."""
    size = path.stat().st_size
    if size > limits.max_source_bytes:
        return "too_large_source"
    try:
        with open(path, "rb") as raw:
            gzipped = raw.read(2) == b"\x1f\x8b"
            raw.seek(0)
            expanded = gzip.GzipFile(fileobj=raw) if gzipped else raw
            stream = CappedReader(expanded, limits.max_expanded_bytes, "too_large_expanded")
            head = stream.read(512)
            if head[:5] == b"%PDF-":
                return "pdf_only"
            if len(head) == 512 and _is_tar_header(head):
                return _tar_members(_Prepended(head, stream), limits, deadline)
            rest = read_capped(stream, max(limits.max_member_bytes - len(head), 0), "too_large_tex")
    except LimitExceeded as e:
        return e.reason
    except BAD_ARCHIVE:
        return "bad_archive"
    return {"main.tex": head + rest}
