"""`compress` / `decompress` on tiny random models: byte-for-byte round trips, sizes against an
independent plain-PyTorch reference, and clear failures for a wrong model, wrong settings or bad input."""

import json
import math
import shutil
import zlib
from dataclasses import replace

import pytest
import torch

from lm_eval_compression.codec import archive
from lm_eval_compression.codec import commands as compress
from tests.support.cli import run_plugin
from tests.support.corpora import TRAIN_TEXT, default_corpora
from tests.support.reference import document_loglikelihood

LONG = " ".join(TRAIN_TEXT) * 3  # several hundred tokens: many windows at block_size 64
DOCS = [
    "Café, naïve, Straße, 東京, Ελλάδα — 🙂",
    "a",
    "",
    "é",
    LONG,
    *default_corpora()["cc"][:4],
    "Ünïcödé text: 東京 🙂 " * 12,
    "line one\r\nline two\ttab\n\n  spaces  ",
]
BLOCK, STRIDE = 64, 16


def write_jsonl(path, docs):
    path.write_text(
        "".join(json.dumps({"content": d, "meta": {"i": i}}, ensure_ascii=False) + "\n" for i, d in enumerate(docs)),
        encoding="utf-8",
    )
    return path


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def reference_bits(model_dir, docs, bos: bool) -> float:
    """-log2 likelihood of the documents from the plain-PyTorch reference of the document protocol."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    prefix = tok.bos_token_id  # no prefix_token_id given: the harness uses BOS
    total = 0.0
    for d in docs:
        ids = tok(d, add_special_tokens=False)["input_ids"]
        if ids:
            total -= document_loglikelihood(model, ids, prefix, BLOCK, STRIDE, tok.bos_token_id if bos else None)
    return total / math.log(2)


def test_cli_round_trip_is_byte_identical_and_sizes_match_the_reference(tiny_models, tmp_path):
    model = tiny_models["plain"]
    corpus = write_jsonl(tmp_path / "corpus.jsonl", DOCS)
    margs = f"pretrained={model},dtype=float32"
    out = run_plugin(
        [
            "compress",
            str(corpus),
            "-o",
            str(tmp_path / "c.lmz"),
            "--model_args",
            margs,
            "--device",
            "cpu",
            "--block_size",
            str(BLOCK),
            "--stride",
            str(STRIDE),
            "--lanes",
            "3",
            "--threads",
            "1",
            "--verify",
            "--report",
            str(tmp_path / "report.json"),
        ]
    )
    assert "gzip -9" in out.stdout and "zstd -19" in out.stdout
    run_plugin(
        [
            "decompress",
            str(tmp_path / "c.lmz"),
            "-o",
            str(tmp_path / "back.jsonl"),
            "--model_args",
            margs,
            "--device",
            "cpu",
        ]
    )
    back = [json.loads(line)["content"] for line in (tmp_path / "back.jsonl").read_text(encoding="utf-8").splitlines()]
    assert back == DOCS
    assert [d.encode("utf-8") for d in back] == [d.encode("utf-8") for d in DOCS]

    r = json.loads((tmp_path / "report.json").read_text())
    chars = sum(len(d) for d in DOCS)
    assert r["chars"] == chars and r["documents"] == len(DOCS) and r["round_trip_identical"] is True
    assert r["windows"]["window_bos"] is False and r["file_bits"] == 8 * (tmp_path / "c.lmz").stat().st_size
    ref = reference_bits(model, DOCS, bos=False)
    # the plugin's bpc agrees with the independent float reference; the coder's exact (quantised) arithmetic
    # costs a fraction of a percent
    assert r["bpc_plugin"] == pytest.approx(ref / chars, rel=1e-5)
    assert r["model_bits"] == pytest.approx(ref, rel=2e-3)
    # range coding costs at most a few bits per stream beyond the exact model's bits
    assert r["model_bits"] - 1 < r["payload_bits"] < r["model_bits"] * 1.002 + 3 * 64
    assert r["bpc_achieved"] == pytest.approx(r["file_bits"] / chars)
    assert r["gap"] == pytest.approx(r["bpc_achieved"] - r["bpc_plugin"])
    # the plain compressors' sizes are of the same text
    import lzma

    data = "".join(d + "\n" for d in DOCS).encode("utf-8")
    assert r["baselines_bits"]["xz -9"] == 8 * len(lzma.compress(data, preset=9))


def test_cli_refuses_another_model_and_other_settings(tiny_models, tmp_path):
    corpus = write_jsonl(tmp_path / "corpus.jsonl", DOCS[:5])
    margs = f"pretrained={tiny_models['plain']},dtype=float32"
    run_plugin(
        [
            "compress",
            str(corpus),
            "-o",
            str(tmp_path / "c.lmz"),
            "--model_args",
            margs,
            "--device",
            "cpu",
            "--block_size",
            str(BLOCK),
            "--stride",
            str(STRIDE),
            "--no_plugin_bpc",
            "--threads",
            "1",
        ]
    )
    other = run_plugin(
        [
            "decompress",
            str(tmp_path / "c.lmz"),
            "-o",
            str(tmp_path / "x.jsonl"),
            "--model_args",
            f"pretrained={tiny_models['bos']},dtype=float32",
        ],
        check=False,
    )
    assert other.returncode == 2 and "compressed with another model" in other.stderr
    assert "weight and tokenizer files" in other.stderr and not (tmp_path / "x.jsonl").exists()
    settings = run_plugin(
        [
            "decompress",
            str(tmp_path / "c.lmz"),
            "-o",
            str(tmp_path / "x.jsonl"),
            "--model_args",
            margs,
            "--block_size",
            "32",
        ],
        check=False,
    )
    assert settings.returncode == 2 and "block_size=64" in settings.stderr and not (tmp_path / "x.jsonl").exists()
    (tmp_path / "bad.lmz").write_bytes(b"not a compressed file")
    bad = run_plugin(
        ["decompress", str(tmp_path / "bad.lmz"), "-o", str(tmp_path / "x.jsonl"), "--model_args", margs], check=False
    )
    assert bad.returncode == 2 and "is not a file written by" in bad.stderr


def test_text_file_window_bos_and_lanes_round_trip(tiny_models, tmp_path, one_thread):
    model = tiny_models["bos"]  # its tokenizer adds <s>, so window_bos=auto puts BOS in later windows
    text = "\ufeffHeader\r\n" + LONG + "\n東京 🙂 — naïve\r\n"
    path = tmp_path / "doc.txt"
    path.write_bytes(text.encode("utf-8"))
    margs = f"pretrained={model},dtype=float32"
    lm = compress.load_lm(margs, "cpu")
    corpus = compress.read_corpus(path)
    settings = compress.resolve_windows(lm, BLOCK, STRIDE, "auto")
    assert settings.use_window_bos is True
    sizes = []
    for lanes in (1, 2):
        data, _, run = compress.compress_corpus(lm, margs, corpus, settings, lanes=lanes)
        back, _ = compress.decompress_corpus(lm, data, "doc.lmz")
        compress.write_corpus(tmp_path / "back.txt", back.kind, back.texts, back.text_field)
        assert (tmp_path / "back.txt").read_bytes() == path.read_bytes()
        sizes.append(run.model_bits)
    # one document: the same windows and distributions whatever the number of streams
    assert sizes[0] == sizes[1]
    assert sizes[0] == pytest.approx(reference_bits(model, [text], bos=True), rel=2e-3)

    # many documents in four streams decode the same stepped four at a time, two at a time, or one by one
    many = compress.Corpus("jsonl", DOCS, [f"document {i}" for i in range(len(DOCS))], "content")
    data, header, run = compress.compress_corpus(lm, margs, many, settings, lanes=4)
    assert header.lanes == 4 and all(header.stream_bytes)
    steps = []
    for batch in (None, 2, 1):
        back, info = compress.decompress_corpus(lm, data, "many.lmz", batch)
        assert back.texts == DOCS
        steps.append(info.steps)
    assert steps[0] < steps[1] < steps[2]  # the batched steps are fewer: the streams really stepped together
    # the fixed-shape step of every slot, which a GPU replays as a CUDA graph (here run eagerly): the same tokens
    header, words = archive.unpack(data, "many.lmz")
    coder = compress.window_coder(lm, settings)
    for batch in (None, 3):  # three slots: the second group's single stream steps beside two idle slots
        eager, _ = coder.decode(words, list(header.tokens), batch, graph=False)
        fixed, _ = coder.decode(words, list(header.tokens), batch, graph=True)
        assert fixed == eager and compress._decode_text(lm, fixed[0]) == DOCS[0]
    assert run.model_bits == pytest.approx(reference_bits(model, DOCS, bos=True), rel=2e-3)


def recrc(data: bytes) -> bytes:
    """``data`` with its CRC-32 made to match again: a damaged file whose damage the checksum does not see."""
    return data[:4] + zlib.crc32(data[8:]).to_bytes(4, "little") + data[8:]


def test_damage_fails_the_crc_and_a_payload_that_passes_it_fails_the_text_checksum(tiny_models, one_thread):
    margs = f"pretrained={tiny_models['plain']},dtype=float32"
    lm = compress.load_lm(margs, "cpu")
    corpus = compress.Corpus("jsonl", DOCS[4:7], ["a", "b", "c"], "content")
    settings = compress.resolve_windows(lm, BLOCK, STRIDE, "auto")
    data, _, _ = compress.compress_corpus(lm, margs, corpus, settings, lanes=1)
    damaged = bytearray(data)
    damaged[-40] ^= 0xFF
    with pytest.raises(archive.ArchiveError, match="damaged or truncated: its CRC-32 does not match"):
        compress.decompress_corpus(lm, bytes(damaged), "damaged.lmz")
    with pytest.raises(archive.ArchiveError, match="the decoded text fails its checksum"):
        compress.decompress_corpus(lm, recrc(bytes(damaged)), "damaged.lmz")
    with pytest.raises(archive.ArchiveError, match="damaged or truncated"):
        compress.decompress_corpus(lm, data[:-6], "short.lmz")
    with pytest.raises(archive.ArchiveError, match="truncated inside its header"):
        compress.decompress_corpus(lm, recrc(data[:20]), "cut.lmz")


HEADER = archive.Header(
    model_sha256="ab" * 8,
    loaded_check="c0de",
    weights_sha256="cd" * 8,
    arithmetic=(1, 32639, 127, 20, 10, 20, 64, 30, 24),
    block_size=1900,
    stride=512,
    window_bos_setting="auto",
    window_bos=False,
    lanes=4,
    machine=archive.Machine(2, "cpu", "2.13.0+cpu", "4.57.1", "AVX512"),
    probe="0badf00d",
    kind="jsonl",
    text_field="text",
    tokens=(2024, 1976, 265, 0),
    chars=20742,
    corpus_sha256="12" * 8,
    stream_bytes=(7, 0, 4, 9),
)


def test_header_round_trips_and_stays_small():
    payload = bytes(range(7, 27))
    streams = [payload[:7], b"", payload[7:11], payload[11:]]
    data = archive.pack(HEADER, streams)
    back, unpacked = archive.unpack(data, "x.lmz")
    assert unpacked == streams
    assert len(data) == back.header_bytes + len(payload)
    assert back == HEADER
    assert back.header_bytes <= 112  # the header is part of the achieved bits per character
    text = replace(HEADER, kind="text", text_field=None, tokens=(2024,), window_bos_setting=True, window_bos=True)
    assert archive.unpack(archive.pack(text, streams), "t.lmz")[0] == text


def test_text_the_tokenizer_cannot_reproduce_is_refused_by_name(tiny_models, tmp_path, one_thread):
    from tokenizers import normalizers
    from transformers import AutoTokenizer

    folder = tmp_path / "lower"
    shutil.copytree(tiny_models["plain"], folder)
    tok = AutoTokenizer.from_pretrained(folder)
    tok.backend_tokenizer.normalizer = normalizers.Lowercase()
    tok.save_pretrained(folder)
    margs = f"pretrained={folder},dtype=float32"
    lm = compress.load_lm(margs, "cpu")
    corpus = compress.read_corpus(write_jsonl(tmp_path / "c.jsonl", ["all lower case", "Has Capitals"]))
    settings = compress.resolve_windows(lm, BLOCK, STRIDE, "auto")
    with pytest.raises(compress.CorpusError, match=r"document 1 \(line 2 of .*c\.jsonl\): the tokenizer does not"):
        compress.compress_corpus(lm, margs, corpus, settings)


def test_bad_corpus_and_settings_are_named(tiny_models, tmp_path):
    (tmp_path / "a.jsonl").write_text('{"content": "ok"}\n{"text": "no content field"}\n')
    with pytest.raises(compress.CorpusError, match=r"line 2 of .*a\.jsonl has no field 'content'"):
        compress.read_corpus(tmp_path / "a.jsonl")
    (tmp_path / "b.txt").write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(compress.CorpusError, match="is not UTF-8"):
        compress.read_corpus(tmp_path / "b.txt")
    out = run_plugin(
        [
            "compress",
            str(tmp_path / "a.jsonl"),
            "-o",
            str(tmp_path / "x.lmz"),
            "--model_args",
            f"pretrained={tiny_models['plain']}",
            "--text_field",
            "text",
            "--block_size",
            "999",
        ],
        check=False,
    )
    assert out.returncode == 2 and "line 1" in out.stderr and "has no field 'text'" in out.stderr
    (tmp_path / "c.jsonl").write_text('{"content": "ok"}\n')
    out = run_plugin(
        [
            "compress",
            str(tmp_path / "c.jsonl"),
            "-o",
            str(tmp_path / "x.lmz"),
            "--model_args",
            f"pretrained={tiny_models['plain']}",
            "--block_size",
            "999",
        ],
        check=False,
    )
    assert out.returncode == 2 and "block_size (999)" in out.stderr and not (tmp_path / "x.lmz").exists()


def test_an_architecture_outside_the_llama_family_is_refused_before_loading(tmp_path):
    from transformers import GPT2Config, LlamaConfig

    folder = tmp_path / "gpt2"
    config = GPT2Config(n_layer=1, n_embd=8, n_head=2, vocab_size=50, bos_token_id=0, eos_token_id=0)
    config.architectures = ["GPT2LMHeadModel"]
    config.save_pretrained(folder)  # a config and no weights: refused before anything is loaded
    corpus = write_jsonl(tmp_path / "c.jsonl", ["some text"])
    out = run_plugin(
        ["compress", str(corpus), "-o", str(tmp_path / "c.lmz"), "--model_args", f"pretrained={folder}"],
        check=False,
    )
    assert out.returncode == 2 and not (tmp_path / "c.lmz").exists()
    assert "architecture is 'gpt2' (GPT2LMHeadModel)" in out.stderr and "Llama family only" in out.stderr
    llama = dict(vocab_size=50, hidden_size=8, intermediate_size=16, num_hidden_layers=1, num_attention_heads=2)
    scaled = LlamaConfig(**llama, rope_parameters={"rope_type": "linear", "factor": 2.0, "rope_theta": 1e4})
    with pytest.raises(compress.UnsupportedModel, match=r"uses rope type 'linear' \(only the default RoPE\)"):
        compress.check_architecture(scaled)
    with pytest.raises(compress.UnsupportedModel, match=r"activation 'gelu'"):
        compress.check_architecture(LlamaConfig(**llama, hidden_act="gelu"))
    assert compress.check_architecture(LlamaConfig(**llama)).head_dim == 4
