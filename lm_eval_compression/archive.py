"""The compressed file: a JSON header that says what decoding needs, then the range coder's words.

Layout: the 8-byte magic ``LMEVALZ1``, the header length (4 bytes, little endian),
the header (UTF-8 JSON) and the payload (uint32 words, little endian).  The
header names the model by a hash of its weight and tokenizer files, the window
settings, the documents' token and character counts, and SHA-256 checksums of
every document and of the whole text, so a decoder with another model or other
settings stops with a message instead of writing wrong text.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import numpy as np

MAGIC = b"LMEVALZ1"
FORMAT = 1
# Files of a model folder that decide its predictions: weights, config and tokenizer.
MODEL_FILE_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")
MODEL_FILE_NAMES = ("config.json", "tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json",
                    "merges.txt", "vocab.txt", "special_tokens_map.json", "added_tokens.json", "spiece.model")


class ArchiveError(ValueError):
    """A compressed file is unreadable or does not match the decoder; the message says which and why."""


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def corpus_sha256(texts: list[str]) -> str:
    """Checksum of the documents in order (length-prefixed, so boundaries count)."""
    digest = hashlib.sha256()
    for t in texts:
        data = t.encode("utf-8")
        digest.update(struct.pack("<Q", len(data)) + data)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
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
        files = sorted(p for p in folder.iterdir()
                       if p.is_file() and (p.suffix in MODEL_FILE_SUFFIXES or p.name in MODEL_FILE_NAMES))
        if not any(p.suffix in MODEL_FILE_SUFFIXES for p in files):
            raise ArchiveError(f"no weight files (*.safetensors, *.bin) in model folder {folder}")
    if model_args.get("tokenizer"):
        tok_folder = Path(str(model_args["tokenizer"])).expanduser()
        if tok_folder.is_dir():
            files += sorted(p for p in tok_folder.iterdir() if p.is_file() and p.name in MODEL_FILE_NAMES)
    return files


def model_identity(model_args: dict) -> dict:
    """SHA-256 of each identifying file and one hash over all of them (names and contents)."""
    hashes = {p.name: file_sha256(p) for p in model_files(model_args)}
    combined = hashlib.sha256(json.dumps(sorted(hashes.items())).encode()).hexdigest()
    return {"sha256": combined, "files": hashes}


def pack(header: dict, words: np.ndarray) -> bytes:
    head = json.dumps(header, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")
    payload = np.ascontiguousarray(words, dtype="<u4").tobytes()
    return MAGIC + struct.pack("<I", len(head)) + head + payload


def unpack(data: bytes, where: str) -> tuple[dict, np.ndarray]:
    """Header and payload words of a compressed file; ``where`` names it in errors."""
    if data[:len(MAGIC)] != MAGIC:
        if data[:6] == MAGIC[:6]:
            raise ArchiveError(f"{where} is format {data[7:8]!r}, this version reads format {FORMAT}")
        raise ArchiveError(f"{where} is not a file written by `python -m lm_eval_compression compress`")
    if len(data) < len(MAGIC) + 4:
        raise ArchiveError(f"{where} is truncated (no header length)")
    (size,) = struct.unpack("<I", data[len(MAGIC):len(MAGIC) + 4])
    start = len(MAGIC) + 4
    if len(data) < start + size:
        raise ArchiveError(f"{where} is truncated: the header needs {size} bytes, {len(data) - start} are there")
    try:
        header = json.loads(data[start:start + size].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ArchiveError(f"{where}: the header is damaged ({e})") from None
    payload = data[start + size:]
    if len(payload) % 4:
        raise ArchiveError(f"{where} is truncated: the payload is not a whole number of 32-bit words")
    if len(payload) // 4 != header.get("payload_words"):
        raise ArchiveError(f"{where} is damaged: the header announces {header.get('payload_words')} payload words, "
                           f"the file holds {len(payload) // 4}")
    return header, np.frombuffer(payload, dtype="<u4").astype(np.uint32)


def check_model(header: dict, identity: dict, where: str) -> None:
    """Stop unless the decoder's model files are those the file was compressed with."""
    want = header["model"]["identity"]
    if identity["sha256"] == want["sha256"]:
        return
    differ = sorted(set(want["files"].items()) ^ set(identity["files"].items()))
    names = sorted({name for name, _ in differ})
    raise ArchiveError(
        f"{where} was compressed with another model: its model hash is {want['sha256'][:16]}…, the given model's is "
        f"{identity['sha256'][:16]}… (files that differ or are missing: {', '.join(names)}); decompress it with "
        f"the model it was compressed with (model_args there: {header['model']['model_args']})"
    )


def check_setting(header: dict, name: str, given, where: str) -> None:
    """Stop if a setting given to the decoder differs from the one recorded in the header."""
    recorded = header["windows"].get(name, header["model"].get(name))
    if given is not None and given != recorded:
        raise ArchiveError(f"{where} was compressed with {name}={recorded!r}, but {name}={given!r} was given; "
                           f"leave {name} out (the file records it) or pass {recorded!r}")
