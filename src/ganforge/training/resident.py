"""Data resident on the training device: decoded once, batches drawn by index there.

Images stay uint8 (4x smaller than float) and are converted to [-1, 1] per batch on the device. The order is
a fresh permutation each epoch from a dedicated generator, so it is reproducible and can be resumed exactly.

A batch is a set of named tensors. Paired data (an image and its label, an input and its target) holds its
fields in one ResidentData: one permutation picks the same rows of every field. Unpaired data (two domains)
is one ResidentData per domain in UnpairedData, each drawn in its own order.
"""

from __future__ import annotations

import torch

from ganforge import seeds
from ganforge.data.spec import Batch


class ResidentData:
    def __init__(self, x: torch.Tensor, y: torch.Tensor | None, device: torch.device, seed: int,
                 channels_last: bool = False, **more: torch.Tensor):
        fields = {"x": x, "y": y, **more}
        self.fields = {k: v.to(device) for k, v in fields.items() if v is not None}
        self.channels_last = channels_last
        self.device = device
        self.n = len(x)
        if any(len(v) != self.n for v in self.fields.values()):
            raise ValueError(f"paired fields differ in length: {({k: len(v) for k, v in self.fields.items()})}")
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
        return Batch(**{k: self._prepare(v[index]) for k, v in self.fields.items()})

    def _prepare(self, t: torch.Tensor) -> torch.Tensor:
        if t.dtype == torch.uint8:  # images
            t = t.float().div_(127.5).sub_(1.0)
        if self.channels_last and t.dim() == 4:
            t = t.contiguous(memory_format=torch.channels_last)
        return t

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position, "order": self._order.cpu(),
                "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.epoch = int(state["epoch"])
        self.position = int(state["position"])
        self._order = state["order"].to(self.device)
        self.generator.set_state(state["generator"])


class UnpairedData:
    """Several domains, each a ResidentData with its own order; a batch holds every domain's fields, named
    <field>_<domain> (x_A, x_B)."""

    def __init__(self, domains: dict[str, ResidentData]):
        self.domains = domains

    def next_batch(self, size: int, part: int = 0, parts: int = 1) -> Batch:
        fields = {}
        for name, data in self.domains.items():
            fields.update({f"{k}_{name}": v for k, v in data.next_batch(size, part, parts).fields.items()})
        return Batch(**fields)

    def state_dict(self) -> dict:
        return {name: data.state_dict() for name, data in self.domains.items()}

    def load_state_dict(self, state: dict) -> None:
        for name, data in self.domains.items():
            data.load_state_dict(state[name])


def make_resident(dataset, labels: torch.Tensor | None, device: torch.device, seed: int,
                  channels_last: bool = False) -> ResidentData | UnpairedData:
    """The batches a dataset gives: x and y; image-to-image data adds its inputs as `a` (paired: row i of a
    translates to row i of x), or gives each domain its own order (unpaired: x_A, y_A, x_B, y_B); captioned
    images add their caption indices as `caption`. `seed` is the run's (train.seed): each order draws from
    its own stream (ganforge.seeds)."""
    first = seed + seeds.DATA
    if dataset.inputs is None:
        more = {} if dataset.captions is None else {"caption": dataset.captions}
        return ResidentData(dataset.x, labels, device, first, channels_last, **more)
    if dataset.paired:
        return ResidentData(dataset.x, labels, device, first, channels_last, a=dataset.inputs)
    return UnpairedData({"A": ResidentData(dataset.inputs, dataset.input_labels, device, first, channels_last),
                         "B": ResidentData(dataset.x, labels, device, seed + seeds.DATA_B, channels_last)})
