"""Start-up cost of the installed task-discovery hook (``lm_eval_compression.pth``) for programs that never
import the harness.

Builds the wheel, makes two virtual environments that differ only in that one of them has the wheel installed
(both see this interpreter's packages through a plain path line, which runs none of their start-up files),
then times ``python -c pass`` in both, alternating, and reports the medians and their difference, plus the
hook's own lines from ``python -X importtime``.

    python benchmarks/startup_cost.py [--runs 50]
"""

from __future__ import annotations

import argparse
import json
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


def hook_importtime(python: Path) -> list[str]:
    err = subprocess.run([str(python), "-X", "importtime", "-c", "pass"], capture_output=True, text=True).stderr
    return [line for line in err.splitlines() if "lm_eval_compression" in line]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50, help="start-ups per environment (default 50)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        pip(sys.executable, "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp / "wheels"), str(REPO))
        (wheel,) = (tmp / "wheels").glob("lm_eval_compression-*.whl")
        without, with_hook = make_venv(tmp / "without"), make_venv(tmp / "with")
        pip(with_hook, "install", "--no-deps", "--ignore-installed", str(wheel))
        for python in (without, with_hook):  # warm the file cache
            time_startup(python)
        times: dict[str, list[float]] = {"without": [], "with": []}
        for _ in range(args.runs):
            times["without"].append(time_startup(without))
            times["with"].append(time_startup(with_hook))
        medians = {k: statistics.median(v) * 1e3 for k, v in times.items()}
        report = {"runs": args.runs, "median_ms_without": round(medians["without"], 2),
                  "median_ms_with": round(medians["with"], 2),
                  "added_ms": round(medians["with"] - medians["without"], 2),
                  "importtime_with": hook_importtime(with_hook)}
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
