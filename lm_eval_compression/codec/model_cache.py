"""The de-quantised copy of a GGUF model, kept so that a second ``compress`` or ``decompress`` loads it in
seconds: transformers de-quantises a GGUF file tensor by tensor on every load (25 to 35 s for SmolLM2-135M).

The copy is a plain Hugging Face folder (config, weights in the loaded dtype as safetensors, tokenizer) under
``$LM_EVAL_COMPRESSION_CACHE`` (default ``~/.cache/lm_eval_compression``), named by the SHA-256 of the GGUF
file and the dtype, and written to a temporary folder first, so that an interrupted write is never used.
The harness's ``hf`` wrapper then loads the copy; a compressed file still names the GGUF file's hash.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from .model_files import file_sha256

CACHE_ENV = "LM_EVAL_COMPRESSION_CACHE"
DONE = ".converted"


def cache_root() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "lm_eval_compression")


def convert_gguf(gguf: Path, dest: Path, dtype: str = "float32") -> Path:
    """Write the model and tokenizer of ``gguf`` to ``dest`` as a plain folder (unless already there)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dest = Path(dest)
    if (dest / DONE).is_file():
        return dest
    torch_dtype = getattr(torch, dtype)
    loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch_dtype)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    # The de-quantised weights are plain tensors; a fresh model without the GGUF quantizer can be saved.
    config = loaded.config
    config.quantization_config = None
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = type(loaded)(config).to(torch_dtype)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    if unexpected or [k for k in missing if k != "lm_head.weight"]:
        raise RuntimeError(f"GGUF conversion of {gguf}: missing {missing}, unexpected {unexpected}")
    model.tie_weights()
    dest.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(dest)
    tokenizer.save_pretrained(dest)
    (dest / DONE).write_text(f"{gguf}\n")
    return dest


def cached_copy(gguf: Path, dtype: str) -> Path:
    """The cached folder of ``gguf`` in ``dtype``, converted on first use."""
    folder = cache_root() / "gguf" / f"{file_sha256(gguf)[:32]}-{dtype}"
    if (folder / DONE).is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=folder.name, dir=folder.parent))
    try:
        convert_gguf(gguf, work, dtype)
        work.rename(folder)
    except OSError:  # another process finished the same copy first
        if not (folder / DONE).is_file():
            raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return folder


def cached_model_args(args: dict) -> dict:
    """``hf`` model arguments that load a local GGUF model from its cached copy; others unchanged."""
    if not args.get("gguf_file"):
        return args
    gguf = Path(str(args["pretrained"])).expanduser() / str(args["gguf_file"])
    if not gguf.is_file():
        return args  # the hub, or a missing file: the wrapper reports it
    dtype = str(args.get("dtype", args.get("torch_dtype", "float32"))).replace("torch.", "")
    if dtype not in ("float32", "float16", "bfloat16"):
        return args
    out = {k: v for k, v in args.items() if k != "gguf_file"}
    out["pretrained"] = str(cached_copy(gguf, dtype))
    return out
