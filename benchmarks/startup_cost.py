"""Start-up cost of the installed task-discovery hook (``lm_eval_compression.pth``) for programs that never
import the harness.

Builds the wheel and makes three virtual environments that see this interpreter's packages through a plain
path line (which runs none of their start-up files); only the second gets the wheel, the first and third are
two references that show the noise. Then it starts ``python -c pass`` in each, rotating the order every round,
and reports per environment the fastest and the median of the child's CPU time (user + system, from
``wait4``: steady on a busy machine, where wall time mostly measures waiting) and of the wall time, plus the
hook's own import time from ``python -X importtime`` (the fastest over the rounds).

    python benchmarks/startup_cost.py [--runs 50]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def make_venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    python = path / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "_base_environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def pip(python, *args) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "--disable-pip-version-check", "-q", *args], check=True
    )


def time_startup(python: Path) -> tuple[float, float]:
    """(wall seconds, child CPU seconds) of one ``python -c pass``."""
    start = time.perf_counter()
    pid = os.spawnv(os.P_NOWAIT, str(python), [str(python), "-c", "pass"])
    _, status, usage = os.wait4(pid, 0)
    if status != 0:
        raise RuntimeError(f"{python} -c pass failed ({status})")
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime


def hook_import_us(python: Path) -> int:
    """Self import time, in microseconds, of the modules the start-up file loads (``lm_eval_compression*``)."""
    err = subprocess.run([str(python), "-X", "importtime", "-c", "pass"], capture_output=True, text=True).stderr
    return sum(
        int(line.split("|")[0].split(":")[1])
        for line in err.splitlines()
        if line.rstrip().endswith(("lm_eval_compression", "lm_eval_compression.harness.discovery"))
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50, help="start-ups per environment (default 50)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        source = tmp / "source"  # a copy, so that no stale build/ folder of the repository enters the wheel
        shutil.copytree(
            REPO, source, ignore=shutil.ignore_patterns(".*", "build", "*.egg-info", "__pycache__", "results", "dist")
        )
        pip(sys.executable, "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp / "wheels"), str(source))
        (wheel,) = (tmp / "wheels").glob("lm_eval_compression-*.whl")
        envs = {
            "without": make_venv(tmp / "without"),
            "with": make_venv(tmp / "with"),
            "without_again": make_venv(tmp / "without_again"),
        }
        pip(envs["with"], "install", "--no-deps", "--ignore-installed", str(wheel))
        for python in envs.values():  # warm the file cache
            time_startup(python)
        names = list(envs)
        times: dict[str, list[tuple[float, float]]] = {k: [] for k in names}
        for r in range(args.runs):
            for name in names[r % 3 :] + names[: r % 3]:
                times[name].append(time_startup(envs[name]))
        report = {"runs": args.runs}
        for i, what in enumerate(("wall", "cpu")):
            fastest = {k: min(t[i] for t in v) * 1e3 for k, v in times.items()}
            median = {k: statistics.median(t[i] for t in v) * 1e3 for k, v in times.items()}
            report[f"{what}_ms_fastest"] = {k: round(x, 2) for k, x in fastest.items()}
            report[f"{what}_ms_median"] = {k: round(x, 2) for k, x in median.items()}
            refs = ("without", "without_again")
            report[f"{what}_added_ms"] = {
                "fastest": round(fastest["with"] - min(fastest[k] for k in refs), 2),
                "median": round(median["with"] - statistics.mean(median[k] for k in refs), 2),
            }
        report["hook_import_ms_fastest"] = min(hook_import_us(envs["with"]) for _ in range(args.runs)) / 1e3
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
