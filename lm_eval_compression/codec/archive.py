"""The compressed file: a small binary header that says what decoding needs, then the range coders' bytes.

Layout (format 4)::

    LMZ, format byte                      4 bytes
    CRC-32 of everything that follows     4 bytes (little endian)
    model identity, loaded-model check    8 + 2 bytes (see model_files)
    quantised weights' identity           8 bytes (exact_model.ExactLM.identity)
    the arithmetic's parameters (count, then each), block_size, stride, window_bos setting and resolution,
    streams, CPU threads, kind, documents, characters, each stream's payload bytes, then each document's
    token count                                                      unsigned LEB128 integers
    text field name (JSON lines whose field is not "content")        length + UTF-8
    device, torch, transformers, CPU instruction set of the writer   length + UTF-8 each
    probe fingerprint, corpus SHA-256 start                          4 + 8 bytes
    payload                               each stream's bytes in turn (coding.closed_stream), to the end

Every count is checked against what the rest of the file implies before anything is allocated or decoded
(:func:`unpack`), and any damaged byte fails the checksum, so a damaged file is an error, never a partial
result.  The header is part of the achieved bits per character: about 80 bytes for a few documents.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from itertools import accumulate, pairwise

MAGIC = b"LMZ"
FORMAT = 4
BOS_SETTINGS = ("auto", True, False)
KINDS = ("text", "jsonl")
MAX_LANES = 1024
MAX_THREADS = 4096
MAX_BLOCK = 1 << 24
MAX_NAME = 256  # bytes of the text field name and of each machine string


def max_document_tokens(chars: int) -> int:
    """The most tokens a file may hold for ``chars`` characters: a token stands for at least one UTF-8 byte
    of its document (at most 4 per character), or is the one leading space marker a tokenizer may add."""
    return 4 * chars + 1


class ArchiveError(ValueError):
    """A compressed file is unreadable or does not match the decoder; the message says which and why."""


@dataclass(frozen=True)
class Machine:
    """The writer's machine: threads, device and versions (for messages; the arithmetic does not depend on them)."""

    threads: int
    device: str
    torch: str
    transformers: str
    cpu: str  # the CPU instruction set torch dispatches to (torch.backends.cpu.get_cpu_capability())

    @classmethod
    def here(cls, device) -> Machine:
        import torch
        import transformers

        return cls(
            torch.get_num_threads(),
            str(torch.device(device).type),
            torch.__version__,
            transformers.__version__,
            torch.backends.cpu.get_cpu_capability(),
        )

    def differences(self, other: Machine) -> list[str]:
        """``name: this vs other`` for every fact that differs."""
        names = {"threads": "CPU threads", "device": "device", "torch": "torch", "transformers": "transformers"}
        names["cpu"] = "CPU instruction set"
        return [
            f"{label} {getattr(self, key)} vs {getattr(other, key)}"
            for key, label in names.items()
            if getattr(self, key) != getattr(other, key)
        ]


@dataclass(frozen=True)
class Header:
    """Everything decoding needs besides the model and the payload."""

    model_sha256: str  # 16 hex digits: the start of model_files.model_files_identity
    loaded_check: str  # 4 hex digits: model_files.loaded_check
    weights_sha256: str  # 16 hex digits: the start of exact_model.ExactLM.identity
    arithmetic: tuple[int, ...]  # exact_ops.Arithmetic values
    block_size: int
    stride: int
    window_bos_setting: str | bool
    window_bos: bool
    lanes: int  # streams
    machine: Machine
    probe: str  # 8 hex digits: coding.WindowCoder.probe
    kind: str  # "text" or "jsonl"
    text_field: str | None
    tokens: tuple[int, ...]
    chars: int
    corpus_sha256: str  # 16 hex digits: the start of engine.corpus.corpus_sha256
    stream_bytes: tuple[int, ...]

    @property
    def payload_bytes(self) -> int:
        return sum(self.stream_bytes)

    @property
    def header_bytes(self) -> int:
        """Bytes before the payload: magic, format, checksum and the fields."""
        return 8 + len(_encode(self))


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


def _string(text: str) -> bytes:
    data = text.encode("utf-8")
    if len(data) > MAX_NAME:
        raise ValueError(f"{text[:40]!r}… is longer than {MAX_NAME} bytes")
    return _varints([len(data)]) + data


def _encode(h: Header) -> bytes:
    """The header's bytes after the magic, format and checksum."""
    kind = 0 if h.kind == "text" else (1 if h.text_field == "content" else 2)
    m = h.machine
    head = bytearray(bytes.fromhex(h.model_sha256) + bytes.fromhex(h.loaded_check) + bytes.fromhex(h.weights_sha256))
    settings = [h.block_size, h.stride, BOS_SETTINGS.index(h.window_bos_setting), int(h.window_bos), h.lanes]
    head += _varints([len(h.arithmetic), *h.arithmetic, *settings, m.threads, kind, len(h.tokens), h.chars])
    head += _varints([*h.stream_bytes, *h.tokens])
    if kind == 2:
        head += _string(h.text_field)
    for text in (m.device, m.torch, m.transformers, m.cpu):
        head += _string(text)
    return bytes(head + bytes.fromhex(h.probe) + bytes.fromhex(h.corpus_sha256))


def pack(header: Header, streams: list[bytes]) -> bytes:
    """The file for ``header`` and each stream's payload bytes."""
    if tuple(len(b) for b in streams) != header.stream_bytes:
        raise ValueError(f"the header counts {header.stream_bytes} payload bytes, {[len(b) for b in streams]} given")
    body = _encode(header) + b"".join(streams)
    return MAGIC + bytes([FORMAT]) + zlib.crc32(body).to_bytes(4, "little") + body


class _Reader:
    """Reads the header's fields in order; every read names the file when the bytes run out."""

    def __init__(self, data: bytes, pos: int, where: str):
        self.data, self.pos, self.where = data, pos, where

    def bytes(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ArchiveError(f"{self.where} is truncated inside its header")
        self.pos += n
        return self.data[self.pos - n : self.pos]

    def varint(self, name: str, low: int, high: int) -> int:
        value = shift = 0
        while True:
            byte = self.bytes(1)[0]
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
            if shift > 63:
                raise ArchiveError(f"{self.where}: the header's {name} is not a valid number; the file is damaged")
        return self.checked(name, value, low, high)

    def checked(self, name: str, value: int, low: int, high: int) -> int:
        if not low <= value <= high:
            raise ArchiveError(
                f"{self.where}: the header's {name} is {value}, outside {low}..{high} that a file written by "
                "`compress` holds; the file is damaged or was not written by this program"
            )
        return value

    def string(self, name: str) -> str:
        size = self.varint(f"{name} length", 0, MAX_NAME)
        try:
            return self.bytes(size).decode("utf-8")
        except UnicodeDecodeError:
            raise ArchiveError(f"{self.where}: the header's {name} is not UTF-8; the file is damaged") from None


def unpack(data: bytes, where: str) -> tuple[Header, list[bytes]]:
    """Header and each stream's payload bytes of a compressed file, after its checksum and every field's range
    are checked; ``where`` names the file in errors."""
    if data[:3] != MAGIC:
        raise ArchiveError(f"{where} is not a file written by `python -m lm_eval_compression compress`")
    if len(data) < 4 or data[3] != FORMAT:
        raise ArchiveError(f"{where} is format {data[3:4].hex() or 'none'}, this version reads format {FORMAT}")
    if len(data) < 8:
        raise ArchiveError(f"{where} is truncated inside its header")
    if zlib.crc32(data[8:]) != int.from_bytes(data[4:8], "little"):
        raise ArchiveError(
            f"{where} is damaged or truncated: its CRC-32 does not match its contents; nothing is decoded"
        )
    r = _Reader(data, 8, where)
    model_sha256, loaded, weights = r.bytes(8).hex(), r.bytes(2).hex(), r.bytes(8).hex()
    arithmetic = tuple(r.varint(f"arithmetic parameter {i}", 0, 1 << 32) for i in range(r.varint("parameters", 0, 64)))
    block = r.varint("block_size", 2, MAX_BLOCK)
    stride = r.varint("stride", 1, block)
    bos_setting = r.varint("window_bos setting", 0, len(BOS_SETTINGS) - 1)
    bos = r.varint("window_bos", 0, 1)
    lanes = r.varint("lanes", 1, MAX_LANES)
    threads = r.varint("CPU threads", 1, MAX_THREADS)
    kind = r.varint("kind", 0, 2)
    # every document's token count takes at least one header byte
    n_docs = r.varint("document count", 0, len(data) - r.pos)
    if kind == 0:
        r.checked("document count of a text file", n_docs, 1, 1)
    chars = r.varint("character count", 0, 1 << 48)
    stream_bytes = []
    for s in range(lanes):
        stream_bytes.append(r.varint(f"payload byte count of stream {s}", 0, len(data) - r.pos))
    payload_bytes = sum(stream_bytes)
    tokens = tuple(r.varint(f"token count of document {d}", 0, max_document_tokens(chars)) for d in range(n_docs))
    r.checked("total token count", sum(tokens), 0, max_document_tokens(chars) - 1 + n_docs)
    field = None if kind == 0 else ("content" if kind == 1 else r.string("text field name"))
    machine = Machine(threads, *(r.string(name) for name in ("device", "torch version", "transformers", "CPU")))
    probe, corpus = r.bytes(4).hex(), r.bytes(8).hex()
    if len(data) - r.pos != payload_bytes:
        raise ArchiveError(
            f"{where}: the header counts {payload_bytes} payload bytes but {len(data) - r.pos} bytes follow it; "
            "the file is damaged"
        )
    header = Header(
        model_sha256,
        loaded,
        weights,
        arithmetic,
        block,
        stride,
        BOS_SETTINGS[bos_setting],
        bool(bos),
        lanes,
        machine,
        probe,
        KINDS[min(kind, 1)],
        field,
        tokens,
        chars,
        corpus,
        tuple(stream_bytes),
    )
    return header, [data[a:b] for a, b in pairwise(accumulate(stream_bytes, initial=r.pos))]


def check_model(header: Header, identity: str, where: str) -> None:
    """Stop unless the decoder's model files are those the file was compressed with."""
    if identity[:16] != header.model_sha256:
        raise ArchiveError(
            f"{where} was compressed with another model: the hash of its weight and tokenizer files starts "
            f"{header.model_sha256}, the given model's starts {identity[:16]}; decompress it with the model "
            "it was compressed with"
        )


def check_setting(header: Header, name: str, given, where: str) -> None:
    """Stop if a setting given to the decoder differs from the one recorded in the header."""
    recorded = getattr(header, name)
    if given is not None and given != recorded:
        raise ArchiveError(
            f"{where} was compressed with {name}={recorded!r}, but {name}={given!r} was given; "
            f"leave {name} out (the file records it) or pass {recorded!r}"
        )
