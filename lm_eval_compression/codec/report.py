"""What ``compress`` reports: the file's size in bits per character beside the task's bpc for the same text
and windows, the model's own bits, and gzip, xz and zstd on the same text."""

from __future__ import annotations

import gzip
import lzma
from dataclasses import asdict, dataclass

from .archive import Header


@dataclass(frozen=True)
class CompressRun:
    """One compression: the file's and the model's bits, and the work it took."""

    name: str
    documents: int
    bytes: int
    seconds: float
    model_bits: float  # -log2 p of every token under the coder's exact-arithmetic probabilities (p >= 2**-24)
    payload_bits: int
    file_bits: int
    steps: int
    context_passes: int


@dataclass(frozen=True)
class RoundTrip:
    seconds: float
    identical: bool


@dataclass(frozen=True)
class CompressionReport:
    corpus: str
    documents: int
    chars: int
    bytes: int
    tokens: int
    lanes: int
    windows: dict
    file_bits: int
    header_bits: int
    payload_bits: int
    model_bits: float
    bpc_achieved: float
    bpc_payload: float
    bpc_model: float
    bpc_plugin: float | None
    gap: float | None
    gap_percent: float | None
    payload_gap_percent: float | None
    compress_seconds: float
    model_steps: int
    decompress_seconds: float | None
    round_trip_identical: bool | None
    baselines_bits: dict

    def as_dict(self) -> dict:
        return asdict(self)

    def table(self) -> str:
        """The report as a Markdown table and two lines of notes."""
        c = self.chars
        rows = [
            "| method | size (bytes) | bits per character |",
            "|---|---:|---:|",
            f"| model + range coder: whole file | {self.file_bits // 8:,} | {self.bpc_achieved:.4f} |",
            f"| … payload only (without the {self.header_bits // 8}-byte header) | {self.payload_bits // 8:,} "
            f"| {self.bpc_payload:.4f} |",
        ]
        if self.bpc_plugin is not None:
            rows.append(f"| compression task bpc (the plugin) | | {self.bpc_plugin:.4f} |")
        rows += [f"| {name} | {bits // 8:,} | {bits / c:.4f} |" for name, bits in self.baselines_bits.items()]
        w = self.windows
        notes = [
            f"{self.corpus}: {self.documents} documents, {c:,} characters, {self.tokens:,} tokens; "
            f"block_size {w['block_size']}, stride {w['stride']}, window_bos {w['window_bos']}, {self.lanes} lanes"
        ]
        if self.gap is not None:
            notes.append(
                f"gap to the plugin's bpc: whole file {self.gap:+.4f} bits/char ({self.gap_percent:+.2f} %), "
                f"payload {self.payload_gap_percent:+.2f} %"
            )
        times = f"compress {self.compress_seconds:.1f} s"
        if self.decompress_seconds is not None:
            times += f", decompress {self.decompress_seconds:.1f} s, round trip identical: {self.round_trip_identical}"
        return "\n".join(rows + [""] + notes + [times])


def baselines(texts: list[str]) -> dict[str, int]:
    """Bytes of the documents (each followed by a newline) under gzip -9, xz -9 and zstd -19."""
    import zstandard

    data = "".join(t + "\n" for t in texts).encode("utf-8")
    return {
        "gzip -9": len(gzip.compress(data, compresslevel=9, mtime=0)),
        "xz -9": len(lzma.compress(data, format=lzma.FORMAT_XZ, preset=9)),
        "zstd -19": len(zstandard.ZstdCompressor(level=19).compress(data)),
    }


def build_report(
    header: Header, run: CompressRun, bpc: float | None, sizes: dict[str, int], trip: RoundTrip | None
) -> CompressionReport:
    """The report of one compression; ``sizes``: :func:`baselines`; ``trip``: the ``--verify`` round trip."""
    chars = header.chars
    achieved = run.file_bits / chars

    def relative(value: float) -> float | None:
        return None if bpc is None else 100 * (value - bpc) / bpc

    return CompressionReport(
        corpus=run.name,
        documents=run.documents,
        chars=chars,
        bytes=run.bytes,
        tokens=sum(header.tokens),
        lanes=header.lanes,
        windows={
            "block_size": header.block_size,
            "stride": header.stride,
            "window_bos_setting": header.window_bos_setting,
            "window_bos": header.window_bos,
        },
        file_bits=run.file_bits,
        header_bits=8 * header.header_bytes,
        payload_bits=run.payload_bits,
        model_bits=run.model_bits,
        bpc_achieved=achieved,
        bpc_payload=run.payload_bits / chars,
        bpc_model=run.model_bits / chars,
        bpc_plugin=bpc,
        gap=None if bpc is None else achieved - bpc,
        gap_percent=relative(achieved),
        payload_gap_percent=relative(run.payload_bits / chars),
        compress_seconds=run.seconds,
        model_steps=run.steps,
        decompress_seconds=trip.seconds if trip else None,
        round_trip_identical=trip.identical if trip else None,
        baselines_bits={k: 8 * v for k, v in sizes.items()},
    )
