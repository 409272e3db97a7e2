"""Each stream closes with the fewest whole bytes that name its final interval: it decodes to the same symbols
as constriction's own closing, is never longer, and is shorter by about two bytes on average."""

import constriction
import numpy as np

from lm_eval_compression.codec import coding


def _streams(trials: int, seed: int = 0):
    """Random symbol sequences (empty to 60 symbols, 2 to 50 outcomes, flat to nearly certain distributions)
    with their float32 distributions, each encoded by a constriction range encoder."""
    rng = np.random.default_rng(seed)
    family = constriction.stream.model.Categorical(perfect=False)
    for _ in range(trials):
        n, outcomes = int(rng.integers(0, 60)), int(rng.integers(2, 50))
        logits = rng.normal(size=(n, outcomes)) * rng.uniform(0.1, 12)
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs = (probs / probs.sum(axis=1, keepdims=True)).astype(np.float32)
        symbols = np.array([rng.choice(outcomes, p=row / row.sum()) for row in probs.astype(np.float64)], np.int32)
        encoder = constriction.stream.queue.RangeEncoder()
        if n:
            encoder.encode(symbols, family, probs)
        yield encoder, symbols, probs, family


def test_closed_streams_decode_exactly_and_are_shorter():
    saved = []
    for encoder, symbols, probs, family in _streams(2000):
        data = coding.closed_stream(encoder)
        decoded = constriction.stream.queue.RangeDecoder(coding.stream_words(data)).decode(family, probs)
        assert np.array_equal(decoded, symbols)
        own = 32 * len(encoder.get_compressed())
        assert 8 * len(data) <= own and (len(symbols) > 0 or data == b"")
        saved.append(own - 8 * len(data))
    assert np.mean(saved) > 8  # about 15 bits: half the closing word, rounded to whole bytes


class _Carried:
    """An encoder whose state sits where constriction's closing carries into its earlier words."""

    def get_compressed(self):
        return np.array([7, 0xFFFFFFFF, 3], dtype=np.uint32)

    def pos(self):
        return 1, ((1 << 64) - 5, 1 << 40)


def test_a_closing_that_carries_keeps_constriction_s_words():
    assert coding.closed_stream(_Carried()) == b"\0\0\0\x07\xff\xff\xff\xff\0\0\0\x03"
    assert coding.stream_words(b"\0\0\0\x07\xff\xff\xff\xff\0\0\0\x03").tolist() == [7, 0xFFFFFFFF, 3]
    assert coding.stream_words(b"\x01\x02").tolist() == [0x01020000]
