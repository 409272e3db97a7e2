"""Fixtures of the engine tests: one real ``lm_eval`` run per protocol killed with SIGKILL and run again, beside
an uninterrupted run of the same settings in process (tests/support/resume.py), shared for the session by the
tests of resumed runs: results and log-likelihoods (test_resume), per-token records (test_records),
context-length buckets (test_context) and Min-K% signals (test_membership)."""

from pathlib import Path

import pytest

from tests.support.api import evaluate, new_lm
from tests.support.corpora import sample_docs, write_corpus
from tests.support.resume import finished_documents, kill_and_resume, resume_meta, windows_checkpointed


@pytest.fixture(scope="session")
def long_corpus(tmp_path_factory):
    """Enough windows (about 900) that a run takes several seconds on the tiny model."""
    return write_corpus(tmp_path_factory.mktemp("long"), {"cc": sample_docs(7, 30, 160)})


@pytest.fixture(scope="session")
def document_resume(tiny_models, long_corpus, tmp_path_factory):
    """``document``: killed once five documents are in the cache, then run again."""
    tmp = tmp_path_factory.mktemp("resume_document")
    return kill_and_resume(
        tiny_models["plain"],
        long_corpus,
        "document",
        tmp,
        lambda cache: finished_documents(Path(f"{cache}_rank0.db")) >= 5,
    )


@pytest.fixture(scope="session")
def paper_resume(tiny_models, long_corpus, tmp_path_factory):
    """``paper``: killed after at least 100 checkpointed windows; a run with another stride on the same
    cache (in process, without records; it must not use that checkpoint) before the run again with the
    killed run's settings."""

    def other_stride(cache):
        meta = resume_meta(long_corpus, "paper", stride=16)
        return evaluate(new_lm(tiny_models["plain"]), ["compression_cc"], meta, use_cache=str(cache))

    return kill_and_resume(
        tiny_models["plain"],
        long_corpus,
        "paper",
        tmp_path_factory.mktemp("resume_paper"),
        lambda cache: windows_checkpointed(cache.parent) >= 100,
        other_stride,
    )
