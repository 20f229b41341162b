"""Experience replay for the discriminator (Shrivastava et al. 2017, SimGAN, section 2.3).

D also trains on generated samples from earlier steps, so G cannot win by returning to modes that D has
forgotten about: the batch D sees mixes fresh fakes with a random selection from a history buffer.
"""

from __future__ import annotations

import torch


class ReplayBuffer:
    """A history of generated samples with random replacement, mixed into D's fake batches.

    Use per D step: `d_fake = buf.mix_in(fake)` then `buf.push(fake)`. All randomness comes from a private
    CPU torch.Generator(seed), so runs are reproducible, independent of the global RNG, and resumable
    bit-exactly through state_dict / load_state_dict.
    """

    def __init__(self, capacity: int, mix: float, seed: int = 0, device: torch.device | str = "cpu"):
        if capacity < 1:
            raise ValueError(f"replay capacity must be >= 1, got {capacity}")
        if not 0 <= mix <= 1:
            raise ValueError(f"replay mix must be in [0, 1], got {mix}")
        self.capacity, self.mix, self.device = capacity, mix, torch.device(device)
        self.generator = torch.Generator().manual_seed(seed)
        self.samples: torch.Tensor | None = None  # [capacity, ...], allocated on the first push
        self.count = 0  # filled slots: samples[:count]

    def __len__(self) -> int:
        return self.count

    def mix_in(self, fake: torch.Tensor) -> torch.Tensor:
        """`fake` (detached) with round(mix N) rows, at random positions, replaced by random stored samples.

        Stored samples are drawn without replacement, so no old sample appears twice in one batch. Until the
        buffer holds round(mix N) samples, `fake` comes back unchanged (detached).
        """
        fake = fake.detach()
        k = round(self.mix * fake.shape[0])
        if k == 0 or self.count < k:
            return fake
        assert self.samples is not None
        rows = torch.randperm(fake.shape[0], generator=self.generator)[:k]
        picks = torch.randperm(self.count, generator=self.generator)[:k]
        out = fake.clone()
        out[rows.to(fake.device)] = self.samples[picks.to(self.device)].to(fake.device, fake.dtype)
        return out

    def push(self, fake: torch.Tensor) -> None:
        """Store `fake` (detached): append while there is room, then each sample replaces a random slot."""
        fake = fake.detach().to(self.device)
        if self.samples is None:
            self.samples = torch.empty((self.capacity, *fake.shape[1:]), dtype=fake.dtype, device=self.device)
        elif fake.shape[1:] != self.samples.shape[1:]:
            raise ValueError(f"replay buffer holds samples of shape {tuple(self.samples.shape[1:])}, "
                             f"got {tuple(fake.shape[1:])}")
        n_append = min(self.capacity - self.count, fake.shape[0])
        self.samples[self.count:self.count + n_append] = fake[:n_append]
        self.count += n_append
        rest = fake[n_append:]
        if len(rest):
            slots = torch.randint(self.capacity, (len(rest),), generator=self.generator)
            # as if pushed one at a time, the later sample wins a slot drawn twice; index_put with
            # duplicate indices leaves the winner unspecified, so keep only the last writer per slot
            last = {slot: i for i, slot in enumerate(slots.tolist())}
            dst = torch.tensor(list(last.keys()), device=self.device)
            src = torch.tensor(list(last.values()), device=self.device)
            self.samples[dst] = rest[src]

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Tensors only (safetensors-ready): the stored samples, the fill count, the generator state."""
        state = {"count": torch.tensor([self.count], dtype=torch.int64), "rng": self.generator.get_state()}
        if self.samples is not None:
            state["samples"] = self.samples[:self.count].clone()  # a snapshot, not a view later pushes change
        return state

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        count = int(state["count"].item())
        if count > self.capacity:
            raise ValueError(f"saved replay buffer holds {count} samples, more than capacity {self.capacity}")
        self.generator.set_state(state["rng"].to(torch.uint8).cpu())
        self.count = count
        self.samples = None
        if "samples" in state:
            saved = state["samples"]
            self.samples = torch.empty((self.capacity, *saved.shape[1:]), dtype=saved.dtype, device=self.device)
            self.samples[:count] = saved.to(self.device)
