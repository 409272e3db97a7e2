"""Window planning, checked exhaustively against the harness's rolling windows and by property."""

import pytest
from lm_eval import utils

from lm_eval_compression.engine.settings import WindowSettings, WindowSettingsError, check_settings
from lm_eval_compression.engine.windows import (
    document_windows,
    paper_windows,
    plan_batches,
    plan_window_batches,
    window_tokens,
)

PREFIX, BOS = -1, -2


def _cases():
    for block in range(2, 11):
        for stride in range(1, block + 1):
            for n in range(0, 3 * block + 4):
                yield block, stride, n


def test_document_windows_equal_harness_rolling_windows_generalised_to_overlap():
    for block, stride, n in _cases():
        tokens = list(range(100, 100 + n))
        expected = [
            utils.make_disjoint_window(w)
            for w in utils.get_rolling_token_windows(tokens, PREFIX, max_seq_len=block, context_len=block - stride + 1)
        ]
        seq = [PREFIX] + tokens
        got = []
        for w in document_windows(n, block, stride):
            inputs, targets = window_tokens(seq, w)
            scored = targets[-w.n_scored :]
            got.append((inputs[: len(inputs) - (len(scored) - 1)], scored))
        assert got == expected, (block, stride, n)


@pytest.mark.parametrize("window_bos", [False, True])
def test_document_windows_properties(window_bos):
    for block, stride, n in _cases():
        seq = [PREFIX] + list(range(100, 100 + n))
        counts = [0] * len(seq)
        for k, w in enumerate(document_windows(n, block, stride, window_bos)):
            inputs, targets = window_tokens(seq, w, BOS)
            assert len(inputs) == len(targets) <= block
            assert 1 <= w.n_scored <= len(inputs)
            assert targets == seq[w.target_start : w.end + 1]
            if k > 0:
                assert w.bos == window_bos and (inputs[0] == BOS) == window_bos
                # every scored token sees at least block - stride (- 1 for the BOS) real tokens before it
                assert w.scored_start - w.start >= block - stride - int(window_bos)
                assert len(inputs) == block
            else:
                assert inputs[0] == PREFIX and not w.bos
            for p in range(w.scored_start, w.end + 1):
                counts[p] += 1
        assert counts == [0] + [1] * n, (block, stride, n)


def test_paper_windows_follow_the_reference():
    for block, stride, n in _cases():
        windows = paper_windows(n, block, stride)
        if n < block + 1:
            assert windows == []
            continue
        expected_count = (n - block - 1) // stride + 1
        assert len(windows) == expected_count
        scored = []
        for w_idx, w in enumerate(windows):
            assert (w.start, w.end) == (w_idx * stride, w_idx * stride + block)
            assert w.n_scored == (block if w_idx == 0 else stride)
            scored += list(range(w.scored_start, w.end + 1))
        # each predicted stream position once, contiguous from 1; the tail after the last window unscored
        assert scored == list(range(1, windows[-1].end + 1))
        assert windows[-1].end + 1 <= n


@pytest.mark.parametrize(
    "block,stride,protocol,message",
    [
        (1900, 0, "document", "stride must be at least 1"),
        (100, 101, "document", "stride (101) must not exceed block_size (100)"),
        (1, 1, "document", "block_size must be at least 2"),
        (1900, 512, "strided", "protocol must be one of document, paper"),
        ("abc", 512, "document", "block_size must be an integer"),
        (1900.5, 512, "document", "block_size must be an integer"),
    ],
)
def test_bad_settings_are_rejected(block, stride, protocol, message):
    with pytest.raises(WindowSettingsError) as err:
        check_settings(block, stride, protocol, where="task x")
    assert message in str(err.value) and "task x" in str(err.value)


def test_settings_from_strings_are_accepted():
    assert check_settings("1900", "512", "paper") == (1900, 512, "paper")


def test_plan_batches_covers_every_window_once_within_budget():
    lengths = [5, 40, 40, 3, 17, 40, 1, 39, 38, 38]
    batches = plan_batches(lengths, max_rows=3, token_budget=80)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for b in batches:
        longest = max(lengths[i] for i in b)
        assert len(b) <= 3 and len(b) * longest <= 80
        # every row fills at least 95 % of the batch width, so padding stays under 5 %
        assert all(lengths[i] >= 0.95 * longest for i in b)
        assert [lengths[i] for i in b] == sorted((lengths[i] for i in b), reverse=True)


def test_plan_batches_never_mixes_groups():
    lengths = [40, 40, 39, 40, 38, 40, 12, 12]
    groups = [0, 1, 0, 1, 1, 0, 0, 1]
    batches = plan_batches(lengths, max_rows=8, token_budget=1000, groups=groups)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for b in batches:
        assert len({groups[i] for i in b}) == 1
    # without groups the same lengths share batches across them
    assert any(len({groups[i] for i in b}) == 2 for b in plan_batches(lengths, max_rows=8, token_budget=1000))


def test_window_batches_keep_fully_scored_windows_apart():
    """First windows (every input scored) never share a batch with context windows, so a context batch
    needs the head only over its scored tail: exhaustively over small documents."""
    for window_bos in (False, True):
        windows = [w for n in range(1, 40) for w in document_windows(n, 8, 3, window_bos)]
        batches = plan_window_batches(windows, max_rows=5, token_budget=40)
        assert sorted(i for b in batches for i in b) == list(range(len(windows)))
        for b in batches:
            ws = [windows[i] for i in b]
            full = {w.n_scored == w.input_len for w in ws}
            assert len(full) == 1
            keep = max(w.input_len for w in ws) - min(w.input_len - w.n_scored for w in ws)
            if full == {False}:
                assert keep <= 3  # at most one stride of head rows per window


def test_plan_stream_scored_tokens_and_owners_match_a_per_token_count():
    """The stream plan's per-document scored tokens (computed from spans) equal a count over every
    scored target of every window, and owners_of names each token's document."""
    import random

    import numpy as np

    from lm_eval_compression.engine.planning import plan_documents, plan_stream

    rng = random.Random(5)
    for _ in range(200):
        lengths = [rng.randint(1, 30) for _ in range(rng.randint(1, 8))]
        block = rng.randint(2, 40)
        stride = rng.randint(1, block)
        docs = [np.arange(n, dtype=np.int32) for n in lengths]
        owners = rng.sample(range(len(docs)), len(docs))
        if sum(lengths) < block + 1:
            continue
        windows = WindowSettings(block, stride, "paper")
        plan = plan_stream(docs, owners, len(docs), windows, where="test")
        per_token = np.repeat(owners, lengths)
        seq = plan.sequences[0]
        assert seq.owners_of(0, len(per_token)).tolist() == per_token.tolist()
        counted = np.zeros(len(docs), dtype=np.int64)
        for job in plan.jobs:
            w = job.window
            np.add.at(counted, per_token[w.scored_start : w.end + 1], 1)
        assert counted.tolist() == plan.scored_tokens.tolist()
    windows = WindowSettings(4, 2).for_model(False, "test", 99, None)
    plan = plan_documents([np.arange(5, dtype=np.int32), np.arange(3, dtype=np.int32)], [1, 0], 2, windows)
    assert plan.scored_tokens.tolist() == [3, 5]
    assert plan.sequences[0].tokens.tolist() == [99, 0, 1, 2, 3, 4]
    assert plan.sequences[0].owners_of(0, 6).tolist() == [1] * 6
