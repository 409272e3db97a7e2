"""One decoding step of every cache slot at once, replayed from a CUDA graph on a GPU.

A step of :class:`.exact_model.ExactLM` is a few thousand small kernels (about 160 per layer: the exact
arithmetic is many elementwise operations); on a GPU, launching them costs more than running them.
:meth:`.exact_model.ExactLM.step` has shapes fixed by the cache and reads nothing back to the host, so the step
is captured once as a CUDA graph and then replayed with new token ids and positions copied into its input
buffers. A replay runs the same kernels on the same inputs as the eager step: the same bits.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from .exact_model import Cache, ExactLM


class SlotStepper:
    """Steps every slot of ``cache`` together; ``graph``: capture a CUDA graph (default: on a CUDA device)."""

    def __init__(self, model: ExactLM, cache: Cache, graph: bool | None = None):
        slots = cache.keys.shape[1]
        self.model, self.cache = model, cache
        self.ids = torch.zeros((slots, 1), dtype=torch.long, device=model.device)
        self.positions = torch.zeros(slots, dtype=torch.long, device=model.device)
        self.use_graph = model.device.type == "cuda" if graph is None else graph
        self.graph: torch.cuda.CUDAGraph | None = None
        self.out: torch.Tensor | None = None

    @property
    def slots(self) -> int:
        return self.ids.shape[0]

    def __call__(self, ids: list[int], positions: list[int]) -> np.ndarray:
        """Next-token distributions (float32 ``[slots, vocab]``) after slot ``b`` takes token ``ids[b]`` at
        ``positions[b]`` (a slot with nothing to step takes any token at position 0: its cache is refilled
        from position 0 before it is read again)."""
        self.ids.copy_(torch.tensor(ids, dtype=torch.long).view(-1, 1))
        self.positions.copy_(torch.tensor(positions, dtype=torch.long))
        if self.graph is not None:
            self.graph.replay()
            return self.out.cpu().numpy()
        if not self.use_graph:
            return self._run().cpu().numpy()
        side = torch.cuda.Stream()  # the eager run warms up on a side stream, as CUDA graph capture asks
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            out = self._run()
        torch.cuda.current_stream().wait_stream(side)
        self._capture()
        return out.cpu().numpy()

    def _run(self) -> torch.Tensor:
        return self.model.probabilities(self.model.step(self.ids, self.positions, self.cache))

    def _capture(self) -> None:
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph):
                out = self._run()
        except RuntimeError as e:  # the steps stay eager: slower, the same bits
            warnings.warn(f"decoding steps run without a CUDA graph: {e}", stacklevel=3)
            self.use_graph = False
            return
        self.graph, self.out = graph, out
