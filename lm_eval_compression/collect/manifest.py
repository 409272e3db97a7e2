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
from pathlib import Path

from datatrove.pipeline.base import PipelineStep

from .dates import iso
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


def build_manifest(
    area: str,
    work: Path,
    stage_dirs: list[Path],
    fetch_steps: list[str],
    parameters: dict,
    date_range: dict,
    extra: dict,
) -> dict:
    steps = []
    for name in fetch_steps:
        path = work / f"{name}.stats.json"
        if path.exists():
            steps.append(json.loads(path.read_text(encoding="utf-8")))
    first = True
    for folder in stage_dirs:
        params = json.loads((folder / "params.json").read_text(encoding="utf-8"))
        details = _details(folder)
        for block, counts in merged_stats(folder / "logs"):
            if block.startswith(STEP_TYPE + ": "):
                name = block[len(STEP_TYPE) + 2 :]
                steps.append({**step_entry(name, counts, params, first), **details.get(name, {})})
                first = False
    docs = [s for s in steps if s.get("kind") == "documents"]
    if not docs or docs[-1]["name"] != "sample":
        raise RuntimeError(f"{area}: no sample step in the stats under {work / 'stages'}: did every stage run?")
    sample = docs[-1]
    manifest = {
        "area": area,
        "output": f"{area}.jsonl",
        "created": iso(dt.datetime.now(dt.timezone.utc)),
        "date_range": date_range,
        "parameters": parameters,
        "steps": steps,
        "final": {
            "path": str(Path(parameters["out"]) / f"{area}.jsonl"),
            "docs": sample["out_docs"],
            "chars": sample["out_chars"],
            "target_chars": sample["params"].get("target_chars"),
        },
        "libraries": library_versions(),
        **extra,
    }
    decont = next((s for s in docs if s["name"] == "decontaminate"), None)
    if decont is not None:
        n_in, n_hit = decont["in_docs"], decont["dropped"].get("contaminated", 0)
        manifest["contamination"] = {
            "references": decont["params"]["references"],
            "ngram": decont["params"]["ngram"],
            "docs": n_in,
            "contaminated_docs": n_hit,
            "share": (n_hit / n_in) if n_in else 0.0,
        }
    return manifest


class ManifestStep(PipelineStep):
    """The last stage (one task): writes the manifest from the stats of the stages before it."""

    type = "📋 - MANIFEST"
    name = "manifest"

    def __init__(
        self,
        area: str,
        work: str,
        stage_dirs: list[str],
        fetch_steps: list[str],
        parameters: dict,
        date_range: dict,
        extra: dict,
    ):
        super().__init__()
        self.area, self.work, self.stage_dirs = area, work, stage_dirs
        self.fetch_steps, self.parameters, self.date_range, self.extra = fetch_steps, parameters, date_range, extra

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        manifest = build_manifest(
            self.area,
            Path(self.work),
            [Path(d) for d in self.stage_dirs],
            self.fetch_steps,
            self.parameters,
            self.date_range,
            self.extra,
        )
        path = Path(self.parameters["out"]) / f"{self.area}.manifest.json"
        write_json(path, manifest)
        final = manifest["final"]
        print(
            f"[collect] wrote {final['path']} ({final['docs']} documents, {final['chars']} characters) and {path}",
            file=sys.stderr,
        )
