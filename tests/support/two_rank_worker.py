"""One rank of a two-process data-parallel run over gloo (run by tests/harness/test_data_parallel.py).

The harness's HF wrapper turns data parallelism on only with several GPUs, so this worker builds a
normal ``HFLM`` and gives it the rank, the world size and a stand-in accelerator whose gather and
barrier go over ``torch.distributed`` (gloo); the harness's own per-rank split and merge do the rest.
Each protocol in the comma-separated PROTOCOLS is run in turn over the same process group.
usage: python -m tests.support.two_rank_worker RANK PORT MODEL CORPUS OUT PROTOCOLS [FREE_MEMORY_BYTES]
"""

import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist

TASKS = ("compression_cc", "compression_python")


class GlooAccelerator:
    def gather(self, tensor):
        parts = [torch.zeros_like(tensor) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, tensor)
        return torch.cat(parts) if tensor.dim() else torch.stack(parts)

    def wait_for_everyone(self):
        dist.barrier()

    def unwrap_model(self, model):
        return model


def run_protocol(runner, wrapper, lm, corpus, protocol) -> dict:
    """One evaluation in this rank: the batch sizes chosen (local and agreed), results, responses or the error."""
    from tests.support.api import evaluate

    local, chosen = [], []
    alone, detect = wrapper.cpu_batch_size, runner.detect_batch_size
    wrapper.cpu_batch_size = lambda *a, **k: local.append(alone(*a, **k)) or local[-1]
    runner.detect_batch_size = lambda *a, **k: chosen.append(detect(*a, **k)) or chosen[-1]
    meta = {"data_dir": corpus, "block_size": 32, "stride": 8, "protocol": protocol}
    report = {"batch_sizes": chosen, "local_batch_sizes": local}
    try:
        res = evaluate(lm, list(TASKS), meta)
    except Exception as error:  # reported to the test, which checks the message
        report["error"] = f"{type(error).__name__}: {error}"
        res = None
    finally:
        wrapper.cpu_batch_size, runner.detect_batch_size = alone, detect
    if res is not None:
        report["results"] = {t: res["results"][t] for t in TASKS}
        report["samples"] = {t: {s["doc_id"]: s["resps"][0][0] for s in res["samples"][t]} for t in TASKS}
    return report


def main(rank, port, model, corpus, out, protocols, free_memory=None):
    import psutil

    from lm_eval_compression.harness import runner, wrapper
    from tests.support.api import load_lm

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    if free_memory is not None:  # this rank sees less free memory, so it would pick a smaller batch alone
        real = psutil.virtual_memory
        psutil.virtual_memory = lambda: type("Mem", (), {"available": int(free_memory), "total": real().total})()
    lm = load_lm(model, "auto")
    lm._rank, lm._world_size, lm.accelerator = rank, 2, GlooAccelerator()
    report = {"rank": rank}
    for protocol in protocols.split(","):
        report[protocol] = run_protocol(runner, wrapper, lm, corpus, protocol)
    Path(out, f"rank{rank}.json").write_text(json.dumps(report, default=str))
    dist.destroy_process_group()


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), *sys.argv[3:7], *(int(x) for x in sys.argv[7:8]))
