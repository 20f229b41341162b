"""The GAN of Goodfellow et al. 2014, with any architecture (MLP, dense, DCGAN).

Algorithm 1 of the paper, one training iteration:
  for k steps: sample m noise vectors z and m examples x;
               ascend  1/m sum [log D(x) + log(1 - D(G(z)))]          (d_loss, negated)
  sample m noise vectors z;
  descend 1/m sum log(1 - D(G(z)))   (loss.g = minimax)
  or ascend  1/m sum log D(G(z))     (loss.g = nonsaturating, the paper's practical advice)
The loop runs the k steps; this file holds the two objectives.
"""

from __future__ import annotations

import torch
from torch import nn

from ganforge import losses
from ganforge.families.base import Batch, DataSpec, Family, Stats
from ganforge.nets import build_networks


class GAN(Family):
    def __init__(self, cfg, spec: DataSpec):
        super().__init__()
        self.G, self.D = build_networks(cfg.model, spec.shape, spec.is_image)
        self.networks = {"G": self.G, "D": self.D}
        self.g_objective = losses.G_LOSSES[cfg.loss.g]
        self.d_max_norm = cfg.model.d_max_norm
        self._last: tuple[torch.Tensor, torch.Tensor] | None = None  # (z, G(z)) of the latest D step

    def d_loss(self, real: Batch, z: torch.Tensor) -> tuple[torch.Tensor, Stats]:
        fake = self.G(z)  # kept with its graph: the G step may reuse it for the same z
        self._last = (z, fake)
        real_logits = self.D(real.x)
        fake_logits = self.D(fake.detach())
        loss = losses.d_loss_bce(real_logits, fake_logits)
        stats = {
            "loss_d": loss.detach(),
            "d_real": torch.sigmoid(real_logits.detach()).mean(),  # D(x)
            "d_fake": torch.sigmoid(fake_logits.detach()).mean(),  # D(G(z))
        }
        return loss, stats

    def g_loss(self, z: torch.Tensor) -> tuple[torch.Tensor, Stats]:
        fake = self._last[1] if self._last is not None and self._last[0] is z else self.G(z)
        self._last = None
        loss = self.g_objective(self.D(fake))
        return loss, {"loss_g": loss.detach()}

    @torch.no_grad()
    def after_step(self, name: str) -> None:
        # the paper's D kept each unit's incoming weight vector within a maximum norm, which lets plain SGD with
        # a large learning rate train without the weights blowing up
        if name == "D" and self.d_max_norm > 0:
            for m in self.D.modules():
                if isinstance(m, nn.Linear):
                    m.weight.copy_(torch.renorm(m.weight, 2, 0, self.d_max_norm))

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        return self.G(z)

    def d_prob(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.D(x))
