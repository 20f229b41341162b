"""Data resident on the training device: decoded once, batches drawn by index there.

Images stay uint8 (4x smaller than float) and are converted to [-1, 1] per batch on the device. The order is
a fresh permutation each epoch from a dedicated generator, so it is reproducible and can be resumed exactly.
"""

from __future__ import annotations

import torch

from ganforge.families.base import Batch


class ResidentData:
    def __init__(self, x: torch.Tensor, y: torch.Tensor | None, device: torch.device, seed: int,
                 channels_last: bool = False):
        self.x = x.to(device)
        self.channels_last = channels_last and x.dim() == 4
        self.y = y.to(device) if y is not None else None
        self.is_uint8 = x.dtype == torch.uint8
        self.device = device
        self.n = len(x)
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(seed)
        self.epoch = 0
        self.position = 0
        self._order = self._permutation()

    def _permutation(self) -> torch.Tensor:
        return torch.randperm(self.n, generator=self.generator, device=self.device)

    def next_batch(self, size: int, part: int = 0, parts: int = 1) -> Batch:
        """The next `size` examples of the current epoch's order (an epoch boundary starts a new order); with
        `parts` > 1, only slice `part` of them (one rank's share of a global batch)."""
        chosen = []
        while size > 0:
            if self.position == self.n:
                self.epoch += 1
                self.position = 0
                self._order = self._permutation()
            take = min(size, self.n - self.position)
            chosen.append(self._order[self.position : self.position + take])
            self.position += take
            size -= take
        index = chosen[0] if len(chosen) == 1 else torch.cat(chosen)
        if parts > 1:
            n = len(index) // parts
            index = index[part * n : (part + 1) * n]
        x = self.x[index]
        if self.is_uint8:
            x = x.float().div_(127.5).sub_(1.0)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return Batch(x, self.y[index] if self.y is not None else None)

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position, "order": self._order.cpu(),
                "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.epoch = int(state["epoch"])
        self.position = int(state["position"])
        self._order = state["order"].to(self.device)
        self.generator.set_state(state["generator"])
