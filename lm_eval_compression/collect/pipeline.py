"""The stages every corpus pipeline shares, around its own reader and filters.

extract             N tasks  reader (source files -> documents), the area's early filters,
                             exact-dedup signatures, documents written
exact_dedup_find    1 task   groups of identical documents
exact_dedup         N tasks  later copies dropped, the area's later filters, MinHash signatures
near_dedup_buckets  B tasks  datatrove's MinHash bucket stage (one task per LSH band)
near_dedup_clusters 1 task   clusters of near-duplicates
near_dedup          N tasks  all but the first of each cluster dropped, optional decontamination
sample              1 task   seeded sample up to --target-chars, written as <out>/<area>.jsonl
manifest            1 task   <out>/<area>.manifest.json from the stats of all stages
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupBuckets
from datatrove.pipeline.readers import JsonlReader

from .contamination import ContaminationFilter
from .dedup import (
    ExactDedupFilter,
    ExactDedupFind,
    ExactDedupSignature,
    NearDupCluster,
    NearDupFilter,
    NearDupSignature,
    minhash_config,
)
from .manifest import ManifestSpec, ManifestStep
from .options import PipelineOptions
from .sampling import EvalWriter, SampleStep
from .stages import Stage, run_stages, stage_dirs
from .steps import doc_writer, dropped_writer

STAGES = (
    "extract",
    "exact_dedup_find",
    "exact_dedup",
    "near_dedup_buckets",
    "near_dedup_clusters",
    "near_dedup",
    "sample",
    "manifest",
)

# a factory gets the stage folder and returns blocks (their exclusion writers write under that folder)
Blocks = Callable[[Path], list]


@dataclass(frozen=True)
class AreaPipeline:
    """What differs between the areas' pipelines: the reader, the filters before and after exact dedup,
    how text is compared, and what goes into the manifest besides the stats."""

    area: str
    reader: Blocks
    reader_params: dict
    early_filters: Blocks = lambda folder: []
    early_params: dict = field(default_factory=dict)
    late_filters: Blocks = lambda folder: []
    late_params: dict = field(default_factory=dict)
    normalize_whitespace: bool = False
    shingle_mode: str = "words"
    fetch_steps: tuple[str, ...] = ()
    manifest_extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class _Plan:
    """What the stage builders share: the area, the options, every stage's folder, the MinHash settings."""

    pipeline: AreaPipeline
    options: PipelineOptions
    folders: dict[str, Path]
    config: MinhashConfig

    @property
    def near(self) -> dict:
        """The near-dedup settings, as every near-dedup stage records them."""
        return {
            "threshold": self.options.near_dup_threshold,
            "num_perm": self.options.num_perm,
            "bands": self.config.num_buckets,
            "rows": self.config.hashes_per_bucket,
            "shingle": "5 code tokens" if self.pipeline.shingle_mode == "code" else "5 words",
        }


def docs_reader(folder: Path) -> JsonlReader:
    """The documents a stage wrote (``<stage>/docs``), read back by the next."""
    folder.mkdir(parents=True, exist_ok=True)
    return JsonlReader(str(folder), compression=None, add_file_path=False, glob_pattern="*.jsonl")


def _extract(plan: _Plan) -> Stage:
    area = plan.pipeline
    return Stage(
        "extract",
        lambda f: [
            *area.reader(f),
            *area.early_filters(f),
            ExactDedupSignature(str(f / "exact_sigs"), area.normalize_whitespace),
            doc_writer(f / "docs"),
        ],
        {**area.reader_params, **area.early_params},
    )


def _exact_dedup(plan: _Plan) -> list[Stage]:
    d, area = plan.folders, plan.pipeline
    find = Stage(
        "exact_dedup_find",
        lambda f: [ExactDedupFind(str(d["extract"] / "exact_sigs"), str(f))],
        {"normalize_whitespace": area.normalize_whitespace},
        tasks=1,
    )
    drop = Stage(
        "exact_dedup",
        lambda f: [
            docs_reader(d["extract"] / "docs"),
            ExactDedupFilter(str(d["exact_dedup_find"]), exclusion_writer=dropped_writer(f, "exact_dedup")),
            *area.late_filters(f),
            doc_writer(f / "docs"),
            NearDupSignature(str(f / "minhash"), plan.config, area.shingle_mode),
        ],
        {**area.late_params, "near_dedup": plan.near},
    )
    return [find, drop]


def _decontaminate(plan: _Plan, folder: Path) -> list:
    refs = list(plan.options.decontaminate)
    if not refs:
        return []
    writer = dropped_writer(folder, "decontaminate")
    return [ContaminationFilter(references=refs, n=plan.options.ngram, exclusion_writer=writer)]


def _near_dedup(plan: _Plan) -> list[Stage]:
    d, config, near = plan.folders, plan.config, plan.near
    signatures = str(d["exact_dedup"] / "minhash")
    buckets = Stage(
        "near_dedup_buckets",
        lambda f: [MinhashDedupBuckets(signatures, str(f / "dups"), config=config)],
        near,
        tasks=config.num_buckets,
    )
    threshold = plan.options.near_dup_threshold
    clusters = Stage(
        "near_dedup_clusters",
        lambda f: [NearDupCluster(str(d["near_dedup_buckets"] / "dups"), signatures, str(f), config, threshold)],
        near,
        tasks=1,
    )
    drop = Stage(
        "near_dedup",
        lambda f: [
            docs_reader(d["exact_dedup"] / "docs"),
            NearDupFilter(str(d["near_dedup_clusters"]), exclusion_writer=dropped_writer(f, "near_dedup")),
            *_decontaminate(plan, f),
            doc_writer(f / "docs"),
        ],
        {**near, "references": list(plan.options.decontaminate), "ngram": plan.options.ngram},
    )
    return [buckets, clusters, drop]


def _sample(plan: _Plan) -> Stage:
    o = plan.options
    return Stage(
        "sample",
        lambda f: [
            docs_reader(plan.folders["near_dedup"] / "docs"),
            SampleStep(o.target_chars, o.seed),
            EvalWriter(str(o.out), plan.pipeline.area),
        ],
        {"target_chars": o.target_chars, "seed": o.seed, "out": str(o.out)},
        tasks=1,
    )


def _manifest(plan: _Plan) -> Stage:
    o, area = plan.options, plan.pipeline
    spec = ManifestSpec(
        area=area.area,
        work=str(o.work),
        stage_dirs=tuple(str(plan.folders[n]) for n in STAGES[:-1]),
        fetch_steps=area.fetch_steps,
        parameters=o.parameters,
        date_range=o.date_range,
        extra=area.manifest_extra,
    )
    return Stage("manifest", lambda f: [ManifestStep(spec)], {}, tasks=1, always=True)


def build_stages(area: AreaPipeline, options: PipelineOptions) -> list[Stage]:
    """The stages of one area's pipeline, in the order of :data:`STAGES`."""
    folders = dict(zip(STAGES, stage_dirs(options.work, list(STAGES)), strict=True))
    plan = _Plan(area, options, folders, minhash_config(options.near_dup_threshold, options.num_perm, 5))
    stages = [_extract(plan), *_exact_dedup(plan), *_near_dedup(plan), _sample(plan), _manifest(plan)]
    assert [s.name for s in stages] == list(STAGES)
    return stages


def run_area(area: AreaPipeline, options: PipelineOptions) -> list[Path]:
    """Build and run (or submit) the stages of one area's pipeline; returns the stage folders."""
    return run_stages(options.work, build_stages(area, options), options.executor, force=options.force)
