"""What the throughput benchmark measures around each method: device sync, peak memory, the CPU
share of other processes, and the synchronising CUDA calls of a run."""

from __future__ import annotations

import gc
import resource
import warnings
from pathlib import Path

import torch

import lm_eval_compression


def sync(device) -> None:
    """Wait for queued GPU work, so that a timer read afterwards covers it."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def _proc_status_kb(field: str) -> int | None:
    """A ``/proc/self/status`` field in kB (Linux), or None."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class PeakMemory:
    """Peak memory of one measured block, in MiB above what was in use when it started.

    cuda: ``torch.cuda.max_memory_allocated`` (after ``reset_peak_memory_stats``) minus
    ``memory_allocated`` at the start.  cpu: the process's resident-set high-water mark, reset before
    the block by writing 5 to ``/proc/self/clear_refs`` (Linux), read from ``VmHWM`` in
    ``/proc/self/status``, minus ``VmRSS`` at the start; where the reset is not allowed, the growth of
    ``getrusage(RUSAGE_SELF).ru_maxrss`` (a whole-process high-water mark, so only growth beyond the
    earlier peak shows).  ``how`` says which of these was used."""

    def __init__(self, device):
        self.cuda = torch.device(device).type == "cuda"
        self.how = None

    def start(self) -> None:
        gc.collect()
        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            self.base = torch.cuda.memory_allocated()
            self.how = "torch.cuda.max_memory_allocated - allocated at start"
            return
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            self.base = _proc_status_kb("VmRSS") * 1024
            self.how = "peak RSS (VmHWM after clear_refs) - RSS at start"
        except (OSError, TypeError):
            self.base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            self.how = "growth of ru_maxrss (process high-water mark)"

    def stop(self) -> float:
        if self.cuda:
            torch.cuda.synchronize()
            peak = torch.cuda.max_memory_allocated()
        elif self.how.startswith("peak RSS"):
            peak = _proc_status_kb("VmHWM") * 1024
        else:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        return max(0, peak - self.base) / 2**20


class OtherProcessesCpuShare:
    """Share of this machine's CPU time used by other processes while a block ran (Linux /proc):
    (busy jiffies of all CPUs - this process's user+system jiffies) / all jiffies.  Other work on the
    CPUs distorts CPU timings, some kernels far more than others; None where /proc is missing."""

    @staticmethod
    def _jiffies() -> tuple[int, int, int] | None:
        """(busy jiffies of all CPUs, all jiffies, this process's user + system jiffies)."""
        try:
            with open("/proc/stat") as f:
                cpu = [int(x) for x in f.readline().split()[1:]]
            with open("/proc/self/stat") as f:
                own = f.read().rsplit(")", 1)[1].split()
            busy = cpu[0] + cpu[1] + cpu[2] + cpu[5] + cpu[6] + (cpu[7] if len(cpu) > 7 else 0)
            return busy, busy + cpu[3] + cpu[4], int(own[11]) + int(own[12])
        except (OSError, ValueError, IndexError):
            return None

    def start(self) -> None:
        self.first = self._jiffies()

    def stop(self) -> float | None:
        last = self._jiffies()
        if self.first is None or last is None:
            return None
        busy, total, own = (b - a for a, b in zip(self.first, last, strict=True))
        return max(0.0, (busy - own) / total) if total > 0 else None


def sync_report(run) -> dict:
    """Synchronising CUDA calls while ``run()`` (one untimed plugin-paper run, returning its statistics)
    executes, by the Python line that made them (torch's sync debug mode), with the plugin's own lines
    counted apart from the model's."""
    torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            stats = run()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    plugin_dir = str(Path(lm_eval_compression.__file__).parent)
    by_line: dict[str, int] = {}
    plugin = 0
    for w in caught:
        if "synchroniz" not in str(w.message).lower():
            continue
        key = f"{w.filename}:{w.lineno}"
        by_line[key] = by_line.get(key, 0) + 1
        plugin += w.filename.startswith(plugin_dir)
    return {
        "batches": stats["batches"],
        "syncs": sum(by_line.values()),
        "plugin_syncs": plugin,
        "by_line": dict(sorted(by_line.items(), key=lambda kv: -kv[1])),
    }
