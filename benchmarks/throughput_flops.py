"""Model-FLOP accounting of the throughput benchmark: the work a method has to do, for MFU and the
scored tokens/s at 100 % MFU."""

from __future__ import annotations


def attention_shape(config) -> tuple[int, int] | None:
    """(layers, query width = heads * head_dim) of a decoder config, or None if it does not say."""
    layers, heads = getattr(config, "num_hidden_layers", None), getattr(config, "num_attention_heads", None)
    if not layers or not heads:
        return None
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    return layers, heads * head_dim


def model_flops(
    body: int, head: int, attention: tuple[int, int] | None, input_tokens: int, scored_tokens: int, attention_pairs: int
) -> float:
    """Model FLOPs of the work a method has to do: 2 per body parameter per input token, 2 per head
    parameter per scored token, and per layer 2 * width for Q.K and 2 * width for the attention-weighted
    V of every causal query-key pair (a window of n inputs has n(n+1)/2 pairs)."""
    flops = 2 * body * input_tokens + 2 * head * scored_tokens
    if attention is not None:
        layers, width = attention
        flops += 4 * layers * width * attention_pairs
    return float(flops)


def body_and_head(model) -> tuple[int, int]:
    """(parameters outside the input embedding and output head, d_model * vocab of the head)."""
    skip = set()
    embedding, head = model.get_input_embeddings(), model.get_output_embeddings()
    for module in (embedding, head):
        if module is not None:
            skip |= {id(p) for p in module.parameters()}
    body = sum(p.numel() for p in model.parameters() if id(p) not in skip)
    head_size = head.weight.numel() if head is not None else embedding.weight.numel()
    return body, head_size


def flops_formula(body: int, head: int, attention: tuple[int, int] | None) -> str:
    """The MFU formula as printed under the table."""
    attention_text = (
        f" + 4*{attention[0]}*{attention[1]}*causal pairs"
        if attention
        else "; attention left out: the config gives no layers/heads"
    )
    return f"2*{body / 1e6:.1f}M*input + 2*{head / 1e6:.1f}M*scored tokens{attention_text}"
