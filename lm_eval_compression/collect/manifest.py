"""``<out>/<area>.manifest.json`` from datatrove's own per-task stats.

For every step (a block of type ``collect step``): documents and characters in and out, drops per reason,
its stage's parameters; before them the network steps (search, clone, list, download) from their stats
files; then the parameters, the date range, the final corpus and the library versions.  It is written by
the last stage of every pipeline, so that it also comes out of a Slurm or Ray run.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import platform
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from datatrove.pipeline.base import PipelineStep

from .dates import DateRange, iso
from .files import write_json
from .steps import STEP_TYPE

# distributions whose versions go into every manifest (missing ones are left out)
LIBRARIES = (
    "lm-eval-compression",
    "datatrove",
    "datasketch",
    "xxhash",
    "warcio",
    "trafilatura",
    "resiliparse",
    "lingua-language-detector",
    "spacy",
    "pypandoc-binary",
    "requests",
    "urllib3",
    "tqdm",
    "ray",
)
_COUNTS = ("total", "forwarded", "dropped", "doc_len", "in_chars")


def library_versions() -> dict:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return versions


def _total(value) -> float:
    return value if isinstance(value, (int, float)) else value.get("total", 0)


def merged_stats(logs: Path) -> list[tuple[str, dict]]:
    """Sum the per-task ``stats/<rank>.json`` files datatrove writes: ``[(block name, {label: total})]``."""
    blocks: list[tuple[str, dict]] = []
    for path in sorted((logs / "stats").glob("*.json")):
        for i, block in enumerate(json.loads(path.read_text(encoding="utf-8"))):
            if i == len(blocks):
                blocks.append((block["name"], defaultdict(int)))
            for label, value in block.get("stats", {}).items():
                blocks[i][1][label] += _total(value)
    return [(name, dict(counts)) for name, counts in blocks]


def step_entry(name: str, counts: dict, params: dict, first: bool) -> dict:
    dropped = {
        k[len("dropped_") :]: int(v)
        for k, v in counts.items()
        if k.startswith("dropped_") and not k.startswith("dropped_chars_")
    }
    entry = {"name": name, "kind": "documents", "in_docs": int(counts.get("total", 0))}
    if not first or "in_chars" in counts:
        entry["in_chars"] = int(counts.get("in_chars", 0))
    entry.update(
        {
            "out_docs": int(counts.get("forwarded", 0)),
            "out_chars": int(counts.get("doc_len", 0)),
            "dropped": dict(sorted(dropped.items())),
            "dropped_chars": {r: int(counts.get(f"dropped_chars_{r}", 0)) for r in sorted(dropped)},
        }
    )
    entry.update({k: v for k, v in counts.items() if k not in _COUNTS and not k.startswith("dropped_")})
    entry["params"] = params
    return entry


def _details(folder: Path) -> dict:
    """Per-task ``details/<rank>.json`` files of a stage ({step: {key: dict}}), merged."""
    merged: dict = defaultdict(dict)
    for path in sorted((folder / "details").glob("*.json")):
        for step, values in json.loads(path.read_text(encoding="utf-8")).items():
            for key, value in values.items():
                merged[step].setdefault(key, {}).update(value)
    return merged


@dataclass(frozen=True)
class ManifestSpec:
    """What the manifest is built from: the area, its work folder and stage folders, the network steps
    that ran before, the command line, the date range and the area's own extra entries."""

    area: str
    work: str
    stage_dirs: tuple[str, ...]
    fetch_steps: tuple[str, ...]
    parameters: dict
    date_range: DateRange
    extra: dict


def _steps(spec: ManifestSpec) -> list[dict]:
    """The network steps' stats, then one entry per document step of every stage."""
    work = Path(spec.work)
    fetched = [work / f"{n}.stats.json" for n in spec.fetch_steps]
    steps = [json.loads(p.read_text(encoding="utf-8")) for p in fetched if p.exists()]
    first = True
    for folder in map(Path, spec.stage_dirs):
        params = json.loads((folder / "params.json").read_text(encoding="utf-8"))
        details = _details(folder)
        for block, counts in merged_stats(folder / "logs"):
            if block.startswith(STEP_TYPE + ": "):
                name = block[len(STEP_TYPE) + 2 :]
                steps.append({**step_entry(name, counts, params, first), **details.get(name, {})})
                first = False
    return steps


def _contamination(docs: list[dict]) -> dict | None:
    decont = next((s for s in docs if s["name"] == "decontaminate"), None)
    if decont is None:
        return None
    n_in, n_hit = decont["in_docs"], decont["dropped"].get("contaminated", 0)
    return {
        "references": decont["params"]["references"],
        "ngram": decont["params"]["ngram"],
        "docs": n_in,
        "contaminated_docs": n_hit,
        "share": (n_hit / n_in) if n_in else 0.0,
    }


def build_manifest(spec: ManifestSpec) -> dict:
    steps = _steps(spec)
    docs = [s for s in steps if s.get("kind") == "documents"]
    if not docs or docs[-1]["name"] != "sample":
        stages = Path(spec.work) / "stages"
        raise RuntimeError(f"{spec.area}: no sample step in the stats under {stages}: did every stage run?")
    sample = docs[-1]
    manifest = {
        "area": spec.area,
        "output": f"{spec.area}.jsonl",
        "created": iso(dt.datetime.now(dt.timezone.utc)),
        "date_range": spec.date_range.to_json(),
        "parameters": spec.parameters,
        "steps": steps,
        "final": {
            "path": str(Path(spec.parameters["out"]) / f"{spec.area}.jsonl"),
            "docs": sample["out_docs"],
            "chars": sample["out_chars"],
            "target_chars": sample["params"].get("target_chars"),
        },
        "libraries": library_versions(),
        **spec.extra,
    }
    contamination = _contamination(docs)
    if contamination is not None:
        manifest["contamination"] = contamination
    return manifest


class ManifestStep(PipelineStep):
    """The last stage (one task): writes the manifest from the stats of the stages before it."""

    type = "📋 - MANIFEST"
    name = "manifest"

    def __init__(self, spec: ManifestSpec):
        super().__init__()
        self.spec = spec

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        manifest = build_manifest(self.spec)
        path = Path(self.spec.parameters["out"]) / f"{self.spec.area}.manifest.json"
        write_json(path, manifest)
        final = manifest["final"]
        print(
            f"[collect] wrote {final['path']} ({final['docs']} documents, {final['chars']} characters) and {path}",
            file=sys.stderr,
        )
