"""Small file helpers shared by the pipelines: JSON lines, atomic writes, short digests."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path


def is_plain_name(name: str) -> bool:
    """True for a name that stays one entry inside its folder: not empty, not ``.`` or ``..``, no path
    separator, no NUL, not hidden and not a work file (``.partial``)."""
    return (
        bool(name)
        and name not in (".", "..")
        and not name.startswith((".", "-"))
        and not name.endswith(".partial")
        and not any(c in name for c in "/\\\0")
    )


def read_jsonl(path: str | os.PathLike) -> Iterator[dict]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def json_line(row: dict) -> str:
    return json.dumps(row, ensure_ascii=False) + "\n"


class AtomicWriter:
    """Write a text file under a temporary name and move it into place on success only, so that a
    half-written file never looks finished."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.tmp = self.path.with_name(self.path.name + f".tmp{os.getpid()}")

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.f = open(self.tmp, "w", encoding="utf-8")
        return self.f

    def __exit__(self, exc_type, exc, tb):
        self.f.close()
        if exc_type is None:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)
        return False


def write_json(path: str | os.PathLike, data) -> None:
    with AtomicWriter(path) as f:
        json.dump(data, f, indent=2, ensure_ascii=False)
        f.write("\n")


def jsonable(value):
    """``value`` as plain JSON types (paths and dates become strings)."""
    return json.loads(json.dumps(value, default=str))


def fingerprint(names: Iterable[str]) -> str:
    """Short hash of a set of names (input files, repositories): a changed set re-runs the stage reading them."""
    return hashlib.sha1("\n".join(sorted(names)).encode("utf-8", "surrogatepass")).hexdigest()[:16]


def file_digest(path: str | os.PathLike | None) -> str | None:
    """Short content hash of a small input file (a repository list)."""
    path = Path(path) if path else None
    return hashlib.sha1(path.read_bytes()).hexdigest()[:16] if path and path.is_file() else None
