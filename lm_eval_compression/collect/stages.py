"""Runs a pipeline's stages with one of datatrove's executors (local, Ray or Slurm).

A stage is one datatrove executor run over ``tasks`` tasks; its folder ``<work>/stages/<nn>_<name>/``
holds datatrove's logging folder (``logs/``: per-task stats, completions, task logs) and what the stage
writes (documents, dropped documents, dedup files).  Resuming is datatrove's ``skip_completed``: finished
tasks are not run again.  A stage whose parameters changed (or every stage, with ``--force``) is cleared
first, and so is every stage after it, so that outputs never mix results of different settings.
"""

from __future__ import annotations

import json
import math
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .files import jsonable, write_json

EXECUTORS = ("local", "ray", "slurm")


@dataclass
class Stage:
    """``build(folder)`` returns the stage's datatrove blocks; ``tasks`` None means ``--tasks``."""

    name: str
    build: Callable[[Path], list]
    params: dict = field(default_factory=dict)
    tasks: int | None = None
    always: bool = False  # run every time (the manifest)


@dataclass(frozen=True)
class ExecutorOptions:
    """Where the stages run: datatrove's local, Ray or Slurm executor, over ``tasks`` tasks, ``workers`` at
    a time (-1: all), with the Slurm and Ray settings.  Bad settings are refused when it is made."""

    kind: str = "local"
    tasks: int = 1
    workers: int = 1
    partition: str | None = None
    time: str = "24:00:00"
    cpus_per_task: int = 1
    mem_per_cpu_gb: float = 2
    job_name: str = "collect"
    venv_path: str | None = None
    sbatch_args: tuple[tuple[str, str], ...] = ()
    ray_address: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in EXECUTORS:
            raise SystemExit(f"--executor must be one of {', '.join(EXECUTORS)}, not {self.kind!r}")
        if self.tasks < 1:
            raise SystemExit(f"--tasks must be at least 1, not {self.tasks}")
        if self.workers < 1 and self.workers != -1:
            raise SystemExit(f"--workers must be at least 1 (or -1: as many as tasks), not {self.workers}")
        if self.kind == "slurm" and not self.partition:
            raise SystemExit("--executor slurm needs --partition")
        if self.kind == "ray":
            try:
                import ray  # noqa: F401
            except ImportError:
                raise SystemExit("--executor ray needs the ray package (pip install -e '.[collect]')") from None


def stage_dirs(work: Path, names: list[str]) -> list[Path]:
    """The folder of each stage, in order: ``<work>/stages/<nn>_<name>``."""
    return [work / "stages" / f"{i:02d}_{name}" for i, name in enumerate(names, 1)]


def stage_tasks(stage: Stage, opts: ExecutorOptions) -> int:
    return stage.tasks if stage.tasks is not None else opts.tasks


def prepare(work: Path, stages: list[Stage], opts: ExecutorOptions, force: bool) -> list[Path]:
    """Clear stages whose parameters changed (and all later ones); record the parameters."""
    dirs = stage_dirs(work, [s.name for s in stages])
    stale = force
    for stage, folder in zip(stages, dirs, strict=True):
        params = jsonable({**stage.params, "tasks": stage_tasks(stage, opts)})
        saved = folder / "params.json"
        if not stale:
            stale = not saved.exists() or json.loads(saved.read_text(encoding="utf-8")) != params
        if (stale or stage.always) and folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True, exist_ok=True)
        write_json(saved, params)
    return dirs


def make_executor(stage: Stage, folder: Path, opts: ExecutorOptions, depends=None):
    pipeline = stage.build(folder)
    tasks = stage_tasks(stage, opts)
    workers = tasks if opts.workers == -1 else min(opts.workers, tasks)
    logs = str(folder / "logs")
    if opts.kind == "local":
        from datatrove.executor import LocalPipelineExecutor

        if workers > 1:
            _preload_forkserver()

        return LocalPipelineExecutor(pipeline, tasks=tasks, workers=workers, logging_dir=logs)
    if opts.kind == "ray":
        from datatrove.executor.ray import RayPipelineExecutor

        # one Ray job per task (so that the CPUs and memory reserved per task hold), --workers at a time
        return RayPipelineExecutor(
            pipeline,
            tasks=tasks,
            workers=workers,
            logging_dir=logs,
            cpus_per_task=opts.cpus_per_task,
            mem_per_cpu_gb=opts.mem_per_cpu_gb,
        )
    from datatrove.executor.slurm import SlurmPipelineExecutor

    return SlurmPipelineExecutor(
        pipeline,
        tasks=tasks,
        workers=workers,
        time=opts.time,
        partition=opts.partition,
        cpus_per_task=opts.cpus_per_task,
        mem_per_cpu_gb=math.ceil(opts.mem_per_cpu_gb),
        job_name=f"{opts.job_name}_{stage.name}",
        logging_dir=logs,
        depends=depends,
        venv_path=opts.venv_path,
        sbatch_args=dict(opts.sbatch_args) or None,
    )


def _preload_forkserver() -> None:
    """Worker processes of the local executor start from a forkserver; let it import the pipeline code once,
    so that each worker does not import datatrove and its dependencies again."""
    import multiprocess

    modules = [
        "lm_eval_compression.collect.pipeline",
        "lm_eval_compression.collect.readers",
        "lm_eval_compression.collect.warc",
        "warcio",
        "trafilatura",
        "resiliparse",
        "lingua",
    ]
    multiprocess.get_context("forkserver").set_forkserver_preload(modules)


def run_stages(work: Path, stages: list[Stage], opts: ExecutorOptions, force: bool = False) -> list[Path]:
    """Run (or, on Slurm, submit) the stages in order; returns their folders."""
    dirs = prepare(work, stages, opts, force)
    if opts.kind == "slurm":
        previous = None
        for stage, folder in zip(stages, dirs, strict=True):
            previous = make_executor(stage, folder, opts, depends=previous)
        previous.run()  # submits the whole chain, each job depending on the one before
        print(f"[collect] submitted {len(stages)} Slurm jobs; logs under {work / 'stages'}", file=sys.stderr)
        return dirs
    if opts.kind == "ray":
        import ray

        if not ray.is_initialized():
            ray.init(address=opts.ray_address)
    for stage, folder in zip(stages, dirs, strict=True):
        executor = make_executor(stage, folder, opts)
        if not executor.get_incomplete_ranks(skip_completed=True):
            print(f"[collect] {stage.name}: done before, skipped (use --force to redo)", file=sys.stderr)
            continue
        executor.run()
        missing = executor.get_incomplete_ranks(skip_completed=True)
        if missing:
            raise SystemExit(f"[collect] {stage.name}: tasks {missing} did not finish; see {folder / 'logs'}")
    return dirs
