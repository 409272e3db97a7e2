"""Fixtures every test folder uses: offline settings, two tiny models, a small corpus in the dataset's schema."""

import os

import pytest

from lm_eval_compression.demo import OFFLINE_ENV
from tests.support.corpora import default_corpora, write_corpus
from tests.support.models import make_tiny_model

for _name, _value in OFFLINE_ENV.items():
    os.environ.setdefault(_name, _value)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    """Two tiny random models: a tokenizer that adds no BOS, and one that adds <s>."""
    root = tmp_path_factory.mktemp("models")
    return {
        "plain": make_tiny_model(root / "plain", add_bos=False),
        "bos": make_tiny_model(root / "bos", add_bos=True, seed=1),
    }


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("corpus"), default_corpora())
