"""Options every pipeline shares: output, dates, sampling, dedup, and where it runs
(``--executor local|ray|slurm`` with tasks, workers and the Slurm and Ray settings)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from .dates import DateRange
from .stages import EXECUTORS, ExecutorOptions


def add_common_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--out", default="fresh_corpora", help="output folder, usable as the tasks' data_dir (default: %(default)s)"
    )
    p.add_argument("--work", default=None, help="work folder for resumable stages (default: <out>/work/<area>)")
    p.add_argument(
        "--after", default=None, help="keep only material created on/after this date (YYYY-MM-DD or ISO date-time)"
    )
    p.add_argument("--before", default=None, help="keep only material created before this date")
    p.add_argument("--force", action="store_true", help="redo stages that finished before")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument(
        "--target-chars", type=int, default=None, help="sample documents until this many characters (default: keep all)"
    )
    p.add_argument("--seed", type=int, default=1234, help="seed of the sampling order (default: %(default)s)")
    p.add_argument(
        "--decontaminate",
        action="append",
        default=[],
        metavar="REF.jsonl",
        help="drop documents sharing a word n-gram with this reference corpus (repeatable)",
    )
    p.add_argument("--ngram", type=int, default=13, help="n of the contamination n-grams (default: 13)")
    p.add_argument(
        "--near-dup-threshold",
        type=float,
        default=0.85,
        help="MinHash LSH Jaccard threshold of near-duplicate removal (default: %(default)s)",
    )
    p.add_argument("--num-perm", type=int, default=128, help="MinHash permutations (default: %(default)s)")
    add_executor_args(p)


def add_executor_args(p: argparse.ArgumentParser) -> None:
    """Where the stages run: ``--executor`` with its tasks, workers and Slurm and Ray settings."""
    g = p.add_argument_group("execution (datatrove executors)")
    g.add_argument(
        "--executor",
        choices=EXECUTORS,
        default="local",
        help="local processes, a Ray cluster, or Slurm jobs (default: %(default)s)",
    )
    g.add_argument("--tasks", type=int, default=1, help="tasks the input is split into (default: %(default)s)")
    g.add_argument(
        "--workers", type=int, default=1, help="tasks run at the same time, -1 for all (default: %(default)s)"
    )
    g.add_argument("--partition", default=None, help="Slurm partition (needed with --executor slurm)")
    g.add_argument("--time", default="24:00:00", help="Slurm time limit per job (default: %(default)s)")
    g.add_argument("--cpus-per-task", type=int, default=1, help="CPUs per task, Slurm and Ray (default: %(default)s)")
    g.add_argument(
        "--mem-per-cpu-gb", type=float, default=2, help="memory per CPU in GB, Slurm and Ray (default: %(default)s)"
    )
    g.add_argument("--job-name", default=None, help="Slurm job name prefix (default: collect_<area>)")
    g.add_argument("--venv", default=None, help="Slurm: activate script of the virtual environment to source")
    g.add_argument(
        "--sbatch-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra #SBATCH directive, e.g. account=myproj (repeatable)",
    )
    g.add_argument("--ray-address", default=None, help="Ray cluster to join (default: start or join a local one)")


@dataclass(frozen=True)
class PipelineOptions:
    """The settings every pipeline shares, checked once: where it writes, what it keeps, how duplicates
    and contamination are found, where it runs; ``parameters`` records the command line for the manifest."""

    area: str
    out: Path
    work: Path
    date_range: DateRange
    executor: ExecutorOptions
    parameters: dict
    force: bool = False
    progress: bool = True
    target_chars: int | None = None
    seed: int = 1234
    decontaminate: tuple[str, ...] = ()
    ngram: int = 13
    near_dup_threshold: float = 0.85
    num_perm: int = 128


def pipeline_options(args: argparse.Namespace, area: str) -> PipelineOptions:
    """The shared options of a parsed command line; bad values are a usage error before any work."""
    check_args(args)
    try:
        date_range = DateRange(args.after, args.before)
    except ValueError as e:
        raise SystemExit(f"bad date range: {e}") from None
    return PipelineOptions(
        area=area,
        out=Path(args.out),
        work=Path(args.work) if args.work else Path(args.out) / "work" / area,
        date_range=date_range,
        executor=executor_options(args, area),
        parameters={k: v for k, v in vars(args).items() if not callable(v)},
        force=args.force,
        progress=not args.no_progress,
        target_chars=args.target_chars,
        seed=args.seed,
        decontaminate=tuple(str(Path(r)) for r in args.decontaminate),
        ngram=args.ngram,
        near_dup_threshold=args.near_dup_threshold,
        num_perm=args.num_perm,
    )


def executor_options(args: argparse.Namespace, area: str) -> ExecutorOptions:
    """``--executor`` and its settings; :class:`ExecutorOptions` refuses bad ones."""
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
        sbatch_args=tuple(tuple(item.split("=", 1)) for item in args.sbatch_arg),
        ray_address=args.ray_address,
    )


def check_args(args: argparse.Namespace) -> None:
    """Settings that would fail late (on a cluster, after the downloads) are refused before any work;
    the executor's own settings are checked by :class:`ExecutorOptions`."""
    if not 0 < args.near_dup_threshold <= 1:
        raise SystemExit(f"--near-dup-threshold must be in (0, 1], not {args.near_dup_threshold}")
    if args.num_perm < 2:
        raise SystemExit(f"--num-perm must be at least 2, not {args.num_perm}")
    if args.target_chars is not None and args.target_chars < 1:
        raise SystemExit(f"--target-chars must be positive, not {args.target_chars}")
    for ref in args.decontaminate:
        if not Path(ref).is_file():
            raise SystemExit(f"--decontaminate {ref}: no such file")
    for item in args.sbatch_arg:
        if "=" not in item or not item.split("=", 1)[0]:
            raise SystemExit(f"--sbatch-arg {item!r}: expected KEY=VALUE (e.g. account=myproj)")


def positive(kind=int):
    """An argparse type: a number above zero."""

    def parse(text: str):
        value = kind(text)
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be above 0, not {text}")
        return value

    parse.__name__ = kind.__name__
    return parse


def add_area_parser(sub, area: str, help_text: str, description: str, steps: tuple[str, ...], step_help: str):
    """The sub-command of one area: its steps and the shared options; the area adds its own groups."""
    p = sub.add_parser(
        area, help=help_text, description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("step", choices=steps, help=step_help)
    add_common_args(p)
    return p
