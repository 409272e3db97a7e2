"""A Llama-family causal LM run in :mod:`.exact_ops` arithmetic: the same probabilities on every machine, and
the same for a window in one pass as for the same tokens one step at a time.

Quantisation (the only difference from the float model):

- weights: int8 per output row (the RMSNorm gains stay apart: folded in, their outliers would coarsen whole
  rows);
- activations entering a matrix product: 15-bit integers per row (token, or token and head for queries);
- keys and values in the cache: fixed point with one power-of-two scale per layer and key-value head, chosen
  from the weights so that no key or value can overflow (an RMSNorm output is at most ``sqrt(hidden)``);
- attention weights ``2**-x`` as integers up to ``2**20``; the output softmax as integers up to ``2**30``.

Every row is computed from its own inputs alone, attention sums over exactly its allowed keys, and every sum is
exact, so a row's result cannot depend on the batch, the chunk it is computed in, or the machine. The passes run
in inference mode: a decoding step is thousands of small operations, and autograd's bookkeeping on each would
cost about a tenth of its time.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property

import torch

from . import exact_ops as ops

FAMILY = ("llama", "mistral", "qwen2")
QUERY_CHUNK = 64  # query rows per attention block of a one-pass window on a CPU (its scores stay in cache)
GPU_BLOCK_SCORES = 2**26  # ... on a GPU, as many rows as keep a block's scores under this many (512 MiB)


class UnsupportedModel(ValueError):
    """The model is outside what the exact codec can run; the message names what."""


@dataclass(frozen=True)
class Shape:
    model_type: str
    vocab: int
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    eps: float
    rope_theta: float


def check_architecture(config, max_len: int | None = None) -> Shape:
    """The model's shape if the exact codec can run it; otherwise an error naming the architecture or the
    setting it cannot run."""
    kind = getattr(config, "model_type", None)
    name = f"{kind!r} ({', '.join(getattr(config, 'architectures', None) or []) or 'no architectures listed'})"
    if kind not in FAMILY:
        raise UnsupportedModel(
            f"the model's architecture is {name}; compress runs the Llama family only ({', '.join(FAMILY)})"
        )
    rope = getattr(config, "rope_parameters", None) or getattr(config, "rope_scaling", None) or {}
    problems = []
    if rope.get("rope_type", rope.get("type", "default")) not in ("default", None):
        problems.append(f"rope type {rope.get('rope_type', rope.get('type'))!r} (only the default RoPE)")
    if getattr(config, "hidden_act", "silu") != "silu":
        problems.append(f"activation {config.hidden_act!r} (only silu)")
    if getattr(config, "mlp_bias", False):
        problems.append("MLP biases")
    if getattr(config, "pretraining_tp", 1) != 1:
        problems.append(f"pretraining_tp={config.pretraining_tp}")
    window = getattr(config, "sliding_window", None)
    if window and (kind != "qwen2" or getattr(config, "use_sliding_window", False)) and max_len and window < max_len:
        problems.append(f"sliding-window attention of {window} tokens shorter than the {max_len}-token windows")
    if problems:
        raise UnsupportedModel(f"the model ({name}) uses {'; '.join(problems)}, which compress cannot run")
    heads = config.num_attention_heads
    theta = rope.get("rope_theta", getattr(config, "rope_theta", 10000.0))
    return Shape(
        kind,
        config.vocab_size,
        config.hidden_size,
        config.num_hidden_layers,
        heads,
        getattr(config, "num_key_value_heads", None) or heads,
        getattr(config, "head_dim", None) or config.hidden_size // heads,
        float(config.rms_norm_eps),
        float(theta),
    )


def _bias(*linears) -> torch.Tensor | None:
    if all(m.bias is None for m in linears):
        return None
    return torch.cat([m.bias.detach() if m.bias is not None else m.weight.new_zeros(m.out_features) for m in linears])


def _weight(*linears) -> ops.IntWeight:
    """The linears' rows stacked, as int8."""
    return ops.IntWeight.quantise(torch.cat([m.weight.detach().double() for m in linears]), _bias(*linears))


@dataclass
class Layer:
    qkv: ops.IntWeight
    o: ops.IntWeight
    gate_up: ops.IntWeight
    down: ops.IntWeight
    attn_gain: torch.Tensor  # RMSNorm gains (float64) before qkv and before gate_up
    mlp_gain: torch.Tensor


@dataclass
class Cache:
    """Keys and values of ``slots`` sequences (float64 integers), ``[layers, slots, kv_heads, max_len, head_dim]``."""

    keys: torch.Tensor
    values: torch.Tensor


class ExactLM:
    """The model in exact arithmetic: ``forward`` fills a cache slot and returns hidden rows, ``probabilities``
    gives each row's next-token distribution."""

    def __init__(self, shape: Shape, embed, layers: list[Layer], head: ops.IntWeight, head_gain, device):
        self.shape, self.embed, self.layers, self.head, self.head_gain = shape, embed, layers, head, head_gain
        self.device = torch.device(device)

    @classmethod
    def from_hf(cls, model, device="cpu") -> ExactLM:
        """Quantise a loaded Hugging Face Llama-family model (float weights on any device)."""
        shape = check_architecture(model.config)
        if getattr(model.get_output_embeddings(), "bias", None) is not None:
            raise UnsupportedModel(
                f"the model ({shape.model_type}) has an output layer with a bias, which compress cannot run"
            )
        base = model.model
        layers = []
        for block in base.layers:
            attn, mlp = block.self_attn, block.mlp
            layers.append(
                Layer(
                    _weight(attn.q_proj, attn.k_proj, attn.v_proj),
                    _weight(attn.o_proj),
                    _weight(mlp.gate_proj, mlp.up_proj),
                    _weight(mlp.down_proj),
                    block.input_layernorm.weight.detach().double(),
                    block.post_attention_layernorm.weight.detach().double(),
                )
            )
        head = _weight(model.get_output_embeddings())
        embed, gain = base.embed_tokens.weight.detach().double(), base.norm.weight.detach().double()
        return cls(shape, embed, layers, head, gain, device).to(device)

    def to(self, device) -> ExactLM:
        parts = ("qkv", "o", "gate_up", "down", "attn_gain", "mlp_gain")
        self.layers = [Layer(*(getattr(x, part).to(device) for part in parts)) for x in self.layers]
        self.head, self.head_gain = self.head.to(device), self.head_gain.to(device)
        self.embed, self.device = self.embed.to(device), torch.device(device)
        return self

    def tensors(self) -> dict[str, torch.Tensor]:
        """Every quantised tensor by name (what the weight cache stores and the identity hashes)."""
        out = {"embed": self.embed, "head_gain": self.head_gain}
        for i, layer in enumerate(self.layers):
            for part in ("qkv", "o", "gate_up", "down"):
                out.update({f"{i}.{part}.{k}": v for k, v in getattr(layer, part).tensors().items()})
            out.update({f"{i}.attn_gain": layer.attn_gain, f"{i}.mlp_gain": layer.mlp_gain})
        out.update({f"head.{k}": v for k, v in self.head.tensors().items()})
        return out

    @cached_property
    def identity(self) -> str:
        """SHA-256 (hex) of the shape and every quantised tensor: equal on two machines means equal weights."""
        digest = hashlib.sha256(repr(self.shape).encode())
        for name, tensor in self.tensors().items():
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        return digest.hexdigest()

    # ------------------------------------------------------------------ geometry
    def new_cache(self, slots: int, max_len: int) -> Cache:
        s = self.shape
        size = (s.layers, slots, s.kv_heads, max_len, s.head_dim)
        keys = torch.zeros(size, dtype=torch.float64, device=self.device)
        return Cache(keys, torch.zeros_like(keys))

    def prepare(self, max_len: int) -> None:
        """RoPE tables and the keys' and values' fixed-point scales for sequences up to ``max_len`` tokens."""
        if getattr(self, "max_len", None) == max_len:
            return
        s = self.shape
        self.max_len = max_len
        self.cos, self.sin = ops.rope_tables(s.rope_theta, s.head_dim, max_len, str(self.device))
        # |q| <= QMAX, |k| <= KMAX, head_dim terms: each dot product is an integer below 2**53
        self.kmax = float((2**53 - 1) // (ops.QMAX * s.head_dim))
        # at most max_len weights of at most 2**ATT_BITS, |v| <= VMAX: each weighted sum below 2**53
        self.vmax = float((2**53 - 1) // (max_len << ops.ATT_BITS))
        score = ops.decimal_constant(lambda: 1 / (Decimal(2).ln() * Decimal(s.head_dim).sqrt()))  # log2(e)/sqrt(d)
        self.k_scale, self.v_scale, self.v_inverse, self.att_factor = [], [], [], []
        for layer in self.layers:
            bound = layer.qkv.abs_row_sums(layer.attn_gain) * math.sqrt(s.hidden) * (1 + 2**-10)
            if layer.qkv.bias is not None:
                bound = bound + layer.qkv.bias.abs()
            q_end, k_end = s.heads * s.head_dim, (s.heads + s.kv_heads) * s.head_dim
            k_bound = 2 * bound[q_end:k_end].view(s.kv_heads, s.head_dim).amax(dim=1)  # RoPE mixes pairs
            v_bound = bound[k_end:].view(s.kv_heads, s.head_dim).amax(dim=1)
            k_exp = [_fit_exponent(self.kmax, float(b)) for b in k_bound]
            v_exp = [_fit_exponent(self.vmax, float(b)) for b in v_bound]
            self.k_scale.append(self._column([2.0**e for e in k_exp]))
            self.v_scale.append(self._column([2.0**-e for e in v_exp]))
            self.v_inverse.append(self.v_scale[-1].view(1, 1, -1, 1).reciprocal())
            # scores in units of 2**-ATT_STEP_BITS of log2: dot * q_scale * 2**-k_exp * log2(e) / sqrt(head_dim)
            self.att_factor.append(self._column([score * 2.0 ** (ops.ATT_STEP_BITS - e) for e in k_exp]))

    def _column(self, values: list[float]) -> torch.Tensor:
        """One value per key-value head, shaped to broadcast over ``[kv_heads, rows, columns]``."""
        return torch.tensor(values, dtype=torch.float64, device=self.device).view(-1, 1, 1)

    # ------------------------------------------------------------------ the network
    @torch.inference_mode()
    def forward(self, ids: torch.Tensor, cache: Cache, slots: list[int], starts: list[int]) -> torch.Tensor:
        """Hidden rows (float64 ``[B * T, hidden]``, before the final norm) of ``ids [B, T]``: row ``b`` is
        sequence ``slots[b]`` at positions ``starts[b] ..``, whose earlier keys and values are in ``cache``."""
        batch, steps = ids.shape
        positions = torch.tensor(starts, device=self.device).view(-1, 1) + torch.arange(steps, device=self.device)
        consecutive = steps == 1 and slots == list(range(slots[0], slots[0] + batch))
        later = torch.arange(max(starts) + 1, device=self.device) > positions if consecutive else None

        def store(i, k_int, v_int):
            for b, (slot, start) in enumerate(zip(slots, starts, strict=True)):
                cache.keys[i, slot, :, start : start + steps] = k_int[b].transpose(0, 1)
                cache.values[i, slot, :, start : start + steps] = v_int[b].transpose(0, 1)

        def attend(i, q_int, q_scale):
            if consecutive:
                return self._attend_step(i, q_int, q_scale, cache, slots[0], later)
            out = torch.empty_like(q_int)
            for b, (slot, start) in enumerate(zip(slots, starts, strict=True)):
                out[b] = self._attend(i, q_int[b], q_scale[b], cache, slot, start)
            return out

        return self._network(ids, positions, store, attend)

    @torch.inference_mode()
    def step(self, ids: torch.Tensor, positions: torch.Tensor, cache: Cache) -> torch.Tensor:
        """Hidden rows ``[slots, hidden]`` of one token ``ids [slots, 1]`` at ``positions [slots]`` (long) for
        every slot of ``cache``: the rows of :meth:`forward`, bit for bit, with shapes fixed by the cache alone
        (attention over all its positions, the later ones masked) and no value read back to the host, so that
        a CUDA graph can replay it."""
        slots = torch.arange(ids.shape[0], device=self.device)
        later = torch.arange(cache.keys.shape[3], device=self.device) > positions.view(-1, 1)

        def store(i, k_int, v_int):
            cache.keys[i, slots, :, positions] = k_int[:, 0]
            cache.values[i, slots, :, positions] = v_int[:, 0]

        def attend(i, q_int, q_scale):
            return self._attend_step(i, q_int, q_scale, cache, 0, later)

        return self._network(ids, positions.view(-1, 1), store, attend)

    def _network(self, ids: torch.Tensor, positions: torch.Tensor, store, attend) -> torch.Tensor:
        """The layers over ``ids [B, T]`` at ``positions [B, T]``: ``store(i, keys, values)`` puts layer ``i``'s
        integer keys and values ``[B, T, kv_heads, head_dim]`` in the cache, ``attend(i, q, q_scale)`` returns
        its attention output ``[B, T, heads, head_dim]``."""
        s = self.shape
        batch, steps = ids.shape
        cos, sin = self.cos[positions].unsqueeze(2), self.sin[positions].unsqueeze(2)  # [B, T, 1, half]
        h = self.embed[ids.reshape(-1)]
        for i, layer in enumerate(self.layers):
            qkv = layer.qkv.apply(*_normed(h, s.eps, layer.attn_gain)).view(batch, steps, -1, s.head_dim)
            qk = ops.rotate(qkv[:, :, : s.heads + s.kv_heads], cos, sin)
            q, k = qk[:, :, : s.heads], qk[:, :, s.heads :]
            v = qkv[:, :, s.heads + s.kv_heads :]
            q_int, q_scale = ops.quantise_rows(q)
            k_int = torch.round(k * self.k_scale[i].view(1, 1, -1, 1)).clamp_(-self.kmax, self.kmax)
            v_int = torch.round(v * self.v_inverse[i]).clamp_(-self.vmax, self.vmax)
            store(i, k_int, v_int)
            out = attend(i, q_int, q_scale)
            h = h + layer.o.apply(*ops.quantise_rows(out.view(batch * steps, -1)))
            gate, up = layer.gate_up.apply(*_normed(h, s.eps, layer.mlp_gain)).chunk(2, dim=-1)
            h = h + layer.down.apply(*ops.quantise_rows(ops.silu(gate) * up))
        return h

    def _attend(self, i: int, q: torch.Tensor, q_scale: torch.Tensor, cache: Cache, slot: int, start: int):
        """Attention of one sequence's rows ``q [T, heads, head_dim]`` (integers, per-row scales) at positions
        ``start ..`` over its cached keys; float64 ``[T, heads, head_dim]``."""
        s = self.shape
        steps, group = q.shape[0], s.heads // s.kv_heads
        # rows of kv head g: its query heads' rows in (head, position) order
        q = q.permute(1, 0, 2).reshape(s.kv_heads, group, steps, s.head_dim)
        factor = q_scale.permute(1, 0, 2).reshape(s.kv_heads, group, steps, 1) * self.att_factor[i].unsqueeze(1)
        out = torch.empty_like(q)
        chunk_rows = QUERY_CHUNK
        if q.device.type != "cpu":
            chunk_rows = max(QUERY_CHUNK, GPU_BLOCK_SCORES // (s.heads * (start + steps)))
        for t0 in range(0, steps, chunk_rows):
            t1 = min(steps, t0 + chunk_rows)
            keys, rows = start + t1, group * (t1 - t0)
            chunk = q[:, :, t0:t1].reshape(s.kv_heads, rows, s.head_dim)
            dot = torch.bmm(chunk, cache.keys[i, slot, :, :keys].transpose(1, 2))
            if t1 - t0 > 1:  # key start + u is allowed for the query at position start + t iff u <= t
                later = torch.ones(t1 - t0, t1 - t0, dtype=torch.bool, device=self.device).triu_(1)
                dot.view(s.kv_heads, group, t1 - t0, keys)[..., start + t0 :].masked_fill_(later, -math.inf)
            chunk_factor = factor[:, :, t0:t1].reshape(s.kv_heads, rows, 1)
            mixed = self._mix(dot, chunk_factor, cache.values[i, slot, :, :keys]).mul_(self.v_scale[i])
            out[:, :, t0:t1] = mixed.view(s.kv_heads, group, t1 - t0, s.head_dim)
        return out.reshape(s.heads, steps, s.head_dim).permute(1, 0, 2)

    def _attend_step(self, i: int, q: torch.Tensor, q_scale: torch.Tensor, cache: Cache, first: int, later):
        """One step of ``B`` sequences in consecutive cache slots ``first ..``: ``q [B, 1, heads, head_dim]``;
        ``later [B, keys]`` marks the cached positions past each row's own, masked out (their weights are
        exactly 0), so this is the arithmetic of :meth:`_attend` per row."""
        s = self.shape
        (batch, keys), group = later.shape, s.heads // s.kv_heads
        rows = q.reshape(batch * s.kv_heads, group, s.head_dim)
        factor = (q_scale.reshape(batch, s.kv_heads, group, 1) * self.att_factor[i]).reshape(-1, group, 1)
        cached_keys = cache.keys[i, first : first + batch, :, :keys].reshape(batch * s.kv_heads, keys, s.head_dim)
        # keys times queries, not queries times keys: the keys stream through in their stored order (twice as
        # fast on a CPU for a few rows); every sum is exact, so the order of work cannot change it
        dot = torch.bmm(cached_keys, rows.transpose(1, 2)).transpose(1, 2).contiguous()
        dot.view(batch, s.kv_heads, group, keys).masked_fill_(later.view(batch, 1, 1, keys), -math.inf)
        values = cache.values[i, first : first + batch, :, :keys].reshape(batch * s.kv_heads, keys, s.head_dim)
        mixed = self._mix(dot, factor, values).view(batch, s.kv_heads, group, s.head_dim).mul_(self.v_scale[i])
        return mixed.reshape(batch, 1, s.heads, s.head_dim)

    @staticmethod
    def _mix(dot: torch.Tensor, factor: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """Attention output ``[N, rows, head_dim]`` (float64, in units of the values' scale) from integer dot
        products ``[N, rows, keys]`` (``-inf`` where not allowed; overwritten): integer weights ``2**(20 - gap)``,
        the values they weigh summed exactly, divided by the weights' exact sum."""
        top = dot.amax(dim=-1, keepdim=True)
        gap = dot.neg_().add_(top)  # top - dot: exact integers, inf where masked
        weights = ops.table_weights(gap, factor, ops.ATT_BITS, ops.ATT_STEP_BITS)
        total = weights.sum(dim=-1, keepdim=True)
        return torch.bmm(weights, values).mul_(total.reciprocal_())

    @torch.inference_mode()
    def probabilities(self, h: torch.Tensor) -> torch.Tensor:
        """Next-token distributions (float32 ``[rows, vocab]``) of hidden rows: the output softmax as integer
        weights ``floor(2**(30 - x))`` (``x`` the logit's gap to the largest in bits, on a grid of ``2**-12``),
        divided by their exact sum. The logits are float32 (each step an elementwise rounding), to halve the
        bytes moved over the vocabulary."""
        q, row_scale = _normed(h, self.shape.eps, self.head_gain)
        logits = self.head.integer_product(q, torch.float32).mul_(self.head.scale.float()).mul_(row_scale.float())
        top = logits.amax(dim=-1, keepdim=True)
        gap = logits.neg_().add_(top)  # top - logit, exactly as rounded by a subtraction
        factor = ops.LOG2E * (1 << ops.SOFTMAX_STEP_BITS)
        weights = ops.table_weights(gap, factor, ops.SOFTMAX_BITS, ops.SOFTMAX_STEP_BITS)
        total = weights.sum(dim=-1, keepdim=True)  # integers below 2**53: exact
        return weights.mul_(total.reciprocal_()).float()


def _normed(h: torch.Tensor, eps: float, gain: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """RMSNorm's output as 15-bit integer rows and their scales: ``x / rms(x) = q / sqrt(mean(q**2) +
    eps / s**2)`` for the quantised input ``q * s`` (``sum(q**2)`` exact), times the gain, quantised again."""
    q, scale = ops.quantise_rows(h)
    mean_square = (q * q).sum(dim=-1, keepdim=True) * (1.0 / h.shape[-1])
    inv_rms = torch.sqrt(mean_square + eps * torch.reciprocal(scale * scale)).reciprocal()
    return ops.quantise_rows(q.mul_(inv_rms).mul_(gain))


def _fit_exponent(limit: float, bound: float) -> int:
    """The largest ``e`` with ``bound * 2**e <= limit``."""
    if bound <= 0:
        return 0
    mantissa, exponent = math.frexp(limit / bound)  # limit / bound = mantissa * 2**exponent, 0.5 <= mantissa < 1
    return exponent - 1
