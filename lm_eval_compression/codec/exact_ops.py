"""Arithmetic whose every result is the same on any machine, thread count, instruction set or batch.

Only three kinds of operation are used, and none of them depends on the order of work:

- **exact integer sums**: matrix products of integer-valued operands whose every partial sum is an integer
  below 2**53 (int8 x int8 in int32 with ``torch._int_mm``, or float64), and sums of integers below 2**53;
- **elementwise IEEE operations** that are correctly rounded everywhere: ``+ - *``, reciprocal, square root,
  rounding, comparisons, ``max``, table look-ups (never ``exp``, ``sin`` or a division by a broadcast value,
  whose vectorised forms differ between CPUs and libraries);
- **tables** of ``2**-x`` and of RoPE's cosines and sines computed once with Python's ``decimal`` module
  (arbitrary precision, correctly rounded), then rounded to float64 or to integers.
"""

from __future__ import annotations

import math
from dataclasses import astuple, dataclass, fields
from decimal import Decimal, localcontext
from functools import cache

import torch

QMAX = 32639  # activations: integers of 15 bits whose high and low bytes are both int8 (127 * 256 + 127)
WMAX = 127  # weights: int8
ATT_BITS = 20  # attention weights: integers up to 2**20
ATT_STEP_BITS = 10  # attention weights: 2**-x with x on a grid of 2**-10
FINE_BITS = 20  # silu and the output softmax: 2**-x with x on a grid of 2**-20
FINE_RANGE = 64  # ... and 0 from x = 64 on
SOFTMAX_BITS = 30  # output softmax: integer weights up to 2**30, their sum exact in float64 for 2**23 tokens
SOFTMAX_STEP_BITS = 12  # ... 2**-x with x on a grid of 2**-12
PRECISION = 50  # decimal digits of the tables' arithmetic


@dataclass(frozen=True)
class Arithmetic:
    """The parameters a compressed file's numbers depend on (recorded in the file, checked when decoding)."""

    version: int = 2
    activation_max: int = QMAX
    weight_max: int = WMAX
    attention_bits: int = ATT_BITS
    attention_step_bits: int = ATT_STEP_BITS
    fine_bits: int = FINE_BITS
    fine_range: int = FINE_RANGE
    softmax_bits: int = SOFTMAX_BITS
    softmax_step_bits: int = SOFTMAX_STEP_BITS
    coder_precision: int = 24

    def values(self) -> tuple[int, ...]:
        return astuple(self)

    def differences(self, values: tuple[int, ...]) -> list[str]:
        """``name file vs here`` for each parameter that differs from ``values`` (a file's)."""
        names = [f.name for f in fields(self)]
        if len(values) != len(names):
            return [f"{len(values)} parameters vs {len(names)}"]
        return [f"{n} {v} vs {h}" for n, v, h in zip(names, values, self.values(), strict=True) if v != h]


def _float64(values, device) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64, device=device)


def _powers(count: int, step_bits: int, top_bits: int) -> list[Decimal]:
    """``2**(top_bits - k / 2**step_bits)`` for ``k`` in ``range(count)``: exact powers of two times the
    ``2**step_bits`` fractional powers, each by repeated multiplication from 1."""
    with localcontext() as ctx:
        ctx.prec = PRECISION
        ratio = (-Decimal(2).ln() / (1 << step_bits)).exp()
        fractions, value = [], Decimal(1)
        for _ in range(1 << step_bits):
            fractions.append(value)
            value *= ratio
        mask = (1 << step_bits) - 1
        return [Decimal(2) ** (top_bits - (k >> step_bits)) * fractions[k & mask] for k in range(count)]


@cache
def integer_table(top_bits: int, step_bits: int, device: str) -> torch.Tensor:
    """``floor(2**(top_bits - k / 2**step_bits))`` for every ``k`` where it is positive, then a final 0 (float64
    integers)."""
    count = (top_bits + 1) << step_bits
    values = [int(v) for v in _powers(count, step_bits, top_bits)] + [0]
    return torch.tensor(values, dtype=torch.float64, device=device)


def table_weights(gap: torch.Tensor, factor, top_bits: int, step_bits: int) -> torch.Tensor:
    """``floor(2**(top_bits - k / 2**step_bits))`` with ``k = floor(gap * factor + 1/2)`` (``gap >= 0``,
    ``inf`` allowed), overwriting ``gap``: integer weights, 0 where ``k`` is past the table."""
    table = integer_table(top_bits, step_bits, str(gap.device))
    index = gap.mul_(factor).add_(0.5).clamp_(max=float(len(table) - 1)).to(torch.int32)
    return table.index_select(0, index.view(-1)).view(index.shape)


@cache
def fine_tables(device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``2**-(i / 2**10)`` for the high part of ``x * 2**20`` (0 from ``FINE_RANGE`` on) and
    ``2**-(j / 2**20)`` for its low 10 bits, as float64."""
    high = [float(v) for v in _powers(FINE_RANGE << 10, 10, 0)] + [0.0]
    low = [float(v) for v in _powers(1 << 10, FINE_BITS, 0)]
    return _float64(high, device), _float64(low, device)


def exp2_neg(x: torch.Tensor) -> torch.Tensor:
    """``2**-x`` for float64 ``x >= 0`` (``inf`` allowed) on a grid of ``2**-20``: two table look-ups and one
    product; 0 from ``x = 64`` on."""
    high, low = fine_tables(str(x.device))
    k = torch.round(x * float(1 << FINE_BITS)).clamp_(max=float(FINE_RANGE << FINE_BITS)).to(torch.int32).view(-1)
    return high.index_select(0, k >> 10).mul_(low.index_select(0, k & 1023)).view(x.shape)


def decimal_constant(expression) -> float:
    """A constant computed in 50-digit decimal arithmetic, rounded once to float64."""
    with localcontext() as ctx:
        ctx.prec = PRECISION
        return float(expression())


LOG2E = decimal_constant(lambda: 1 / Decimal(2).ln())


def silu(x: torch.Tensor) -> torch.Tensor:
    """``x * sigmoid(x)`` with ``exp(-|x|)`` from :func:`exp2_neg` (float64)."""
    z = exp2_neg(x.abs().mul_(LOG2E))
    inv = torch.reciprocal(z + 1.0)
    return torch.where(x >= 0, inv, z.mul_(inv)).mul_(x)


def quantise_rows(x: torch.Tensor, qmax: int = QMAX) -> tuple[torch.Tensor, torch.Tensor]:
    """Integers ``q`` (float64, ``|q| <= qmax``) and per-row scales ``s`` with ``x ~ q * s``; a zero row gets
    ``s = 1``."""
    x = x.double()
    top = x.abs().amax(dim=-1, keepdim=True)
    scale = torch.where(top > 0, top * (1.0 / qmax), 1.0)
    return torch.round(x * torch.reciprocal(scale)).clamp_(-qmax, qmax), scale


class IntWeight:
    """A weight matrix as int8 rows with a float64 scale per row (output channel), stored transposed
    (``[in, out]``) for ``torch._int_mm``."""

    def __init__(self, weight_t: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None = None):
        self.weight_t, self.scale, self.bias = weight_t, scale, bias
        self._float, self._int8_failed = None, False

    @classmethod
    def quantise(cls, weight: torch.Tensor, bias: torch.Tensor | None = None) -> IntWeight:
        q, scale = quantise_rows(weight, WMAX)
        bias = None if bias is None else bias.double()
        return cls(q.to(torch.int8).t().contiguous(), scale[:, 0].contiguous(), bias)

    def abs_row_sums(self, gain: torch.Tensor) -> torch.Tensor:
        """An upper bound of ``sum_k |W[n, k] * gain[k]|`` (float64), the same on every machine: ``|gain|``
        rounded up to integers on a power-of-two grid, so that the sum is of integers below 2**53."""
        top = float(gain.abs().max())
        if top == 0:
            return torch.zeros_like(self.scale)
        step = 2.0 ** (20 - math.frexp(top)[1])  # |gain| * step <= 2**20
        grid = torch.ceil(gain.abs() * step).to(torch.int64).view(-1, 1)
        sums = (self.weight_t.abs().to(torch.int64) * grid).sum(dim=0)
        return sums.double() * (1.0 / step) * self.scale

    def integer_product(self, q: torch.Tensor, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """``q @ W_int.T`` for integer-valued float64 ``q`` with ``|q| <= QMAX``: exact in float64, rounded once in
        float32 (``256 * high`` and ``low`` are exact there, so only their sum rounds)."""
        products = self._byte_products(q)
        if products is None:
            return (q @ self._weight64()).to(dtype)
        high, low = products
        return high.to(dtype).mul_(256.0).add_(low)

    def _use_int8(self, rows: int, device: torch.device) -> bool:
        """Int8 products pay on a CPU, and off it where ``torch._int_mm`` takes the stacked bytes (over 16 rows)."""
        return not self._int8_failed and (device.type == "cpu" or 2 * rows > 16)

    def _byte_products(self, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The int32 products of ``q``'s high and low int8 bytes (``q = 256 * hi + lo``) with the weights, both in
        one int8 product (every sum below ``127 * 128 * in_features < 2**31``); ``None`` where the float64 product
        is taken instead (one kernel; every partial sum an integer below ``QMAX * 127 * in_features < 2**53``)."""
        rows = q.shape[0]
        if not self._use_int8(rows, q.device):
            return None
        qi = q.to(torch.int32)
        lo = ((qi + 128) & 255) - 128
        try:
            out = torch._int_mm(torch.cat([(qi - lo) >> 8, lo]).to(torch.int8), self.weight_t)
        except RuntimeError:  # a shape or device this torch has no int8 product for
            self._int8_failed = True
            return None
        return out[:rows], out[rows:]

    def _weight64(self) -> torch.Tensor:
        if self._float is None:
            self._float = self.weight_t.double()
        return self._float

    def apply(self, q: torch.Tensor, row_scale: torch.Tensor) -> torch.Tensor:
        """``(q * row_scale) @ W.T + bias`` for quantised rows ``q`` with scales ``row_scale`` (float64)."""
        out = self.integer_product(q).mul_(self.scale).mul_(row_scale)
        return out if self.bias is None else out.add_(self.bias)

    def to(self, device) -> IntWeight:
        bias = None if self.bias is None else self.bias.to(device)
        return IntWeight(self.weight_t.to(device), self.scale.to(device), bias)

    def tensors(self) -> dict:
        out = {"weight_t": self.weight_t, "scale": self.scale}
        return out if self.bias is None else {**out, "bias": self.bias}


def rope_tables(theta: float, head_dim: int, length: int, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``cos`` and ``sin`` of ``p * theta**(-2i / head_dim)`` for positions ``p < length`` and
    ``i < head_dim / 2`` (float64 ``[length, head_dim / 2]``): each frequency's first rotation from its Taylor
    series, every later one by multiplying rotations, all in 50-digit decimal arithmetic."""
    half = head_dim // 2
    cos_rows, sin_rows = [[0.0] * half for _ in range(length)], [[0.0] * half for _ in range(length)]
    with localcontext() as ctx:
        ctx.prec = PRECISION
        ln_theta = Decimal(repr(float(theta))).ln()
        for i in range(half):
            angle = (-ln_theta * 2 * i / head_dim).exp()
            c1, s1 = _cos_sin(angle)
            c, s = Decimal(1), Decimal(0)
            for p in range(length):
                cos_rows[p][i], sin_rows[p][i] = float(c), float(s)
                c, s = c * c1 - s * s1, s * c1 + c * s1
    return _float64(cos_rows, device), _float64(sin_rows, device)


def _cos_sin(angle: Decimal) -> tuple[Decimal, Decimal]:
    """Taylor series of cosine and sine for ``0 <= angle <= 1`` (to the context's precision)."""
    c, s, term, n = Decimal(0), Decimal(0), Decimal(1), 0
    while True:
        if n % 4 == 0:
            c += term
        elif n % 4 == 1:
            s += term
        elif n % 4 == 2:
            c -= term
        else:
            s -= term
        n += 1
        term = term * angle / n
        if term < Decimal(10) ** -(PRECISION + 2):
            return c, s


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """RoPE as in Llama (the two halves of each head rotated as pairs): ``x [..., T, head_dim]``,
    ``cos``/``sin [T, head_dim / 2]``."""
    half = x.shape[-1] // 2
    a, b = x[..., :half], x[..., half:]
    return torch.cat([a * cos - b * sin, b * cos + a * sin], dim=-1)
