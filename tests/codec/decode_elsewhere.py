"""Decodes a compressed file in this process under the thread count given (and whatever
``ATEN_CPU_CAPABILITY`` the caller set), and prints as JSON the texts, the CPU instruction set torch
dispatched to, and a fingerprint of the float model's own logits on a fixed input (the control: float
arithmetic that does change under these settings).

``python -m tests.codec.decode_elsewhere FILE MODEL_ARGS THREADS BATCH``
"""

import hashlib
import json
import sys
from pathlib import Path

import torch

from lm_eval_compression.codec import commands


def main(path: str, model_args: str, threads: str, batch: str) -> None:
    torch.set_num_threads(int(threads))
    lm = commands.load_lm(model_args, "cpu")
    ids = torch.tensor([[(7919 * (j + 1)) % 49152 for j in range(200)]])
    with torch.no_grad():
        logits = lm.model(ids).logits.float().numpy()
    corpus, info = commands.decompress_corpus(lm, Path(path).read_bytes(), path, int(batch))
    print(
        json.dumps(
            {
                "texts": corpus.texts,
                "cpu": torch.backends.cpu.get_cpu_capability(),
                "threads": torch.get_num_threads(),
                "float_logits": hashlib.sha256(logits.tobytes()).hexdigest()[:16],
                "steps": info.steps,
            }
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
