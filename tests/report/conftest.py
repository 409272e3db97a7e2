"""Fixtures of the report tests: a suite of synthetic results files."""

import pytest


@pytest.fixture(scope="session")
def suite(tmp_path_factory):
    """Eight synthetic models' results files in one lm_eval output folder, plus the numbers behind them."""
    from lm_eval_compression.report import synthetic

    root = tmp_path_factory.mktemp("results")
    models = synthetic.synthetic_models()
    files = synthetic.write_suite(root, models)
    return {"root": root, "models": models, "files": files}
