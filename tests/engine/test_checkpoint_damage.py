"""A damaged or unwritable checkpoint never stops a run: it is ignored (or skipped) with one warning naming the file.

``paper`` streams save their progress in ``<cache>_rank0.db.compression-<key>.npz``; the ``document`` protocol
writes finished documents into the ``--use_cache`` database. The disk-full case writes through a link to
``/dev/full``, which fails every write with ENOSPC like a full disk.
"""

import errno
import logging
import math
import os
import sqlite3
import struct
import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest

from lm_eval_compression.engine.resume import StreamCheckpoints
from lm_eval_compression.engine.scoring import Checkpoint
from tests.support.api import evaluate, load_lm

TASK = "compression_cc"
INTERVAL = "LM_EVAL_COMPRESSION_CHECKPOINT_SECONDS"  # 0: a checkpoint after every batch


def empty(path: Path) -> None:
    path.write_bytes(b"")


def truncated(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def crc_damaged(path: Path) -> None:
    """Flip the last byte of the stored ``totals`` array: the archive stays well-formed, its CRC no longer matches."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("totals.npy")
    name_len, extra_len = struct.unpack_from("<HH", data, info.header_offset + 26)
    start = info.header_offset + 30 + name_len + extra_len
    data[start + info.compress_size - 1] ^= 0xFF
    path.write_bytes(bytes(data))


DAMAGE = {"empty": empty, "truncated": truncated, "crc": crc_damaged}


def warnings_naming(caplog, path) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and str(path) in r.getMessage()]


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_stream_checkpoint_is_ignored_with_one_warning(tmp_path, caplog, damage):
    store = StreamCheckpoints(str(tmp_path / "c_rank0.db"), "stream", "model", 4, 3)
    store.save(Checkpoint(np.array([-1.5, -2.25, 0.0]), np.array([True, True, False, False])))
    assert store.load() is not None
    DAMAGE[damage](store.path)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert store.load() is None
    assert len(warnings_naming(caplog, store.path)) == 1, caplog.text


def run(lm, meta, cache=None) -> dict:
    kwargs = {"use_cache": str(cache)} if cache else {}
    return evaluate(lm, [TASK], meta, **kwargs)


class PaperRun(NamedTuple):
    lm: object
    meta: dict
    bpc: float  # without a cache
    checkpoint_name: str  # the checkpoint a run with a cache leaves, and its bytes
    checkpoint: bytes


@pytest.fixture(scope="module")
def paper_run(tiny_models, corpus_dir, tmp_path_factory):
    """A ``paper`` run's bpc without a cache, and the checkpoint file a run with a cache leaves (name, bytes)."""
    lm = load_lm(tiny_models["plain"])
    meta = {"data_dir": corpus_dir, "block_size": 32, "stride": 8, "protocol": "paper"}
    want = run(lm, meta)["results"][TASK]["bpc,none"]
    cache = tmp_path_factory.mktemp("first") / "c"
    run(lm, meta, cache)
    (path,) = cache.parent.glob("c_rank0.db.compression-*.npz")
    return PaperRun(lm, meta, want, path.name, path.read_bytes())


def rerun(paper_run, tmp_path, caplog, monkeypatch, prepare) -> tuple[dict, Path]:
    """The paper run again with a cache holding no responses, its checkpoint file prepared by ``prepare(path)``,
    a checkpoint after every batch; its results and the checkpoint's path."""
    path = tmp_path / paper_run.checkpoint_name
    prepare(path)
    monkeypatch.setenv(INTERVAL, "0")
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        return run(paper_run.lm, paper_run.meta, tmp_path / "c"), path


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_run_with_a_damaged_checkpoint_starts_the_stream_afresh(paper_run, tmp_path, caplog, monkeypatch, damage):
    def damaged(path):
        path.write_bytes(paper_run.checkpoint)
        DAMAGE[damage](path)

    res, path = rerun(paper_run, tmp_path, caplog, monkeypatch, damaged)
    got, want = res["results"][TASK]["bpc,none"], paper_run.bpc
    assert math.isclose(got, want, rel_tol=1e-12, abs_tol=0), (got, want)
    assert res["configs"][TASK]["compression"]["run"]["resumed_windows"] == 0
    assert len(warnings_naming(caplog, path)) == 1, caplog.text
    with np.load(path) as data:  # rewritten whole by the finished run
        assert bool(data["done"].all())


def test_a_checkpoint_that_cannot_be_written_warns_once_and_the_run_goes_on(paper_run, tmp_path, caplog, monkeypatch):
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full to simulate a full disk")

    def full_disk(path):  # every save writes its temporary file first: here, ENOSPC
        path.with_name(path.name + ".tmp").symlink_to("/dev/full")

    res, path = rerun(paper_run, tmp_path, caplog, monkeypatch, full_disk)
    got, want = res["results"][TASK]["bpc,none"], paper_run.bpc
    assert math.isclose(got, want, rel_tol=1e-12, abs_tol=0), (got, want)
    assert len(warnings_naming(caplog, path)) == 1, caplog.text
    # The failed temporary file was removed, so later checkpoints were written again.
    with np.load(path) as data:
        assert bool(data["done"].all())


def test_a_checkpoint_write_that_keeps_failing_warns_once(tmp_path, caplog, monkeypatch):
    store = StreamCheckpoints(str(tmp_path / "c_rank0.db"), "stream", "model", 4, 3)

    def no_space(file, **arrays):
        file.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez", no_space)
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            store.save(Checkpoint(np.array([-1.5, -2.25, 0.0]), np.array([True, True, False, False])))
    assert len(warnings_naming(caplog, store.path)) == 1, caplog.text
    assert list(tmp_path.iterdir()) == []  # neither a checkpoint nor a partial temporary file


def test_finished_documents_that_cannot_be_cached_warn_once_and_the_run_goes_on(
    tiny_models, corpus_dir, tmp_path, caplog, monkeypatch
):
    """``document`` protocol: the plugin's own writes of finished documents fail like a full database."""
    from sqlitedict import SqliteDict

    lm = load_lm(tiny_models["plain"])
    meta = {"data_dir": corpus_dir, "block_size": 32, "stride": 8}
    want = run(lm, meta)["results"][TASK]["bpc,none"]

    def full(self, *args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(SqliteDict, "update", full)  # the harness's own cache writes use item assignment
    monkeypatch.setenv(INTERVAL, "0")
    cache = tmp_path / "c"
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        got = run(lm, meta, cache)["results"][TASK]["bpc,none"]
    assert math.isclose(got, want, rel_tol=1e-12, abs_tol=0), (got, want)
    assert len(warnings_naming(caplog, f"{cache}_rank0.db")) == 1, caplog.text
