"""What every test folder shares: offline settings, one torch thread per process, the selection of the
paper-scale checks (``--full``), two tiny models, a small corpus in the dataset's schema, and the real SmolLM2.

One thread: the models here are tiny or small, and on a shared 2-core machine a second OpenMP thread per
process mostly waits for a core (a 128-token SmolLM2 forward pass took 5 to 10 times longer with two threads
than with one while other jobs ran). ``OMP_NUM_THREADS`` is set before torch is imported, so the subprocesses
the tests start (``lm_eval``, workers, installs) inherit it; a value already in the environment wins.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402

from lm_eval_compression.demo import OFFLINE_ENV  # noqa: E402
from tests.support.corpora import default_corpora, write_corpus  # noqa: E402
from tests.support.models import make_tiny_model  # noqa: E402

for _name, _value in OFFLINE_ENV.items():
    os.environ.setdefault(_name, _value)

FULL_HELP = "also run the paper-scale checks (marker `full`, what `make test-full` runs); otherwise deselected"


def pytest_addoption(parser):
    parser.addoption("--full", action="store_true", default=False, help=FULL_HELP)


def pytest_collection_modifyitems(config, items):
    """Without ``--full``, tests marked ``full`` are deselected (counted as such in the summary), not skipped."""
    if config.getoption("--full"):
        return
    deselected = [item for item in items if item.get_closest_marker("full")]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not item.get_closest_marker("full")]


# Under pytest-xdist (``make test``: two workers) the tests of one file run on one worker, so that its module
# fixtures are built once; so do the files that share an expensive session fixture, listed here by fixture.
SHARED_SESSION_FIXTURES = {
    "document_resume, paper_resume": (
        "engine/test_resume",
        "engine/test_records",
        "engine/test_membership",
        "engine/test_context",
    ),
    "smollm2": (
        "codec/test_portable",
        "codec/test_model_cache",
        "codec/test_compress_real",
        "harness/test_real_model",
        "engine/test_vllm",
    ),
    "cli_run": ("harness/test_cli", "harness/test_fresh"),
    "compare_runs": ("compare/test_compare", "compare/test_page"),
}
WORKER_GROUPS = {f"tests/{name}.py": group for group, names in SHARED_SESSION_FIXTURES.items() for name in names}


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """xdist's scope scheduling, with the scope of a test its file or the shared fixture its file is listed under
    (for ``-n``; another ``--dist`` given on the command line is left as it is)."""
    from xdist.scheduler import LoadScopeScheduling

    if config.getvalue("dist") != "load":
        return None

    class SharedFixtureScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::")[0]
            return WORKER_GROUPS.get(path, path)

    return SharedFixtureScheduling(config, log)


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
def smollm2():
    """SmolLM2-135M-Instruct (GGUF, float32, prefix token ``<|endoftext|>``) in the harness's ``hf`` wrapper,
    loaded once for every real-model test: ``(model_args, lm)``. Skips without the model package, fails
    instead under ``REQUIRE_REAL_MODEL=1``."""
    from lm_eval.api.registry import get_model

    from lm_eval_compression import demo
    from tests.support.smollm2 import smollm2_gguf_or_skip

    model_args = demo.model_args(smollm2_gguf_or_skip())
    return model_args, get_model("hf").create_from_arg_string(model_args, {"device": "cpu", "batch_size": 4})
