"""Network steps that run in the calling process before the document stages (GitHub search and clones,
arXiv listing and downloads): each writes ``<work>/<name>.stats.json``, which the manifest reports."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from .files import jsonable, write_json


def run_fetch(
    work: Path,
    name: str,
    fetch: Callable[[], dict],
    params: dict,
    outputs: Iterable[Path] = (),
    always: bool = False,
    force: bool = False,
) -> dict:
    """Run ``fetch()`` (which returns its stats) unless its outputs exist and were made with the same
    ``params``.  ``always`` is for steps that resume item by item (clone, download)."""
    stats_path = work / f"{name}.stats.json"
    params = jsonable(params)
    if not (always or force) and stats_path.exists() and all(Path(p).exists() for p in outputs):
        done = json.loads(stats_path.read_text(encoding="utf-8"))
        if done.get("params") == params:
            print(f"[collect] {name}: done before, skipped (use --force to redo)", file=sys.stderr)
            return done
    start = time.monotonic()
    stats = {"name": name, "kind": "fetch", **fetch(), "params": params, "seconds": round(time.monotonic() - start, 3)}
    stats.pop("changed", None)
    write_json(stats_path, stats)
    print(f"[collect] {name}: {json.dumps({k: v for k, v in stats.items() if k != 'params'})}", file=sys.stderr)
    return stats
