"""Start-up cost of the installed task-discovery hook (``lm_eval_compression.pth``) for programs that never
import the harness.

Builds the wheel, makes two virtual environments that differ only in that one of them has the wheel installed
(both see this interpreter's packages through a plain path line, which runs none of their start-up files),
then times ``python -c pass`` in both, alternating, and reports the fastest and the median start-up of each
and their differences (on a busy machine the fastest is the steadier figure), plus the hook's own import time
from ``python -X importtime`` (the fastest of ``--runs`` start-ups, summed over its modules).

    python benchmarks/startup_cost.py [--runs 50]
"""

from __future__ import annotations

import argparse
import json
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
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "_base_environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def pip(python, *args) -> None:
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "--disable-pip-version-check", "-q", *args],
                   check=True)


def time_startup(python: Path) -> float:
    start = time.perf_counter()
    subprocess.run([str(python), "-c", "pass"], check=True)
    return time.perf_counter() - start


def hook_import_us(python: Path) -> int:
    """Self import time, in microseconds, of the modules the start-up file loads (``lm_eval_compression*``)."""
    err = subprocess.run([str(python), "-X", "importtime", "-c", "pass"], capture_output=True, text=True).stderr
    return sum(int(line.split("|")[0].split(":")[1]) for line in err.splitlines()
               if line.rstrip().endswith(("lm_eval_compression", "lm_eval_compression.discovery")))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50, help="start-ups per environment (default 50)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        source = tmp / "source"  # a copy, so that no stale build/ folder of the repository enters the wheel
        shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".*", "build", "*.egg-info", "__pycache__",
                                                                     "results", "dist"))
        pip(sys.executable, "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp / "wheels"), str(source))
        (wheel,) = (tmp / "wheels").glob("lm_eval_compression-*.whl")
        without, with_hook = make_venv(tmp / "without"), make_venv(tmp / "with")
        pip(with_hook, "install", "--no-deps", "--ignore-installed", str(wheel))
        for python in (without, with_hook):  # warm the file cache
            time_startup(python)
        times: dict[str, list[float]] = {"without": [], "with": []}
        for _ in range(args.runs):
            times["without"].append(time_startup(without))
            times["with"].append(time_startup(with_hook))
        fastest = {k: min(v) * 1e3 for k, v in times.items()}
        medians = {k: statistics.median(v) * 1e3 for k, v in times.items()}
        report = {"runs": args.runs,
                  "fastest_ms": {k: round(v, 2) for k, v in fastest.items()},
                  "median_ms": {k: round(v, 2) for k, v in medians.items()},
                  "added_ms_fastest": round(fastest["with"] - fastest["without"], 2),
                  "added_ms_median": round(medians["with"] - medians["without"], 2),
                  "hook_import_ms_fastest": min(hook_import_us(with_hook) for _ in range(args.runs)) / 1e3}
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
