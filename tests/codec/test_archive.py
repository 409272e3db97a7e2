"""A damaged or hostile compressed file is an error, never a partial result: every damaged byte, cut and
extension is refused with a message and no output, within bounded time and memory; counts that the rest
of the file cannot hold are refused before anything is allocated; a file of other arithmetic or other
quantised weights is named before decoding starts."""

import json
import subprocess
import sys
import time
import tracemalloc
from dataclasses import replace

import numpy as np
import pytest
import torch

from lm_eval_compression.codec import archive
from lm_eval_compression.codec import commands as compress
from tests.codec.test_compress import BLOCK, DOCS, HEADER, STRIDE, recrc
from tests.support.cli import REPO, offline_env

PAYLOAD = bytes(range(3, 23))  # one stream's 20 bytes


@pytest.fixture(scope="module")
def small_file(tiny_models):
    """A compressed file of three documents (two lanes, one thread) and the model arguments that decode it."""
    margs = f"pretrained={tiny_models['plain']},dtype=float32"
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        lm = compress.load_lm(margs, "cpu")
        settings = compress.resolve_windows(lm, BLOCK, STRIDE, "auto")
        corpus = compress.Corpus("jsonl", [DOCS[0], DOCS[4], DOCS[5]], ["a", "b", "c"], "content")
        data, header, _ = compress.compress_corpus(lm, margs, corpus, settings, lanes=2)
    finally:
        torch.set_num_threads(before)
    return data, header, margs, lm


def test_every_damaged_byte_cut_and_extension_is_refused_without_output(small_file, tmp_path):
    data, header, margs, _ = small_file
    rng = np.random.default_rng(0)
    payload = range(header.header_bytes, len(data))
    cases = {"intact": data}
    for i in range(header.header_bytes):
        cases[f"header byte {i} flipped"] = data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1 :]
    for i in rng.choice(payload, size=min(100, len(payload)), replace=False):
        i = int(i)
        cases[f"payload byte {i} flipped"] = data[:i] + bytes([data[i] ^ (1 << int(rng.integers(8)))]) + data[i + 1 :]
    for size in (0, 1, 3, 4, 7, 8, 12, header.header_bytes - 1, header.header_bytes, len(data) - 4, len(data) - 1):
        cases[f"cut to {size} bytes"] = data[:size]
    for extra in (b"\0", b"\0" * 4, bytes(range(256)) * 4):
        cases[f"{len(extra)} bytes appended"] = data + extra
    files = {}
    for n, (name, content) in enumerate(cases.items()):
        files[name] = str(tmp_path / f"case{n}.lmz")
        (tmp_path / f"case{n}.lmz").write_bytes(content)
    (tmp_path / "spec.json").write_text(json.dumps({"model_args": margs, "cases": files}))
    proc = subprocess.run(
        [sys.executable, "-m", "tests.codec.decompress_fuzz", str(tmp_path / "spec.json")],
        cwd=REPO,
        env=offline_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    results = report["cases"]
    # the control: the intact file decodes, so every refusal below is the damage's doing
    assert results.pop("intact")["rc"] == 0
    assert len(results) >= header.header_bytes + 100
    for name, r in results.items():
        assert r["rc"] == 2 and r["message"].startswith(f"decompress: {files[name]}"), (name, r)
        assert not r["wrote"], name
        assert r["seconds"] < 60, (name, r["seconds"])
    assert report["peak_bytes"] < 1 << 30
    kinds = {r["message"][len(f"decompress: {files[name]}") :][:48] for name, r in results.items()}
    slowest = max(r["seconds"] for r in results.values())
    print(
        f"\n{len(results)} damaged files refused, the slowest in {slowest:.3f} s; "
        f"peak {report['peak_bytes'] / 2**20:.0f} MiB; messages: {kinds}"
    )


def header_bytes_of(h: archive.Header, payload=PAYLOAD) -> bytes:
    """The file of ``h`` with ``payload`` in its first stream and its other streams empty."""
    streams = [payload] + [b""] * (h.lanes - 1) if h.lanes else []
    return archive.pack(replace(h, stream_bytes=tuple(len(b) for b in streams)), streams)


def crafted(**changes) -> bytes:
    """A file whose CRC matches but whose header holds ``changes`` (``machine`` fields prefixed ``m_``)."""
    machine = {k[2:]: changes.pop(k) for k in list(changes) if k.startswith("m_")}
    return header_bytes_of(replace(HEADER, machine=replace(HEADER.machine, **machine), **changes))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(crafted(m_threads=0), r"CPU threads is 0, outside 1\.\.4096", id="threads 0"),
        pytest.param(crafted(m_threads=2**40), r"CPU threads is 1099511627776, outside", id="threads 2^40"),
        pytest.param(crafted(lanes=0), r"lanes is 0, outside 1\.\.1024", id="lanes 0"),
        pytest.param(crafted(block_size=1), r"block_size is 1, outside", id="block_size 1"),
        pytest.param(crafted(stride=2000), r"stride is 2000, outside 1\.\.1900", id="stride over block"),
        pytest.param(crafted(tokens=(2**33,)), r"token count of document 0 is 8589934592", id="2^33 tokens"),
        pytest.param(crafted(tokens=(40000, 40000, 5000)), r"total token count is 85000", id="tokens over chars"),
        pytest.param(crafted(kind="text", text_field=None), r"document count of a text file is 4", id="text kind"),
        pytest.param(
            recrc(header_bytes_of(HEADER) + b"\0\0\0\0"),
            r"counts 20 payload bytes but 24 bytes",
            id="trailing bytes",
        ),
        pytest.param(recrc(header_bytes_of(HEADER)[:-4]), r"counts 20 payload bytes but 16 bytes", id="short payload"),
    ],
)
def test_a_header_the_file_cannot_hold_is_refused_before_anything_is_allocated(data, message):
    tracemalloc.start()
    start = time.perf_counter()
    with pytest.raises(archive.ArchiveError, match=message):
        archive.unpack(data, "crafted.lmz")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(data) < 160 and time.perf_counter() - start < 1 and peak < 1 << 20


def test_the_kind_byte_flip_of_the_report_is_refused(small_file):
    """The reproduction: kind 01 → 00 once exited 0 with one document of two, written as plain text."""
    data, header, _, lm = small_file
    settings = [header.block_size, header.stride, 0, int(header.window_bos), header.lanes, header.machine.threads]
    at = 26 + len(archive._varints([len(header.arithmetic), *header.arithmetic, *settings]))
    assert data[at] == 1
    flipped = data[:at] + b"\0" + data[at + 1 :]
    with pytest.raises(archive.ArchiveError, match="CRC-32 does not match"):
        compress.decompress_corpus(lm, flipped, "flipped.lmz")
    with pytest.raises(archive.ArchiveError, match="document count of a text file is 3"):
        compress.decompress_corpus(lm, recrc(flipped), "flipped.lmz")


def test_a_token_count_the_payload_cannot_code_is_refused_before_decoding(small_file, monkeypatch):
    data, header, _, lm = small_file
    claim = replace(header, chars=2**34, tokens=(2**33, 0, 0))
    _, streams = archive.unpack(data, "small.lmz")
    monkeypatch.setattr(compress.codec.WindowCoder, "decode", lambda *a: pytest.fail("decoding started"))
    with pytest.raises(archive.ArchiveError, match=r"counts 8,589,934,592 tokens, but \d+ payload bytes code at most"):
        compress.decompress_corpus(lm, archive.pack(claim, streams), "claim.lmz")


def test_other_arithmetic_weights_or_probe_are_named_before_decoding(small_file, monkeypatch):
    data, header, _, lm = small_file
    _, streams = archive.unpack(data, "small.lmz")
    monkeypatch.setattr(compress.codec.WindowCoder, "decode", lambda *a: pytest.fail("decoding started"))
    newer = replace(header, arithmetic=(header.arithmetic[0] + 1, *header.arithmetic[1:]))
    version = header.arithmetic[0]
    with pytest.raises(
        archive.ArchiveError, match=rf"other arithmetic .*\(file vs here: version {version + 1} vs {version}\)"
    ):
        compress.decompress_corpus(lm, archive.pack(newer, streams), "newer.lmz")
    loaded = replace(header, weights_sha256="00" * 8)
    with pytest.raises(archive.ArchiveError, match=r"gives other weights .*here, 0{16} in the file"):
        compress.decompress_corpus(lm, archive.pack(loaded, streams), "loaded.lmz")
    probe = replace(header, probe="00000000")
    with pytest.raises(archive.ArchiveError, match=r"fingerprint [0-9a-f]{8} here, 00000000 .* this is a bug"):
        compress.decompress_corpus(lm, archive.pack(probe, streams), "probe.lmz")
