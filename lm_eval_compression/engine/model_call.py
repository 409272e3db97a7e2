"""One forward pass of a causal LM, as the scorer and the codec both make it.

Only the last ``keep`` positions' logits are computed where the model supports it (transformers'
``logits_to_keep``, formerly ``num_logits_to_keep``), without gradients, under the harness wrapper's
autocast dtype (``mixed_precision_dtype``) when it has one.
"""

from __future__ import annotations

import inspect

import torch


class ModelCall:
    """Calls ``model`` with the keyword names its ``forward`` accepts."""

    def __init__(self, model, device, autocast_dtype=None):
        self.model = model
        self.device = torch.device(device)
        self.autocast_dtype = autocast_dtype
        params = inspect.signature(model.forward).parameters
        self.keep_arg = next((n for n in ("logits_to_keep", "num_logits_to_keep") if n in params), None)
        self.cache_arg = "cache" if "cache" in params else "past_key_values"

    def __call__(self, input_ids: torch.Tensor, keep: int, cache=None, **kwargs):
        """The model's output for ``input_ids`` with logits of (at least) the last ``keep`` positions;
        ``cache`` is a key-value cache to extend (``use_cache`` follows whether one is wanted)."""
        if self.keep_arg:
            kwargs[self.keep_arg] = keep
        if cache is not None:
            kwargs[self.cache_arg] = cache
        kwargs.setdefault("use_cache", cache is not None)
        with (
            torch.no_grad(),
            torch.autocast(
                device_type=self.device.type, dtype=self.autocast_dtype, enabled=self.autocast_dtype is not None
            ),
        ):
            return self.model(input_ids=input_ids, **kwargs)
