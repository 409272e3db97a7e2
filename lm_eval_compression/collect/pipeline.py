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

from datatrove.pipeline.dedup.minhash import MinhashDedupBuckets
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
from .manifest import ManifestStep
from .sampling import EvalWriter, SampleStep
from .stages import ExecutorOptions, Stage, run_stages
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


@dataclass
class Corpus:
    """What differs between the pipelines: the reader, the filters before and after exact dedup, how
    text is compared, and what goes into the manifest besides the stats."""

    area: str
    reader: Blocks
    reader_params: dict
    early_filters: Blocks = lambda folder: []
    early_params: dict = field(default_factory=dict)
    late_filters: Blocks = lambda folder: []
    late_params: dict = field(default_factory=dict)
    normalize_whitespace: bool = False
    shingle_mode: str = "words"
    fetch_steps: list = field(default_factory=list)
    manifest_extra: dict = field(default_factory=dict)


def reader(folder: Path) -> JsonlReader:
    folder.mkdir(parents=True, exist_ok=True)
    return JsonlReader(str(folder), compression=None, add_file_path=False, glob_pattern="*.jsonl")


def build_stages(corpus: Corpus, args, work: Path, parameters: dict, date_range: dict) -> list[Stage]:
    d = {name: work / "stages" / f"{i:02d}_{name}" for i, name in enumerate(STAGES, 1)}
    config = minhash_config(args.near_dup_threshold, args.num_perm, 5)
    shingle = "5 code tokens" if corpus.shingle_mode == "code" else "5 words"
    near = {
        "threshold": args.near_dup_threshold,
        "num_perm": args.num_perm,
        "bands": config.num_buckets,
        "rows": config.hashes_per_bucket,
        "shingle": shingle,
    }
    refs = [str(Path(r)) for r in args.decontaminate]

    def decontaminate(folder: Path) -> list:
        if not refs:
            return []
        return [
            ContaminationFilter(references=refs, n=args.ngram, exclusion_writer=dropped_writer(folder, "decontaminate"))
        ]

    stages = [
        Stage(
            "extract",
            lambda f: [
                *corpus.reader(f),
                *corpus.early_filters(f),
                ExactDedupSignature(str(f / "exact_sigs"), corpus.normalize_whitespace),
                doc_writer(f / "docs"),
            ],
            {**corpus.reader_params, **corpus.early_params},
        ),
        Stage(
            "exact_dedup_find",
            lambda f: [ExactDedupFind(str(d["extract"] / "exact_sigs"), str(f))],
            {"normalize_whitespace": corpus.normalize_whitespace},
            tasks=1,
        ),
        Stage(
            "exact_dedup",
            lambda f: [
                reader(d["extract"] / "docs"),
                ExactDedupFilter(str(d["exact_dedup_find"]), exclusion_writer=dropped_writer(f, "exact_dedup")),
                *corpus.late_filters(f),
                doc_writer(f / "docs"),
                NearDupSignature(str(f / "minhash"), config, corpus.shingle_mode),
            ],
            {**corpus.late_params, "near_dedup": near},
        ),
        Stage(
            "near_dedup_buckets",
            lambda f: [MinhashDedupBuckets(str(d["exact_dedup"] / "minhash"), str(f / "dups"), config=config)],
            near,
            tasks=config.num_buckets,
        ),
        Stage(
            "near_dedup_clusters",
            lambda f: [
                NearDupCluster(
                    str(d["near_dedup_buckets"] / "dups"),
                    str(d["exact_dedup"] / "minhash"),
                    str(f),
                    config,
                    args.near_dup_threshold,
                )
            ],
            near,
            tasks=1,
        ),
        Stage(
            "near_dedup",
            lambda f: [
                reader(d["exact_dedup"] / "docs"),
                NearDupFilter(str(d["near_dedup_clusters"]), exclusion_writer=dropped_writer(f, "near_dedup")),
                *decontaminate(f),
                doc_writer(f / "docs"),
            ],
            {**near, "references": refs, "ngram": args.ngram},
        ),
        Stage(
            "sample",
            lambda f: [
                reader(d["near_dedup"] / "docs"),
                SampleStep(args.target_chars, args.seed),
                EvalWriter(str(args.out), corpus.area),
            ],
            {"target_chars": args.target_chars, "seed": args.seed, "out": str(args.out)},
            tasks=1,
        ),
        Stage(
            "manifest",
            lambda f: [
                ManifestStep(
                    corpus.area,
                    str(work),
                    [str(d[n]) for n in STAGES[:-1]],
                    corpus.fetch_steps,
                    parameters,
                    date_range,
                    corpus.manifest_extra,
                )
            ],
            {},
            tasks=1,
            always=True,
        ),
    ]
    assert [s.name for s in stages] == list(STAGES)
    return stages


def executor_options(args, area: str) -> ExecutorOptions:
    sbatch = dict(item.split("=", 1) for item in (args.sbatch_arg or []))
    return ExecutorOptions(
        kind=args.executor,
        tasks=args.tasks,
        workers=args.workers,
        partition=args.partition,
        time=args.time,
        cpus_per_task=args.cpus_per_task,
        mem_per_cpu_gb=args.mem_per_cpu_gb,
        job_name=args.job_name or f"collect_{area}",
        venv_path=args.venv,
        sbatch_args=sbatch,
        ray_address=args.ray_address,
    )


def run_corpus(corpus: Corpus, args, work: Path, parameters: dict, date_range: dict) -> list[Path]:
    """Build and run (or submit) the stages of one corpus."""
    stages = build_stages(corpus, args, work, parameters, date_range)
    return run_stages(work, stages, executor_options(args, corpus.area), force=args.force)
