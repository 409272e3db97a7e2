"""Which model a compressed file needs: a hash of the files that decide its predictions, and a short check
of what loading adds to them (dtype, prefix token, vocabulary size)."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

from .archive import ArchiveError

# Files of a model folder that decide its predictions: weights, config and tokenizer.
MODEL_FILE_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")
MODEL_FILE_NAMES = (
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "tokenizer.model",
    "vocab.json",
    "merges.txt",
    "vocab.txt",
    "special_tokens_map.json",
    "added_tokens.json",
    "spiece.model",
)


def file_sha256(path: Path) -> str:
    """SHA-256 (hex) of a file's contents, read once per process while its size and time stamp stay the same
    (a command hashes a GGUF file both to name the model and to find its cached copy)."""
    stat = Path(path).stat()
    return _file_sha256(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=64)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _model_folder(pretrained: str, revision: str | None) -> Path:
    folder = Path(pretrained).expanduser()
    if folder.is_dir():
        return folder
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(pretrained, revision=revision, local_files_only=True))
    except Exception as e:  # noqa: BLE001 - any failure means the files are not here
        raise ArchiveError(f"cannot find the files of model {pretrained!r} to identify it: {e}") from None


def model_files(model_args: dict) -> list[Path]:
    """The files that identify the model of these ``hf`` model arguments (GGUF: the GGUF file itself)."""
    if "pretrained" not in model_args:
        raise ArchiveError("model_args need pretrained=<model folder or name>")
    folder = _model_folder(str(model_args["pretrained"]), model_args.get("revision"))
    if model_args.get("gguf_file"):
        path = folder / str(model_args["gguf_file"])
        if not path.is_file():
            raise ArchiveError(f"gguf_file {path} does not exist")
        files = [path]
    else:
        files = sorted(
            p
            for p in folder.iterdir()
            if p.is_file() and (p.suffix in MODEL_FILE_SUFFIXES or p.name in MODEL_FILE_NAMES)
        )
        if not any(p.suffix in MODEL_FILE_SUFFIXES for p in files):
            raise ArchiveError(f"no weight files (*.safetensors, *.bin) in model folder {folder}")
    if model_args.get("tokenizer"):
        tok_folder = Path(str(model_args["tokenizer"])).expanduser()
        if tok_folder.is_dir():
            files += sorted(p for p in tok_folder.iterdir() if p.is_file() and p.name in MODEL_FILE_NAMES)
    return files


def model_files_identity(model_args: dict) -> str:
    """SHA-256 over the identifying files' names and contents (hex)."""
    hashes = sorted((p.name, file_sha256(p)) for p in model_files(model_args))
    return hashlib.sha256(json.dumps(hashes).encode()).hexdigest()


def loaded_check(dtype: str, prefix_token_id: int, vocab_size: int) -> str:
    """Short check of what the loaded model adds to its files: dtype, prefix token, vocabulary size (hex)."""
    return hashlib.sha256(f"{dtype}|{prefix_token_id}|{vocab_size}".encode()).hexdigest()[:4]
