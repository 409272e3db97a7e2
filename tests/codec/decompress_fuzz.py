"""Runs ``decompress`` in this one process on every file named in a JSON spec and prints, as JSON, each
run's exit code, message, whether it wrote output and how long it took, and the process's peak memory.

``python -m tests.codec.decompress_fuzz SPEC``: SPEC holds ``model_args`` and ``cases`` (name → file).
"""

import contextlib
import io
import json
import resource
import sys
import time
from pathlib import Path

from lm_eval_compression.codec import commands


def main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    results = {}
    for name, path in spec["cases"].items():
        out = Path(path).with_suffix(".out")
        stderr = io.StringIO()
        start = time.perf_counter()
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            try:
                rc = commands.decompress_main(
                    [path, "-o", str(out), "--model_args", spec["model_args"], "--device", "cpu"]
                )
            except BaseException as e:  # noqa: BLE001 - a traceback is a failure the test reports
                rc, stderr = f"raised {type(e).__name__}: {e}", io.StringIO()
        results[name] = {
            "rc": rc,
            "message": stderr.getvalue().strip(),
            "wrote": out.exists(),
            "seconds": time.perf_counter() - start,
        }
    print(json.dumps({"cases": results, "peak_bytes": own_peak_bytes()}))


def own_peak_bytes() -> int:
    """This process's peak resident memory: ``VmHWM`` on Linux. ``ru_maxrss`` would count the parent's resident
    memory at the fork that started this process (exec keeps it), not just this run's."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux


if __name__ == "__main__":
    main(sys.argv[1])
