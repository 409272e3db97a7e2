"""``compress`` / ``decompress``: range-code a corpus with its model's probabilities under the ``document``
protocol's windows (:mod:`.coding`), in exact arithmetic (:mod:`.exact_model`), the model loaded by the
harness's ``hf`` wrapper from ``--model_args``;
the report sets the file size beside the task's bpc for the same text and settings, and gzip, xz and zstd.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from ..engine.corpus import CorpusError, corpus_sha256
from ..engine.settings import WindowSettings, WindowSettingsError
from . import archive, memory, model_cache, model_files
from . import coding as codec
from .exact_model import ExactLM, UnsupportedModel, check_architecture
from .exact_ops import Arithmetic
from .report import CompressRun, RoundTrip, baselines, build_report


@dataclass(frozen=True)
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
    """The harness's ``hf`` wrapper, built from ``--model_args`` as ``lm_eval --model hf`` would; a local GGUF
    model is loaded from its de-quantised copy (:mod:`.model_cache`)."""
    from lm_eval.api.registry import get_model

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    args = model_cache.cached_model_args(parse_model_args(model_args))
    arg_string = ",".join(f"{key}={value}" for key, value in args.items())
    return get_model("hf").create_from_arg_string(arg_string, {"device": device, "batch_size": batch_size})


def parse_model_args(model_args: str) -> dict:
    from lm_eval.utils import simple_parse_args_string

    return simple_parse_args_string(model_args)


def check_model_config(model_args: str) -> None:
    """Before loading the weights: the model's architecture is one the exact arithmetic runs."""
    from transformers import AutoConfig

    args = parse_model_args(model_args)
    keys = ("revision", "gguf_file", "trust_remote_code")
    config = AutoConfig.from_pretrained(str(args["pretrained"]), **{k: args[k] for k in keys if k in args})
    check_architecture(config)


def window_coder(lm, windows: WindowSettings) -> codec.WindowCoder:
    """The coder of ``lm``'s model in exact arithmetic (quantised once per loaded model)."""
    exact = getattr(lm, "_exact_lm", None)
    if exact is None:
        exact = lm._exact_lm = ExactLM.from_hf(lm.model, lm.device)
    return codec.WindowCoder(exact, windows, lm.tokenizer.bos_token_id)


def _decode_text(lm, ids: list[int]) -> str:
    return lm.tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)


def _loaded_check(lm, vocab_size: int) -> str:
    return model_files.loaded_check(str(next(lm.model.parameters()).dtype), int(lm.prefix_token_id), vocab_size)


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


def _tokens(lm, corpus: Corpus) -> list[list[int]]:
    """The documents' tokens, each checked to decode back to its text exactly."""
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
        if len(ids) > archive.max_document_tokens(len(text)):
            raise CorpusError(f"{label}: {len(ids)} tokens for {len(text)} characters, more than a file can hold")
    return encoded


def compress_corpus(
    lm, model_args: str, corpus: Corpus, windows: WindowSettings, lanes: int = 4, name: str = ""
) -> tuple[bytes, archive.Header, CompressRun]:
    """The compressed file of ``corpus``, its header, and what the run took."""
    start = time.perf_counter()
    if not 1 <= lanes <= archive.MAX_LANES:
        raise codec.CodecError(f"lanes must be between 1 and {archive.MAX_LANES}, got {lanes}")
    encoded = _tokens(lm, corpus)
    coder = window_coder(lm, windows)
    streams, stats = coder.encode(encoded, lanes)
    counts = tuple(len(ids) for ids in encoded)
    payload_bits = 8 * sum(len(b) for b in streams)
    if sum(counts) > codec.max_tokens(payload_bits, coder.vocab_size, lanes):
        raise codec.CodecError("the payload is shorter than its precision bound allows; the coder misbehaved")
    header = archive.Header(
        model_sha256=model_files.model_files_identity(parse_model_args(model_args))[:16],
        loaded_check=_loaded_check(lm, coder.vocab_size),
        weights_sha256=coder.model.identity[:16],
        arithmetic=Arithmetic().values(),
        block_size=windows.block_size,
        stride=windows.stride,
        window_bos_setting=windows.window_bos,
        window_bos=bool(windows.use_window_bos),
        lanes=lanes,
        machine=archive.Machine.here(lm.device),
        probe=coder.probe(),
        kind=corpus.kind,
        text_field=corpus.text_field,
        tokens=counts,
        chars=sum(len(t) for t in corpus.texts),
        corpus_sha256=corpus_sha256(corpus.texts)[:16],
        stream_bytes=tuple(len(b) for b in streams),
    )
    data = archive.pack(header, streams)
    run = CompressRun(
        name=name,
        documents=len(corpus.texts),
        bytes=sum(len(t.encode("utf-8")) for t in corpus.texts),
        seconds=time.perf_counter() - start,
        model_bits=float(sum(stats.model_bits)),
        payload_bits=payload_bits,
        file_bits=8 * len(data),
        steps=stats.steps,
        context_passes=stats.context_passes,
    )
    return data, header, run


def check_file_model(header: archive.Header, model_args: str, where: str) -> None:
    """Before loading anything: the given model's files must be those the file was compressed with."""
    archive.check_model(header, model_files.model_files_identity(parse_model_args(model_args)), where)


@dataclass(frozen=True)
class DecompressRun:
    header: archive.Header
    seconds: float
    steps: int


def check_arithmetic(header: archive.Header, where: str) -> None:
    """Before loading anything: the file's arithmetic is this version's."""
    differs = Arithmetic().differences(header.arithmetic)
    if differs:
        raise archive.ArchiveError(
            f"{where} was written with other arithmetic than this version of lm-eval-compression computes "
            f"(file vs here: {'; '.join(differs)}); decompress it with the version that wrote it"
        )


def _check_decoder(lm, coder: codec.WindowCoder, header: archive.Header, where: str) -> None:
    """Before decoding: this model's vocabulary, window BOS, quantised weights and arithmetic are the
    compressor's."""
    if _loaded_check(lm, coder.vocab_size) != header.loaded_check:
        raise archive.ArchiveError(
            f"{where} was compressed with the same model files but another dtype, prefix token or vocabulary size "
            f"(here: dtype {next(lm.model.parameters()).dtype}, prefix_token_id {lm.prefix_token_id}, vocabulary "
            f"{coder.vocab_size}); pass the model_args it was compressed with"
        )
    if coder.model.identity[:16] != header.weights_sha256:
        raise archive.ArchiveError(
            f"{where}: the model files are the compressor's, but loading them here gives other weights (the "
            f"quantised weights' hash starts {coder.model.identity[:16]} here, {header.weights_sha256} in "
            f"the file; written with torch {header.machine.torch}, transformers {header.machine.transformers}); "
            "the library that reads the model files changed what it loads"
        )
    if coder.window_bos != header.window_bos:
        raise archive.ArchiveError(
            f"{where}: window_bos resolves to {coder.window_bos} here, it was {header.window_bos} when compressing"
        )
    bound = codec.max_tokens(8 * header.payload_bytes, coder.vocab_size, header.lanes)
    if sum(header.tokens) > bound:
        raise archive.ArchiveError(
            f"{where}: the header counts {sum(header.tokens):,} tokens, but {header.payload_bytes} payload bytes "
            f"code at most {bound:,} tokens of a {coder.vocab_size}-token vocabulary; the file is damaged"
        )
    probe = coder.probe()
    if probe != header.probe:
        raise archive.ArchiveError(
            f"{where}: the probabilities of a fixed probe step differ from the compressor's (fingerprint {probe} "
            f"here, {header.probe} in the file) although model, weights and arithmetic match. The arithmetic is "
            f"meant to be the same on every machine, so this is a bug in lm-eval-compression: please report it "
            f"with both machines (compressor: {header.machine}; here: {archive.Machine.here(lm.device)})"
        )


def decompress_corpus(lm, data: bytes, where: str, batch: int | None = None) -> tuple[Corpus, DecompressRun]:
    """The documents stored in ``data``; stops with a message naming the problem on any mismatch. ``batch``:
    how many of the file's streams step together (default: up to ``coding.BATCH``)."""
    start = time.perf_counter()
    header, streams = archive.unpack(data, where)
    check_arithmetic(header, where)
    windows = resolve_windows(lm, header.block_size, header.stride, header.window_bos_setting)
    coder = window_coder(lm, windows)
    _check_decoder(lm, coder, header, where)
    tokens, stats = coder.decode(streams, list(header.tokens), batch)
    texts = [_decode_text(lm, ids) for ids in tokens]
    if sum(len(t) for t in texts) != header.chars or corpus_sha256(texts)[:16] != header.corpus_sha256:
        raise archive.ArchiveError(
            f"{where}: the decoded text fails its checksum, so nothing is written; the file's payload is damaged "
            "in a way its CRC did not catch, or this is a bug in lm-eval-compression"
        )
    corpus = Corpus(header.kind, texts, [f"document {i}" for i in range(len(texts))], header.text_field)
    return corpus, DecompressRun(header, time.perf_counter() - start, stats.steps)


def plugin_bpc(lm, texts: list[str], windows: WindowSettings) -> float:
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
            **windows.as_set(),
        }
        tm = TaskManager(include_path=tasks_dir(), include_defaults=False, metadata=metadata)
        results = simple_evaluate(model=lm, tasks=["compression_cc"], task_manager=tm, bootstrap_iters=0)
    return float(results["results"]["compression_cc"]["bpc,none"])


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path)
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--model_args", required=True, help="as for lm_eval --model hf: pretrained=DIR,dtype=float32")
    parser.add_argument("--device", default=None, help="cuda if there is one, else cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (any number decodes any file)")


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
    parser.add_argument("--lanes", type=int, default=4, help="coder streams, decoded side by side (a speed setting)")
    parser.add_argument("--verify", action="store_true", help="decompress right away and compare (times it too)")
    parser.add_argument("--no_plugin_bpc", action="store_true", help="skip running the compression task for the report")
    parser.add_argument("--report", type=Path, help="also write the report as JSON here")
    args = parser.parse_args(argv)
    memory.reuse_freed_memory()
    try:
        corpus = read_corpus(args.input, args.text_field)
        if args.threads:
            torch.set_num_threads(args.threads)
        check_model_config(args.model_args)
        lm = load_lm(args.model_args, args.device)
        windows = resolve_windows(lm, args.block_size, args.stride, args.window_bos)
        data, header, run = compress_corpus(lm, args.model_args, corpus, windows, args.lanes, name=args.input.name)
        args.output.write_bytes(data)
        trip = None
        if args.verify:
            back, info = decompress_corpus(lm, args.output.read_bytes(), str(args.output))
            trip = RoundTrip(info.seconds, back.texts == corpus.texts)
            if not trip.identical:
                print(f"compress: {args.output} does not decompress to the input", file=sys.stderr)
                return 1
        bpc = None if args.no_plugin_bpc or not header.chars else plugin_bpc(lm, corpus.texts, windows)
    except (CorpusError, WindowSettingsError, archive.ArchiveError, codec.CodecError, UnsupportedModel) as e:
        print(f"compress: {e}", file=sys.stderr)
        return 2
    if not header.chars:
        print(f"wrote {args.output} ({len(data)} bytes; the corpus has no characters)")
        return 0
    report = build_report(header, run, bpc, baselines(corpus.texts), trip)
    if args.report:
        args.report.write_text(json.dumps(report.as_dict(), indent=2) + "\n")
    print(f"wrote {args.output}\n\n{report.table()}")
    return 0


def decompress_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lm_eval_compression decompress",
        description="Restore the corpus of a file written by `compress`.",
    )
    _common(parser)
    parser.add_argument("--block_size", type=int, default=None, help="checked against the file if given")
    parser.add_argument("--stride", type=int, default=None, help="checked against the file if given")
    parser.add_argument("--batch", type=int, default=None, help="streams decoded side by side (default: up to 8)")
    args = parser.parse_args(argv)
    memory.reuse_freed_memory()
    where = str(args.input)
    try:
        if not args.input.is_file():
            raise archive.ArchiveError(f"{where} does not exist")
        data = args.input.read_bytes()
        header, _ = archive.unpack(data, where)
        given = {"block_size": args.block_size, "stride": args.stride}
        for name, value in given.items():
            archive.check_setting(header, name, value, where)
        check_arithmetic(header, where)
        check_file_model(header, args.model_args, where)
        if args.threads:
            torch.set_num_threads(args.threads)
        lm = load_lm(args.model_args, args.device)
        corpus, info = decompress_corpus(lm, data, where, args.batch)
    except (WindowSettingsError, archive.ArchiveError, codec.CodecError, UnsupportedModel) as e:
        print(f"decompress: {e}", file=sys.stderr)
        return 2
    write_corpus(args.output, corpus.kind, corpus.texts, corpus.text_field)
    print(
        f"wrote {args.output}: {len(corpus.texts)} documents, {sum(len(t) for t in corpus.texts):,} characters "
        f"in {info.seconds:.1f} s"
    )
    return 0
