"""Fixtures of the report tests: a suite of synthetic results files, and models to predict from it."""

import pytest


@pytest.fixture(scope="session")
def suite(tmp_path_factory):
    """Eight synthetic models' results files in one lm_eval output folder, plus the numbers behind them."""
    from lm_eval_compression.report import synthetic

    root = tmp_path_factory.mktemp("results")
    models = synthetic.synthetic_models()
    files = synthetic.write_suite(root, models)
    return {"root": root, "models": models, "files": files}


@pytest.fixture(scope="session")
def new_models(suite, tmp_path_factory):
    """Three models with compression results only (no benchmarks): inside, below and above the fitted range."""
    from lm_eval_compression.report import synthetic
    from tests.report.helpers import NEW, new_bpc

    root = tmp_path_factory.mktemp("new")
    for name in NEW:
        synthetic.write_results(root, name, synthetic.make_results(name, new_bpc(suite["models"], name), {}))
    return root
