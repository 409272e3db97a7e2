"""The compressed file: a compact binary header that says what decoding needs, then the range coder's words.

Layout: the magic ``LMZ`` and a format byte; the model identity (8 bytes: the
start of a SHA-256 over the model's weight, config and tokenizer files) and a
2-byte check of the loaded model's dtype, prefix token and vocabulary size; the
settings and counts as unsigned LEB128 integers (block_size, stride, window_bos
setting and its resolution, lanes, CPU threads, corpus kind, documents, total
characters, then each document's token count); the text field name for JSON
lines other than ``content``; the first 8 bytes of the corpus SHA-256
(:func:`..engine.corpus.corpus_sha256`); then the payload (uint32 words, little
endian) to the end of the file.  The header is kept small because it is part of
the achieved bits per character: about 40 bytes for a few documents.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

MAGIC = b"LMZ"
FORMAT = 1
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
BOS_SETTINGS = ("auto", True, False)
KINDS = ("text", "jsonl")


class ArchiveError(ValueError):
    """A compressed file is unreadable or does not match the decoder; the message says which and why."""


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


def _varints(values) -> bytes:
    out = bytearray()
    for v in values:
        v = int(v)
        if v < 0:
            raise ValueError(f"cannot store negative {v}")
        while True:
            byte, v = v & 0x7F, v >> 7
            out.append(byte | (0x80 if v else 0))
            if not v:
                break
    return bytes(out)


def _read_varint(data: bytes, pos: int, where: str) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise ArchiveError(f"{where} is truncated inside its header")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def pack(header: dict, words: np.ndarray) -> bytes:
    """The file for ``header`` (see :func:`unpack` for its keys) and the payload ``words``."""
    field = header["text_field"] if header["kind"] == "jsonl" else None
    kind = 0 if header["kind"] == "text" else (1 if field == "content" else 2)
    head = bytearray(MAGIC + bytes([FORMAT]))
    head += bytes.fromhex(header["model_sha256"][:16]) + bytes.fromhex(header["loaded_check"])
    head += _varints(
        [
            header["block_size"],
            header["stride"],
            BOS_SETTINGS.index(header["window_bos_setting"]),
            int(header["window_bos"]),
            header["lanes"],
            header["threads"],
            kind,
            len(header["tokens"]),
            header["chars"],
            *header["tokens"],
        ]
    )
    if kind == 2:
        name = field.encode("utf-8")
        head += _varints([len(name)]) + name
    head += bytes.fromhex(header["corpus_sha256"][:16])
    return bytes(head) + np.ascontiguousarray(words, dtype="<u4").tobytes()


def unpack(data: bytes, where: str) -> tuple[dict, np.ndarray]:
    """Header and payload words of a compressed file; ``where`` names it in errors."""
    if data[:3] != MAGIC:
        raise ArchiveError(f"{where} is not a file written by `python -m lm_eval_compression compress`")
    if len(data) < 4 or data[3] != FORMAT:
        raise ArchiveError(f"{where} is format {data[3:4].hex() or 'none'}, this version reads format {FORMAT}")
    if len(data) < 14:
        raise ArchiveError(f"{where} is truncated inside its header")
    header = {"model_sha256": data[4:12].hex(), "loaded_check": data[12:14].hex()}
    pos, values = 14, []
    for _ in range(9):
        value, pos = _read_varint(data, pos, where)
        values.append(value)
    block, stride, bos_setting, bos, lanes, threads, kind, n_docs, chars = values
    if bos_setting >= len(BOS_SETTINGS) or kind > 2 or bos > 1:
        raise ArchiveError(f"{where}: the header is damaged")
    tokens = []
    for _ in range(n_docs):
        value, pos = _read_varint(data, pos, where)
        tokens.append(value)
    field = None if kind == 0 else "content"
    if kind == 2:
        size, pos = _read_varint(data, pos, where)
        field = data[pos : pos + size].decode("utf-8", errors="replace")
        pos += size
    if len(data) < pos + 8:
        raise ArchiveError(f"{where} is truncated inside its header")
    header.update(
        block_size=block,
        stride=stride,
        window_bos_setting=BOS_SETTINGS[bos_setting],
        window_bos=bool(bos),
        lanes=lanes,
        threads=threads,
        kind=KINDS[min(kind, 1)],
        text_field=field,
        tokens=tokens,
        chars=chars,
        corpus_sha256=data[pos : pos + 8].hex(),
        header_bytes=pos + 8,
    )
    payload = data[pos + 8 :]
    if len(payload) % 4:
        raise ArchiveError(f"{where} is truncated or damaged: the payload is not a whole number of 32-bit words")
    return header, np.frombuffer(payload, dtype="<u4").astype(np.uint32)


def check_model(header: dict, identity: str, where: str) -> None:
    """Stop unless the decoder's model files are those the file was compressed with."""
    if identity[:16] != header["model_sha256"]:
        raise ArchiveError(
            f"{where} was compressed with another model: the hash of its weight and tokenizer files starts "
            f"{header['model_sha256']}, the given model's starts {identity[:16]}; decompress it with the model "
            "it was compressed with"
        )


def check_setting(header: dict, name: str, given, where: str) -> None:
    """Stop if a setting given to the decoder differs from the one recorded in the header."""
    if given is not None and given != header[name]:
        raise ArchiveError(
            f"{where} was compressed with {name}={header[name]!r}, but {name}={given!r} was given; "
            f"leave {name} out (the file records it) or pass {header[name]!r}"
        )
