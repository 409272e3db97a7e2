"""A ``--use_cache`` file shared by two models, dtypes or autocast settings never serves one the other's result.

Every pair below evaluates ``compression_cc`` without a cache (the reference), then both members with one
shared cache, then both again from the cache: each member reports its own reference bpc every time.
"""

import math
import os
from types import SimpleNamespace

import pytest

from lm_eval_compression.harness.identity import model_identity
from tests.support.api import evaluate
from tests.support.models import make_tiny_model

TASK = "compression_cc"


@pytest.fixture(scope="module")
def second_model(tmp_path_factory):
    """A model of the same architecture and tokenizer as ``tiny_models["plain"]`` with other weights."""
    return make_tiny_model(tmp_path_factory.mktemp("other") / "plain_seed2", add_bos=False, seed=2)


def hflm(path: str, **kwargs):
    from lm_eval.models.huggingface import HFLM

    return HFLM(pretrained=path, device="cpu", batch_size=1, **{"dtype": "float32", **kwargs})


def pair(kind: str, tiny_models, second_model):
    plain = tiny_models["plain"]
    if kind == "models":
        return hflm(plain), hflm(second_model)
    if kind == "dtypes":
        return hflm(plain), hflm(plain, dtype="bfloat16")
    return hflm(plain), hflm(plain, mixed_precision_dtype="bfloat16")


def bpc(lm, meta: dict, cache=None) -> float:
    kwargs = {"use_cache": str(cache)} if cache else {}
    return evaluate(lm, [TASK], meta, **kwargs)["results"][TASK]["bpc,none"]


@pytest.fixture(scope="module")
def plain_reference():
    """bpc of the plain float32 model (member ``a`` of every pair) without a cache, per protocol."""
    return {}


@pytest.mark.parametrize(
    "kind, protocol", [("models", "document"), ("dtypes", "document"), ("autocast", "document"), ("autocast", "paper")]
)
def test_a_shared_cache_gives_each_model_its_own_bpc(
    tiny_models, second_model, corpus_dir, tmp_path, plain_reference, kind, protocol
):
    meta = {"data_dir": corpus_dir, "block_size": 32, "stride": 8, "protocol": protocol}
    a, b = pair(kind, tiny_models, second_model)
    if protocol not in plain_reference:
        plain_reference[protocol] = bpc(a, meta)
    want = {"a": plain_reference[protocol], "b": bpc(b, meta)}
    assert want["a"] != want["b"], "the pair must differ for this test to mean anything"
    cache = tmp_path / "shared"
    got = {
        "a": bpc(a, meta, cache),
        "b": bpc(b, meta, cache),
        "a again": bpc(a, meta, cache),
        "b again": bpc(b, meta, cache),
    }
    print(f"\n{kind}/{protocol}: without cache {want}; shared cache {got}")
    for name, value in got.items():
        assert math.isclose(value, want[name[0]], rel_tol=1e-12, abs_tol=0), (name, value, want)


def test_the_identity_tells_autocast_dtype_and_weights_apart_and_is_stable(tiny_models, second_model):
    plain = tiny_models["plain"]
    base = model_identity(hflm(plain))
    assert model_identity(hflm(plain)) == base  # a reload of the same model: the checkpoint is used
    assert model_identity(hflm(plain, mixed_precision_dtype="bfloat16")) != base
    assert model_identity(hflm(plain, dtype="bfloat16")) != base
    assert model_identity(hflm(second_model)) != base
    assert model_identity(hflm(plain, prefix_token_id=2)) != base  # EOS instead of BOS


def vllm_stand_in(path: str, dtype: str = "float32", **overrides):
    """What the identity reads off the harness's VLLM wrapper (no vLLM needed): the class's name and module, the
    engine arguments, the engine's model config, the HF config and tokenizer, the prefix token, LoRA."""
    from transformers import AutoConfig, AutoTokenizer

    cls = type("VLLM", (), {"__module__": "lm_eval.models.vllm_causallms"})
    lm = cls()
    lm.model_args = {"model": path, "dtype": dtype, "tokenizer": None, "quantization": None, "seed": 1234}
    engine_dtype = {"float32": "torch.float32", "bfloat16": "torch.bfloat16"}[dtype]
    lm.model = SimpleNamespace(llm_engine=SimpleNamespace(model_config=SimpleNamespace(dtype=engine_dtype)))
    lm._config = AutoConfig.from_pretrained(path)
    lm.tokenizer = AutoTokenizer.from_pretrained(overrides.pop("tokenizer", path))
    lm.prefix_token_id = overrides.pop("prefix_token_id", lm.tokenizer.bos_token_id)
    lm.add_bos_token = None
    lm.lora_request = overrides.pop("lora_request", None)
    lm.model_args.update(overrides)
    return lm


def test_the_vllm_identity_tells_engine_dtype_model_files_tokenizer_and_adapter_apart(tiny_models, second_model):
    plain = tiny_models["plain"]
    base = model_identity(vllm_stand_in(plain))
    assert model_identity(vllm_stand_in(plain)) == base
    assert model_identity(vllm_stand_in(plain, seed=7, gpu_memory_utilization=0.5)) == base  # scheduling only
    assert model_identity(vllm_stand_in(plain, dtype="bfloat16")) != base
    assert model_identity(vllm_stand_in(plain, quantization="fp8")) != base
    assert model_identity(vllm_stand_in(second_model)) != base
    assert model_identity(vllm_stand_in(plain, tokenizer=tiny_models["bos"])) != base
    assert model_identity(vllm_stand_in(plain, prefix_token_id=2)) != base
    assert model_identity(vllm_stand_in(plain, lora_request=SimpleNamespace(lora_path="/adapters/a"))) != base
    assert base != model_identity(hflm(plain))  # the two wrappers' numbers differ slightly: never shared


def test_the_vllm_identity_changes_when_a_local_weight_file_is_rewritten(tiny_models, tmp_path):
    import shutil

    folder = shutil.copytree(tiny_models["plain"], tmp_path / "model")
    before = model_identity(vllm_stand_in(str(folder)))
    (weights,) = folder.glob("*.safetensors")
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert model_identity(vllm_stand_in(str(folder))) != before
