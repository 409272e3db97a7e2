"""Bounds on what one input item (a paper, a download, a web record) may cost, with named defaults.

An item over a bound is dropped with a reason (:class:`LimitExceeded` carries it), never allowed to stop
the step or exhaust the machine.  The defaults are far above what real sources need:

=========================  ===========  ==========================================================
bound                      default      applies to
=========================  ===========  ==========================================================
MAX_SOURCE_BYTES           128 MiB      one arXiv source file, downloaded or local
MAX_EXPANDED_BYTES         256 MiB      one source after gzip (and tar) expansion
MAX_ARCHIVE_MEMBERS        10,000       members of one source's tar archive
MAX_MEMBER_BYTES           20 MB        one TeX file (larger members are not read)
MAX_INPUTS                 1,000        ``\\input``/``\\include`` inclusions inlined in one paper
MAX_INPUT_DEPTH            20           nesting of those inclusions
MAX_TEX_CHARS              32,000,000   characters of one paper's LaTeX after inlining
PAPER_TIMEOUT              300 s        everything done for one paper, pandoc included
MAX_RECORD_BYTES           8 MiB        the payload of one WARC/WET record
MAX_LISTING_BYTES          64 MiB       a Common Crawl paths listing, after gzip expansion
=========================  ===========  ==========================================================
"""

from __future__ import annotations

import time
from collections.abc import Callable

MIB = 1 << 20
MAX_SOURCE_BYTES = 128 * MIB
MAX_EXPANDED_BYTES = 256 * MIB
MAX_ARCHIVE_MEMBERS = 10_000
MAX_MEMBER_BYTES = 20_000_000
MAX_INPUTS = 1_000
MAX_INPUT_DEPTH = 20
MAX_TEX_CHARS = 32_000_000
PAPER_TIMEOUT = 300.0
MAX_RECORD_BYTES = 8 * MIB
MAX_LISTING_BYTES = 64 * MIB
READ_CHUNK = 1 << 16


class LimitExceeded(Exception):
    """An item went over a bound; ``reason`` is the drop reason recorded for it."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


class Deadline:
    """A time budget for one item; :meth:`check` raises ``LimitExceeded(reason)`` once it is spent."""

    def __init__(self, seconds: float, reason: str = "paper_timeout", clock: Callable[[], float] = time.monotonic):
        self.seconds = seconds
        self.reason = reason
        self.clock = clock
        self.end = clock() + seconds

    def remaining(self) -> float:
        return self.end - self.clock()

    def check(self) -> None:
        if self.remaining() <= 0:
            raise LimitExceeded(self.reason, f"over {self.seconds:g} s")


class CappedReader:
    """A binary stream that raises ``LimitExceeded(reason)`` as soon as more than ``limit`` bytes were read
    through it, so an expansion bomb costs at most ``limit`` bytes of work and one chunk of memory."""

    def __init__(self, raw, limit: int, reason: str):
        self.raw = raw
        self.limit = limit
        self.reason = reason
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        want = self.limit + 1 - self.count if n is None or n < 0 else min(n, self.limit + 1 - self.count)
        data = self.raw.read(max(want, 1))
        self.count += len(data)
        if self.count > self.limit:
            raise LimitExceeded(self.reason, f"over {self.limit} bytes")
        return data


def read_capped(stream, limit: int, reason: str) -> bytes:
    """All of ``stream``, or ``LimitExceeded(reason)`` when it holds more than ``limit`` bytes."""
    reader = CappedReader(stream, limit, reason)
    parts = []
    while chunk := reader.read(READ_CHUNK):
        parts.append(chunk)
    return b"".join(parts)
