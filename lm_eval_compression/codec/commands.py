"""``compress`` / ``decompress``: range-code a corpus with its model's probabilities under the ``document``
protocol's windows (:mod:`.coding`), the model loaded by the harness's ``hf`` wrapper from ``--model_args``;
the report sets the file size beside the task's bpc for the same text and settings, and gzip, xz and zstd.
"""

from __future__ import annotations

import argparse
import gzip
import json
import lzma
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from ..engine.corpus import CorpusError, corpus_sha256
from ..engine.settings import WindowSettings, WindowSettingsError
from . import archive
from . import coding as codec


@dataclass
class Corpus:
    kind: str  # "jsonl" or "text"
    texts: list[str]
    labels: list[str]  # how errors name each document
    text_field: str | None = None


def read_corpus(path: Path, text_field: str = "content") -> Corpus:
    """JSON lines (``.jsonl``/``.json``: one document per non-blank line) or a UTF-8 text file (one document)."""
    if not path.is_file():
        raise CorpusError(f"corpus {path} does not exist")
    data = path.read_bytes()
    if path.suffix not in (".jsonl", ".json"):
        try:
            return Corpus("text", [data.decode("utf-8")], [str(path)])
        except UnicodeDecodeError as e:
            raise CorpusError(f"{path} is not UTF-8 text ({e}); only text can be compressed") from None
    texts, labels = [], []
    for number, line in enumerate(data.decode("utf-8", errors="strict").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"line {number} of {path}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise CorpusError(f"{where} is not JSON ({e})") from None
        if not isinstance(record, dict) or text_field not in record:
            raise CorpusError(f"{where} has no field {text_field!r}; pass --text_field with the field holding the text")
        if not isinstance(record[text_field], str):
            raise CorpusError(f"{where}: {text_field!r} holds a {type(record[text_field]).__name__}, not text")
        texts.append(record[text_field])
        labels.append(f"document {len(texts) - 1} ({where})")
    if not texts:
        raise CorpusError(f"{path} holds no documents")
    return Corpus("jsonl", texts, labels, text_field)


def write_corpus(path: Path, kind: str, texts: list[str], text_field: str | None) -> None:
    if kind == "text":
        path.write_bytes(texts[0].encode("utf-8"))
    else:
        path.write_text(
            "".join(json.dumps({text_field: t}, ensure_ascii=False) + "\n" for t in texts), encoding="utf-8"
        )


def load_lm(model_args: str, device: str | None, batch_size="1"):
    """The harness's ``hf`` wrapper, built from ``--model_args`` as ``lm_eval --model hf`` would."""
    from lm_eval.api.registry import get_model

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    return get_model("hf").create_from_arg_string(model_args, {"device": device, "batch_size": batch_size})


def parse_model_args(model_args: str) -> dict:
    from lm_eval.utils import simple_parse_args_string

    return simple_parse_args_string(model_args)


def _stepper(lm, settings: dict, lanes: int) -> codec.WindowStepper:
    return codec.WindowStepper(
        lm.model,
        lm.device,
        prefix_token_id=lm.prefix_token_id,
        bos_token_id=lm.tokenizer.bos_token_id,
        block_size=settings.block_size,
        stride=settings.stride,
        window_bos=bool(settings.use_window_bos),
        lanes=lanes,
        autocast_dtype=getattr(lm, "mixed_precision_dtype", None),
    )


def _decode_text(lm, ids: list[int]) -> str:
    return lm.tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)


def _loaded_check(lm, vocab_size: int) -> str:
    return archive.loaded_check(str(next(lm.model.parameters()).dtype), int(lm.prefix_token_id), vocab_size)


def resolve_windows(lm, block_size, stride, window_bos) -> WindowSettings:
    """The ``document`` protocol's window settings as the compression task applies them to this model."""
    from ..harness.wrapper import windows_for

    given = {"block_size": block_size, "stride": stride, "protocol": "document", "window_bos": window_bos}
    settings = WindowSettings.parse(given, where="compress")
    if settings.block_size > lm.max_length:
        raise WindowSettingsError(
            f"block_size ({settings.block_size}) is larger than the model's maximum length "
            f"({lm.max_length}); lower --block_size or raise max_length in --model_args"
        )
    return windows_for(lm, settings)


def compress_corpus(
    lm, model_args: str, corpus: Corpus, settings: WindowSettings, lanes: int = 4, name: str = ""
) -> tuple[bytes, dict]:
    """The compressed file and run facts (time, model bits) for ``corpus``."""
    start = time.perf_counter()
    encoded = lm.tokenizer(corpus.texts, add_special_tokens=False)["input_ids"] if corpus.texts else []
    for text, ids, label in zip(corpus.texts, encoded, corpus.labels, strict=True):
        back = _decode_text(lm, ids)
        if back != text:
            same = (a == b for a, b in zip(text, back, strict=False))
            at = next((i for i, equal in enumerate(same) if not equal), min(len(text), len(back)))
            raise CorpusError(
                f"{label}: the tokenizer does not reproduce this text exactly (decode(encode(text)) differs from "
                f"character {at} on: {text[at : at + 20]!r} became {back[at : at + 20]!r}); "
                "it cannot be stored losslessly"
            )
    stepper = _stepper(lm, settings, lanes)
    words, stats = codec.encode(stepper, encoded)
    header = {
        "model_sha256": archive.model_files_identity(parse_model_args(model_args)),
        "loaded_check": _loaded_check(lm, stepper.vocab_size),
        "block_size": settings.block_size,
        "stride": settings.stride,
        "window_bos_setting": settings.window_bos,
        "window_bos": settings.use_window_bos,
        "lanes": lanes,
        "threads": torch.get_num_threads(),
        "kind": corpus.kind,
        "text_field": corpus.text_field,
        "tokens": [len(ids) for ids in encoded],
        "chars": sum(len(t) for t in corpus.texts),
        "corpus_sha256": corpus_sha256(corpus.texts),
    }
    data = archive.pack(header, words)
    facts = {
        "seconds": time.perf_counter() - start,
        "model_bits": float(sum(stats.model_bits)),
        "payload_bits": 32 * len(words),
        "file_bits": 8 * len(data),
        "steps": stats.steps,
        "context_passes": stats.context_passes,
        "name": name,
        "documents": len(corpus.texts),
        "bytes": sum(len(t.encode("utf-8")) for t in corpus.texts),
    }
    return data, facts


def check_file_model(header: dict, model_args: str, where: str) -> None:
    """Before loading anything: the given model's files must be those the file was compressed with."""
    archive.check_model(header, archive.model_files_identity(parse_model_args(model_args)), where)


def decompress_corpus(lm, data: bytes, where: str, given: dict | None = None) -> tuple[Corpus, dict]:
    """The documents stored in ``data``; stops with a message naming the problem on any mismatch."""
    start = time.perf_counter()
    header, words = archive.unpack(data, where)
    for name, value in (given or {}).items():
        archive.check_setting(header, name, value, where)
    settings = resolve_windows(lm, header["block_size"], header["stride"], header["window_bos_setting"])
    stepper = _stepper(lm, settings, header["lanes"])
    if _loaded_check(lm, stepper.vocab_size) != header["loaded_check"]:
        raise archive.ArchiveError(
            f"{where} was compressed with the same model files but another dtype, prefix token or vocabulary size "
            f"(here: dtype {next(lm.model.parameters()).dtype}, prefix_token_id {lm.prefix_token_id}, vocabulary "
            f"{stepper.vocab_size}); pass the model_args it was compressed with"
        )
    if settings.use_window_bos != header["window_bos"]:
        raise archive.ArchiveError(
            f"{where}: window_bos resolves to {settings.use_window_bos} here, "
            f"it was {header['window_bos']} when compressing"
        )
    tokens, stats = codec.decode(stepper, words, header["tokens"])
    texts = [_decode_text(lm, ids) for ids in tokens]
    if sum(len(t) for t in texts) != header["chars"] or corpus_sha256(texts)[:16] != header["corpus_sha256"]:
        raise archive.ArchiveError(
            f"{where}: the decoded text fails its checksum, so nothing is written: the file is damaged, or this "
            f"machine's arithmetic differs from the compressor's (torch and transformers versions, device and CPU "
            f"threads must match; it used {header['threads']} threads, this run {torch.get_num_threads()})"
        )
    corpus = Corpus(header["kind"], texts, [f"document {i}" for i in range(len(texts))], header["text_field"])
    return corpus, {"seconds": time.perf_counter() - start, "steps": stats.steps, "header": header}


def baselines(texts: list[str]) -> dict[str, int]:
    """Bytes of the documents (each followed by a newline) under gzip -9, xz -9 and zstd -19."""
    import zstandard

    data = "".join(t + "\n" for t in texts).encode("utf-8")
    return {
        "gzip -9": len(gzip.compress(data, compresslevel=9, mtime=0)),
        "xz -9": len(lzma.compress(data, format=lzma.FORMAT_XZ, preset=9)),
        "zstd -19": len(zstandard.ZstdCompressor(level=19).compress(data)),
    }


def plugin_bpc(lm, texts: list[str], settings: dict) -> float:
    """The compression task's bpc for these documents, run through the harness (``simple_evaluate``)."""
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    from ..harness.discovery import tasks_dir

    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "corpus.jsonl").write_text(
            "".join(json.dumps({"content": t}, ensure_ascii=False) + "\n" for t in texts), encoding="utf-8"
        )
        metadata = {
            "data_dir": folder,
            "data_file": "corpus.jsonl",
            "text_field": "content",
            "protocol": "document",
            "block_size": settings.block_size,
            "stride": settings.stride,
            "window_bos": settings.window_bos,
        }
        tm = TaskManager(include_path=tasks_dir(), include_defaults=False, metadata=metadata)
        results = simple_evaluate(model=lm, tasks=["compression_cc"], task_manager=tm, bootstrap_iters=0)
    return float(results["results"]["compression_cc"]["bpc,none"])


def build_report(header: dict, facts: dict, bpc: float | None, decompress: dict | None) -> dict:
    chars = header["chars"]
    achieved = facts["file_bits"] / chars
    return {
        "corpus": facts["name"],
        "documents": facts["documents"],
        "chars": chars,
        "bytes": facts["bytes"],
        "tokens": sum(header["tokens"]),
        "lanes": header["lanes"],
        "windows": {k: header[k] for k in ("block_size", "stride", "window_bos_setting", "window_bos")},
        "file_bits": facts["file_bits"],
        "header_bits": 8 * header["header_bytes"],
        "payload_bits": facts["payload_bits"],
        "model_bits": facts["model_bits"],
        "bpc_achieved": achieved,
        "bpc_payload": facts["payload_bits"] / chars,
        "bpc_model": facts["model_bits"] / chars,
        "bpc_plugin": bpc,
        "gap": None if bpc is None else achieved - bpc,
        "gap_percent": None if bpc is None else 100 * (achieved - bpc) / bpc,
        "payload_gap_percent": None if bpc is None else 100 * (facts["payload_bits"] / chars - bpc) / bpc,
        "compress_seconds": facts["seconds"],
        "model_steps": facts["steps"],
        "decompress_seconds": decompress["seconds"] if decompress else None,
        "round_trip_identical": decompress["identical"] if decompress else None,
        "baselines_bits": {k: 8 * v for k, v in facts["baselines"].items()},
    }


def report_table(r: dict) -> str:
    """The report as a Markdown table."""
    c = r["chars"]
    rows = [
        "| method | size (bytes) | bits per character |",
        "|---|---:|---:|",
        f"| model + range coder: whole file | {r['file_bits'] // 8:,} | {r['bpc_achieved']:.4f} |",
        f"| … payload only (without the {r['header_bits'] // 8}-byte header) | {r['payload_bits'] // 8:,} "
        f"| {r['bpc_payload']:.4f} |",
    ]
    if r["bpc_plugin"] is not None:
        rows.append(f"| compression task bpc (the plugin) | | {r['bpc_plugin']:.4f} |")
    rows += [f"| {name} | {bits // 8:,} | {bits / c:.4f} |" for name, bits in r["baselines_bits"].items()]
    notes = [
        f"{r['corpus']}: {r['documents']} documents, {c:,} characters, {r['tokens']:,} tokens; "
        f"block_size {r['windows']['block_size']}, stride {r['windows']['stride']}, "
        f"window_bos {r['windows']['window_bos']}, {r['lanes']} lanes"
    ]
    if r["gap"] is not None:
        notes.append(
            f"gap to the plugin's bpc: whole file {r['gap']:+.4f} bits/char ({r['gap_percent']:+.2f} %), "
            f"payload {r['payload_gap_percent']:+.2f} %"
        )
    times = f"compress {r['compress_seconds']:.1f} s"
    if r["decompress_seconds"] is not None:
        times += f", decompress {r['decompress_seconds']:.1f} s, round trip identical: {r['round_trip_identical']}"
    return "\n".join(rows + [""] + notes + [times])


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path)
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--model_args", required=True, help="as for lm_eval --model hf: pretrained=DIR,dtype=float32")
    parser.add_argument("--device", default=None, help="cuda if there is one, else cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (decompress: the file's)")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lm_eval_compression compress",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(parser)
    parser.add_argument("--block_size", type=int, default=1900)
    parser.add_argument("--stride", type=int, default=512)
    parser.add_argument("--window_bos", choices=("auto", "true", "false"), default="auto")
    parser.add_argument("--text_field", default="content")
    parser.add_argument("--lanes", type=int, default=4, help="documents coded side by side (a speed setting)")
    parser.add_argument("--verify", action="store_true", help="decompress right away and compare (times it too)")
    parser.add_argument("--no_plugin_bpc", action="store_true", help="skip running the compression task for the report")
    parser.add_argument("--report", type=Path, help="also write the report as JSON here")
    args = parser.parse_args(argv)
    try:
        corpus = read_corpus(args.input, args.text_field)
        if args.threads:
            torch.set_num_threads(args.threads)
        lm = load_lm(args.model_args, args.device)
        settings = resolve_windows(lm, args.block_size, args.stride, args.window_bos)
        data, facts = compress_corpus(lm, args.model_args, corpus, settings, args.lanes, name=args.input.name)
        args.output.write_bytes(data)
        header, _ = archive.unpack(data, str(args.output))
        chars = header["chars"]
        decompressed = None
        if args.verify:
            back, info = decompress_corpus(lm, args.output.read_bytes(), str(args.output))
            decompressed = {"seconds": info["seconds"], "identical": back.texts == corpus.texts}
            if not decompressed["identical"]:
                print(f"compress: {args.output} does not decompress to the input", file=sys.stderr)
                return 1
        facts["baselines"] = baselines(corpus.texts)
        bpc = None if args.no_plugin_bpc or not chars else plugin_bpc(lm, corpus.texts, settings)
    except (CorpusError, WindowSettingsError, archive.ArchiveError, codec.CodecError) as e:
        print(f"compress: {e}", file=sys.stderr)
        return 2
    if not chars:
        print(f"wrote {args.output} ({len(data)} bytes; the corpus has no characters)")
        return 0
    report = build_report(header, facts, bpc, decompressed)
    if args.report:
        args.report.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.output}\n\n{report_table(report)}")
    return 0


def decompress_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lm_eval_compression decompress",
        description="Restore the corpus of a file written by `compress`.",
    )
    _common(parser)
    parser.add_argument("--block_size", type=int, default=None, help="checked against the file if given")
    parser.add_argument("--stride", type=int, default=None, help="checked against the file if given")
    args = parser.parse_args(argv)
    where = str(args.input)
    try:
        if not args.input.is_file():
            raise archive.ArchiveError(f"{where} does not exist")
        data = args.input.read_bytes()
        header, _ = archive.unpack(data, where)
        given = {"block_size": args.block_size, "stride": args.stride}
        for name, value in given.items():
            archive.check_setting(header, name, value, where)
        check_file_model(header, args.model_args, where)
        torch.set_num_threads(args.threads or header["threads"])
        lm = load_lm(args.model_args, args.device)
        corpus, info = decompress_corpus(lm, data, where)
    except (WindowSettingsError, archive.ArchiveError, codec.CodecError) as e:
        print(f"decompress: {e}", file=sys.stderr)
        return 2
    write_corpus(args.output, corpus.kind, corpus.texts, corpus.text_field)
    print(
        f"wrote {args.output}: {len(corpus.texts)} documents, {sum(len(t) for t in corpus.texts):,} characters "
        f"in {info['seconds']:.1f} s"
    )
    return 0
