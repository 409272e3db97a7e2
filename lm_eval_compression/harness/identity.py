"""The identity of the model behind a harness wrapper: what a cached result or a saved checkpoint was computed with.

One hash serves both the ``--use_cache`` key (it travels in every compression request's arguments) and the
key of a ``paper`` stream's checkpoint, so neither is ever used by another model, dtype or autocast setting.

- Both wrappers: the wrapper class, the prefix token and ``add_bos_token`` (they change the windows), and the
  tokenizer (class, name, size, special tokens and the ids of a fixed probe text, which show normalisation and
  whether it adds BOS).
- ``--model hf``: the model class, configuration (with the hub commit it was loaded from), dtype, the autocast
  dtype (``mixed_precision_dtype``) and, from every weight tensor, its name, shape, dtype and the raw bytes of
  at most three runs of 256 values (start, middle, end), read once per evaluation: about 1.1 MB for the 723
  tensors of a 70 B Llama in bfloat16.
- ``--model vllm`` (no weights in this process): the engine arguments that change the numbers (model, revision,
  dtype, tokenizer, quantisation, KV-cache dtype, overrides, load format), the dtype the engine resolved, the
  model's configuration with its hub commit, the LoRA adapter and, for a local model folder or file, the name,
  size and modification time of each weight file.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from pathlib import Path

from ..engine.vllm_scoring import is_vllm

WEIGHT_SAMPLE = 256  # values per run; three runs per tensor
PROBE_TEXT = "Probe: Straße, 東京 🙂\n\tdef f(x):  return x ** 2  # 1234567"
VLLM_ENGINE_ARGS = (
    "model",
    "revision",
    "dtype",
    "tokenizer",
    "tokenizer_mode",
    "tokenizer_revision",
    "trust_remote_code",
    "quantization",
    "kv_cache_dtype",
    "hf_overrides",
    "load_format",
)
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")


def model_identity(lm) -> str:
    """A SHA-256 (hex) of what identifies ``lm``'s model (an HFLM or VLLM wrapper); see the module docstring."""
    facts = {**wrapper_facts(lm), **(vllm_facts(lm) if is_vllm(lm) else hf_facts(lm))}
    digest = hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode())
    if not is_vllm(lm):
        digest.update(weight_sample(lm.model))
    return digest.hexdigest()


def wrapper_facts(lm) -> dict:
    return {
        "wrapper": type(lm).__name__,
        "prefix_token_id": lm.prefix_token_id,
        "add_bos_token": getattr(lm, "add_bos_token", None),
        "tokenizer": tokenizer_facts(lm.tokenizer),
    }


def tokenizer_facts(tokenizer) -> dict:
    return {
        "class": type(tokenizer).__name__,
        "name": getattr(tokenizer, "name_or_path", None),
        "size": len(tokenizer),
        "special": getattr(tokenizer, "all_special_ids", None),
        "probe": list(tokenizer.encode(PROBE_TEXT)),
    }


def config_facts(config) -> dict:
    return {
        "config": config.to_json_string(use_diff=False) if config is not None else None,
        "commit": getattr(config, "_commit_hash", None),
    }


def hf_facts(lm) -> dict:
    model = lm.model
    return {
        "model_class": type(model).__name__,
        **config_facts(getattr(model, "config", None)),
        "dtype": str(getattr(model, "dtype", None)),
        "autocast": str(getattr(lm, "mixed_precision_dtype", None)),
    }


def sample_of(tensor):
    """At most three runs of :data:`WEIGHT_SAMPLE` values of ``tensor`` as raw bytes (a uint8 tensor, same device)."""
    import torch

    t = tensor.detach()
    if t.is_contiguous():
        flat = t.reshape(-1)
        mid = max(0, flat.numel() // 2 - WEIGHT_SAMPLE // 2)
        runs = [flat[:WEIGHT_SAMPLE], flat[mid : mid + WEIGHT_SAMPLE], flat[-WEIGHT_SAMPLE:]]
    else:  # a view: its first row, without copying the whole tensor
        while t.dim() > 1:
            t = t[0]
        runs = [t[:WEIGHT_SAMPLE]]
    return torch.cat([r.contiguous().view(torch.uint8) for r in runs])


def weight_sample(model) -> bytes:
    """Name, shape and dtype of every tensor of ``model``'s state dict with :func:`sample_of` its values: one
    device-to-host copy per device, the bytes in state-dict order whatever the device map."""
    import torch

    header, samples, on_device = [], [], defaultdict(list)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            header.append(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}")
            if tensor.device.type == "meta" or tensor.numel() == 0:  # offloaded or empty: no values here
                continue
            sample = sample_of(tensor)
            on_device[sample.device].append(len(samples))
            samples.append(sample)
        for members in on_device.values():
            host = torch.cat([samples[i] for i in members]).cpu()
            for i, part in zip(members, torch.split(host, [samples[i].numel() for i in members])):
                samples[i] = part
    return "\n".join(header).encode() + b"".join(s.numpy().tobytes() for s in samples)


def vllm_facts(lm) -> dict:
    args = dict(getattr(lm, "model_args", None) or {})
    engine = getattr(getattr(lm, "model", None), "llm_engine", None)  # absent with data_parallel_size > 1
    lora = getattr(lm, "lora_request", None)
    return {
        "engine_args": {k: args.get(k) for k in VLLM_ENGINE_ARGS},
        "engine_dtype": str(getattr(getattr(engine, "model_config", None), "dtype", None)),
        **config_facts(getattr(lm, "_config", None)),
        "lora": getattr(lora, "lora_path", None) or getattr(lora, "lora_local_path", None),
        "weight_files": weight_files(args.get("model")),
    }


def weight_files(model) -> list | None:
    """Name, size and modification time of a local model's weight files (None for a hub model id)."""
    if not model:
        return None
    path = Path(str(model)).expanduser()
    files = [path] if path.is_file() else sorted(path.iterdir()) if path.is_dir() else []
    return [
        (f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files if f.is_file() and f.suffix in WEIGHT_SUFFIXES
    ] or None
