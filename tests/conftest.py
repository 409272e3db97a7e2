import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from helpers import default_corpora, make_tiny_model, write_corpus  # noqa: E402


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


@pytest.fixture(scope="session")
def suite(tmp_path_factory):
    """Eight synthetic models' results files in one lm_eval output folder, plus the numbers behind them."""
    from lm_eval_compression.report import synthetic

    root = tmp_path_factory.mktemp("results")
    models = synthetic.synthetic_models()
    files = synthetic.write_suite(root, models)
    return {"root": root, "models": models, "files": files}
