"""What the plugin reads off the harness's model wrapper (``HFLM`` or ``VLLM``): whether its model can score
the windows, the windows as it applies them (window BOS, prefix token), and ``--batch_size auto``."""

from __future__ import annotations

import torch

from ..engine.planning import CompressionRequestError
from ..engine.scoring import WindowScorer
from ..engine.settings import WindowSettings, WindowSettingsError

# On CPU, ``--batch_size auto`` sizes the batch from free memory (a too-large allocation there swaps
# or gets the process killed instead of raising); this many bytes are allowed per window position.
CPU_BATCH_MEMORY_FRACTION = 0.5
CPU_MAX_BATCH = 64


def tokenizer_adds_bos(lm) -> bool:
    """Whether the wrapper's tokenizer puts a BOS token before text by default."""
    tok = lm.tokenizer
    if tok.bos_token_id is None:
        return False
    if getattr(lm, "add_bos_token", None) is not None:
        return bool(lm.add_bos_token)
    ids = tok("a")["input_ids"]
    return bool(ids) and ids[0] == tok.bos_token_id


def window_bos_for(lm, setting) -> tuple[bool, str]:
    """Whether later ``document`` windows start with BOS on this model, and why."""
    tok = lm.tokenizer
    if setting == "auto":
        if tokenizer_adds_bos(lm):
            return True, f"auto: the tokenizer adds BOS {tok.bos_token!r} (id {tok.bos_token_id}) by default"
        return False, "auto: the tokenizer adds no BOS token by default"
    if setting is True:
        if tok.bos_token_id is None:
            raise CompressionRequestError("window_bos=true, but the model's tokenizer has no BOS token")
        return True, "set: window_bos=true"
    return False, "set: window_bos=false"


def windows_for(lm, windows: WindowSettings) -> WindowSettings:
    """``windows`` as this wrapper's model applies them: window BOS and the prefix token (``document``);
    the ``paper`` protocol reproduces the reference stream, which has neither."""
    if windows.protocol == "paper":
        return windows.for_model(False, "paper protocol: no window BOS", None, None)
    use_bos, reason = window_bos_for(lm, windows.window_bos)
    prefix = int(lm.prefix_token_id)
    return windows.for_model(use_bos, reason, prefix, lm.tokenizer.convert_ids_to_tokens(prefix))


def check_model(lm, task, windows: WindowSettings) -> None:
    """A causal model whose maximum length holds a window."""
    if getattr(lm, "backend", "causal") != "causal":
        raise CompressionRequestError("compression tasks need a causal (decoder-only) model; got a seq2seq backend")
    if windows.block_size > lm.max_length:
        raise WindowSettingsError(
            f"block_size ({windows.block_size}) is larger than the model's maximum length ({lm.max_length}) "
            f"for task {task}; lower block_size in --metadata or raise max_length in --model_args"
        )


def cpu_batch_size(lm, width: int) -> int:
    """Windows per batch that fit in half the free memory: the head's logits of every position in
    the model dtype plus a float32 log-softmax chunk and the body's activations, per token."""
    import psutil

    config = lm.model.config
    item = torch.tensor([], dtype=lm.model.dtype).element_size()
    hidden = getattr(config, "hidden_size", 0) or 0
    inner = getattr(config, "intermediate_size", 4 * hidden) or 4 * hidden
    per_token = item * (len(lm.tokenizer) + 8 * hidden + 2 * inner)
    free = psutil.virtual_memory().available * CPU_BATCH_MEMORY_FRACTION
    return int(max(1, min(CPU_MAX_BATCH, lm.max_batch_size or CPU_MAX_BATCH, free // (2 * per_token * width))))


def detect_batch_size(lm, scorer: WindowScorer, width: int) -> int:
    """``--batch_size auto``: on CPU from free memory; on accelerators, the largest batch of
    ``width``-token windows (all positions scored) that runs.  The minimum across ranks."""
    if scorer.device.type == "cpu":
        batch_size = cpu_batch_size(lm, width)
    else:
        from accelerate.utils import find_executable_batch_size

        @find_executable_batch_size(starting_batch_size=lm.max_batch_size)
        def probe(batch_size):
            ids = torch.ones((batch_size, width), dtype=torch.long, device=scorer.device)
            targets = torch.ones(batch_size * width, dtype=torch.long, device=scorer.device)
            scorer.target_logprobs(scorer.logits(ids, width), slice(0, batch_size * width), targets)
            return batch_size

        try:
            batch_size = probe()
        except RuntimeError as e:
            if "No executable batch size found" not in str(e):
                raise
            batch_size = 1
    if lm.world_size > 1:
        gathered = lm.all_gather(torch.tensor([batch_size], device=lm.device))
        batch_size = int(gathered.min().item())
    return batch_size
