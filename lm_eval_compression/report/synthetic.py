"""Synthetic lm-eval results files for the report's documented example and its tests.

Files are written by the harness's own writer, ``lm_eval.loggers.EvaluationTracker``,
from a dict shaped like ``lm_eval.evaluator.simple_evaluate``'s output, so the
report reads exactly what ``lm_eval --output_path`` produces.  The numbers are
made up: scores linear in bpc, except coding's, which is logarithmic in bpc
(:class:`LogCurve`), with noise, over eight models by default, or 24 in tight
clusters with more benchmarks per area (:func:`crowded_models`).
"""

from __future__ import annotations

import copy
import hashlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

CORPORA = {  # task -> (dataset name, documents)
    "compression_cc": ("cc", 120),
    "compression_python": ("python", 80),
    "compression_arxiv_math": ("arxiv_math", 60),
}
DEFAULT_SETTINGS = {
    "block_size": 1024,
    "stride": 512,
    "protocol": "document",
    "window_bos_setting": "auto",
    "window_bos": True,
}
# benchmark metric -> (task, metric key); keys as the harness writes them
BENCHMARKS = {
    "hellaswag/acc_norm": ("hellaswag", "acc_norm,none"),
    "arc_easy/acc": ("arc_easy", "acc,none"),
    "humaneval/pass@1,create_test": ("humaneval", "pass@1,create_test"),
    "gsm8k/exact_match,strict-match": ("gsm8k", "exact_match,strict-match"),
}
MODEL_NAMES = [
    "synthetic/lm-70m",
    "synthetic/lm-160m",
    "synthetic/lm-410m",
    "synthetic/lm-1b",
    "synthetic/lm-1.4b",
    "synthetic/lm-2.8b",
    "synthetic/lm-6.9b",
    "synthetic/lm-12b",
]
# corpus -> (bpc at quality 0, change to quality 1); noise sd BPC_NOISE.  Each corpus spans a factor of two or
# more in bpc, so that a line in bpc and a line in ln(bpc) differ by more than the noise.
BPC_LINES = {
    "compression_cc": (0.95, -0.55),
    "compression_python": (0.50, -0.36),
    "compression_arxiv_math": (0.70, -0.48),
}
BPC_NOISE = 0.01


@dataclass(frozen=True)
class LogCurve:
    """A benchmark whose score is logarithmic in one corpus's bpc: intercept + slope * ln(bpc), plus normal
    noise of sd ``sd``, where bpc is the corpus's value on its line in BPC_LINES before the bpc noise."""

    corpus: str
    intercept: float
    slope: float
    sd: float

    def score(self, quality: float) -> float:
        start, change = BPC_LINES[self.corpus]
        return self.intercept + self.slope * float(np.log(start + change * quality))


# benchmark -> (score at quality 0, change to quality 1, noise sd): linear in quality, so in bpc;
# or a LogCurve: logarithmic in bpc (coding, as Luo et al., 2025, report)
SCORE_LINES = {
    "hellaswag/acc_norm": (0.30, 0.42, 0.03),
    "arc_easy/acc": (0.42, 0.33, 0.03),
    "humaneval/pass@1,create_test": LogCurve("compression_python", -0.25, -0.40, 0.02),
    "gsm8k/exact_match,strict-match": (0.03, 0.46, 0.04),
}
# more benchmarks per area, for a crowded example
MORE_SCORE_LINES = {
    "arc_challenge/acc_norm": (0.22, 0.35, 0.03),
    "winogrande/acc": (0.50, 0.25, 0.03),
    "piqa/acc_norm": (0.60, 0.22, 0.02),
    "openbookqa/acc_norm": (0.26, 0.20, 0.03),
    "mbpp/pass_at_1": (0.02, 0.38, 0.03),
    "minerva_math/exact_match": (0.01, 0.25, 0.02),
    "mathqa/acc_norm": (0.22, 0.20, 0.02),
}
CROWDED_AREAS = {  # area preset -> benchmarks, for the crowded example
    "knowledge": [
        "hellaswag/acc_norm",
        "arc_easy/acc",
        "arc_challenge/acc_norm",
        "winogrande/acc",
        "piqa/acc_norm",
        "openbookqa/acc_norm",
    ],
    "coding": ["humaneval/pass@1,create_test", "mbpp/pass_at_1"],
    "math": ["gsm8k/exact_match,strict-match", "minerva_math/exact_match", "mathqa/acc_norm"],
}


def corpus_sha(task: str, variant: str = "") -> str:
    """Stand-in for the hash of a corpus's evaluated documents."""
    return hashlib.sha256(f"{task}:{variant}".encode()).hexdigest()


def _score(curve, quality: float, rng: np.random.Generator, noise: float) -> float:
    """One benchmark score: on its line in quality or on its LogCurve, plus noise, within [0, 1]."""
    if isinstance(curve, LogCurve):
        value = curve.score(quality) + rng.normal(0, curve.sd * noise)
    else:
        start, change, sd = curve
        value = start + change * quality + rng.normal(0, sd * noise)
    return round(float(min(max(value, 0.0), 1.0)), 4)


def synthetic_models(
    n: int = 8,
    seed: int = 0,
    *,
    quality=None,
    names: list[str] | None = None,
    score_lines: dict | None = None,
    noise: float = 1.0,
) -> list[dict]:
    """Per model: name, bpc per corpus, score per benchmark, with noise around a line or a log curve.

    A latent 'quality' in [0, 1] (evenly spaced unless given) lowers bpc and raises
    scores; scores follow the quality, so bpc noise shows up as scatter around the
    fit (the paper's r is about -0.95).  ``noise`` scales every noise sd.
    """
    rng = np.random.default_rng(seed)
    quality = np.linspace(0.0, 1.0, n) if quality is None else np.asarray(quality, dtype=float)
    names = names or MODEL_NAMES
    score_lines = SCORE_LINES if score_lines is None else score_lines
    models = []
    for i, q in enumerate(quality):
        bpc = {t: start + change * q + rng.normal(0, BPC_NOISE * noise) for t, (start, change) in BPC_LINES.items()}
        models.append(
            {
                "model": names[i] if i < len(names) else f"synthetic/lm-{i}",
                "bpc": {t: round(float(v), 5) for t, v in bpc.items()},
                "scores": {spec: _score(curve, q, rng, noise) for spec, curve in score_lines.items()},
            }
        )
    return models


def crowded_models(n: int = 24, seed: int = 1) -> list[dict]:
    """``n`` models in tight clusters of three (close points), scored on every benchmark of CROWDED_AREAS."""
    rng = np.random.default_rng(seed)
    clusters = -(-n // 3)
    quality = np.clip(np.repeat(np.linspace(0.0, 1.0, clusters), 3)[:n] + rng.normal(0, 0.01, n), 0.0, 1.0)
    families = ["alpha", "beta-instruct", "gamma"]
    sizes = [f"{s}b" for s in ("0.1", "0.3", "0.5", "1", "1.5", "3", "7", "13", "34", "70")]
    names = [f"synthetic/{families[i % 3]}-{sizes[i // 3 % len(sizes)]}" for i in range(n)]
    return synthetic_models(n, seed, quality=quality, names=names, score_lines={**SCORE_LINES, **MORE_SCORE_LINES})


@dataclass(frozen=True)
class RunVariant:
    """How a synthetic run differs from the default one: per-task window settings (``settings``), no
    ``compression`` group row (``group``), settings recorded in the task metadata only (``metadata_only``),
    other documents per task (``corpus_variant``), ``lm_eval --limit`` (``limit``), and the model args
    (default ``pretrained=MODEL,dtype=float32``)."""

    settings: Mapping[str, dict] = field(default_factory=dict)
    group: bool = True
    metadata_only: bool = False
    corpus_variant: Mapping[str, str] = field(default_factory=dict)
    limit: int | None = None
    model_args: str | None = None


def compression_config(task: str, variant: RunVariant = RunVariant()) -> dict:
    """``configs[task]`` of a compression task: metadata plus the plugin's ``compression`` settings block."""
    name, documents = CORPORA.get(task, (task, 10))
    corpus_variant = variant.corpus_variant.get(task, "")
    if variant.limit is not None:
        documents = min(variant.limit, documents)
        corpus_variant = f"{corpus_variant}|first {documents}"
    effective = {**DEFAULT_SETTINGS, **variant.settings.get(task, {})}
    config = {
        "task": task,
        "tag": ["compression"],
        "dataset_path": "hkust-nlp/llm-compression",
        "dataset_name": name,
        "test_split": "test",
        "output_type": "loglikelihood_rolling",
        "metric_list": [{"metric": "bpc", "aggregation": "bpc", "higher_is_better": False}],
        "metadata": {"version": 1.0, **{k: effective[k] for k in ("block_size", "stride", "protocol")}},
    }
    if not variant.metadata_only:
        config["compression"] = {
            "prefix_token_id": 0,
            "prefix_token": "<|endoftext|>",
            "corpus": f"hkust-nlp/llm-compression:{name}",
            "corpus_sha256": corpus_sha(task, corpus_variant),
            "documents": documents,
            "total_nats": 1.0e6,
            "total_chars": 2.0e6,
            "total_bytes": 2.1e6,
            "scored_tokens": 5.0e5,
            **effective,
        }
    return config


@dataclass
class _Sections:
    """The per-task sections of a results file, filled task by task."""

    results: dict = field(default_factory=dict)
    configs: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)
    n_shot: dict = field(default_factory=dict)
    higher: dict = field(default_factory=dict)
    n_samples: dict = field(default_factory=dict)
    group_subtasks: dict = field(default_factory=dict)
    groups: dict = field(default_factory=dict)

    def task(self, task: str, higher: dict, original: int, limit: int | None) -> None:
        self.versions[task], self.n_shot[task] = 1.0, 0
        self.higher.setdefault(task, {}).update(higher)
        self.n_samples[task] = {"original": original, "effective": min(original, limit or original)}
        self.group_subtasks.setdefault(task, [])


def _add_compression(sections: _Sections, bpc: dict[str, float], variant: RunVariant) -> None:
    for task, value in bpc.items():
        sections.results[task] = {"alias": f" - {task}", "bpc,none": value, "bpc_stderr,none": round(value * 0.004, 6)}
        sections.configs[task] = compression_config(task, variant)
        sections.task(task, {"bpc": False}, CORPORA.get(task, (task, 10))[1], variant.limit)
    if variant.group and bpc:
        row = {"alias": "compression", "bpc,none": sum(bpc.values()) / len(bpc), "bpc_stderr,none": "N/A"}
        sections.results = {"compression": row, **sections.results}
        sections.groups = {"compression": dict(row)}
        sections.versions["compression"], sections.n_shot["compression"] = 1.0, 0
        sections.higher["compression"] = {"bpc": False}
        sections.group_subtasks["compression"] = list(bpc)


def _add_benchmarks(sections: _Sections, scores: dict[str, float], limit: int | None) -> None:
    for spec, value in scores.items():
        task, key = BENCHMARKS.get(spec) or _spec_key(spec)
        entry = sections.results.setdefault(task, {"alias": task})
        entry[key] = value
        metric, _, filt = key.partition(",")
        entry[f"{metric}_stderr,{filt}"] = 0.01
        config = {"task": task, "output_type": "multiple_choice", "metadata": {"version": 1.0}}
        sections.configs.setdefault(task, config)
        sections.task(task, {metric: True}, 1000, limit)


def _run_config(model: str, variant: RunVariant) -> dict:
    """The results file's ``config`` section: the model and the run's settings."""
    return {
        "model": "hf",
        "model_args": variant.model_args or f"pretrained={model},dtype=float32",
        "batch_size": 1,
        "batch_sizes": [],
        "device": "cpu",
        "use_cache": None,
        "limit": variant.limit,
        "bootstrap_iters": 0,
        "gen_kwargs": None,
        "random_seed": 0,
        "numpy_seed": 1234,
        "torch_seed": 1234,
        "fewshot_seed": 1234,
    }


def make_results(
    model: str, bpc: dict[str, float], scores: dict[str, float], variant: RunVariant = RunVariant()
) -> dict:
    """A ``simple_evaluate``-shaped results dict: ``bpc`` maps compression tasks to bpc, ``scores`` maps
    'task/metric[,filter]' (see BENCHMARKS) to values; ``variant`` says how the run differs."""
    sections = _Sections()
    _add_compression(sections, bpc, variant)
    _add_benchmarks(sections, scores, variant.limit)
    out = {
        "results": sections.results,
        "group_subtasks": sections.group_subtasks,
        "configs": sections.configs,
        "versions": sections.versions,
        "n-shot": sections.n_shot,
        "higher_is_better": sections.higher,
        "n-samples": sections.n_samples,
        "config": _run_config(model, variant),
        "git_hash": None,
        "date": time.time(),
    }
    if sections.groups:
        out["groups"] = sections.groups
    return out


def _spec_key(spec: str) -> tuple[str, str]:
    task, _, rest = spec.partition("/")
    metric, _, filt = rest.partition(",")
    return task, f"{metric},{filt or 'none'}"


def write_results(out_dir: str | Path, model: str, results: dict) -> Path:
    """Save ``results`` with the harness's EvaluationTracker; returns the results_*.json it wrote."""
    from lm_eval.loggers import EvaluationTracker

    logging.getLogger("lm_eval").setLevel(logging.ERROR)
    tracker = EvaluationTracker(output_path=str(out_dir))
    tracker.general_config_tracker.log_experiment_args(
        model_source="hf",
        model_args=results["config"]["model_args"],
        system_instruction=None,
        chat_template=None,
        fewshot_as_multiturn=False,
    )
    before = set(Path(out_dir).rglob("results_*.json"))
    tracker.save_results_aggregated(results=copy.deepcopy(results), samples=None)
    written = sorted(set(Path(out_dir).rglob("results_*.json")) - before)
    if len(written) != 1:  # the tracker only logs failures; make them loud here
        raise RuntimeError(f"EvaluationTracker wrote {written} under {out_dir}")
    return written[0]


def write_suite(
    out_dir: str | Path, models: list[dict] | None = None, variant: RunVariant = RunVariant()
) -> dict[str, Path]:
    """Write one results file per synthetic model under ``out_dir``; model name -> file."""
    models = synthetic_models() if models is None else models
    return {
        m["model"]: write_results(out_dir, m["model"], make_results(m["model"], m["bpc"], m["scores"], variant))
        for m in models
    }
