"""The GAN of Goodfellow et al. 2014, with any architecture (MLP, dense, DCGAN), any objective and the
stabilisers of the field.

Algorithm 1 of the paper, one training iteration:
  for k steps: sample m noise vectors z and m examples x;
               ascend  1/m sum [log D(x) + log(1 - D(G(z)))]          (d_loss, negated)
  sample m noise vectors z;
  descend 1/m sum log(1 - D(G(z)))   (loss.g = minimax)
  or ascend  1/m sum log D(G(z))     (loss.g = nonsaturating, the paper's practical advice)
The loop runs the k steps; this file holds the objectives. loss.objective swaps the pair for WGAN, hinge or
least squares; penalties (WGAN-GP, R1, DRAGAN), weight clipping, one-sided label smoothing, experience replay
and PacGAN packing are added here, so every architecture gets them.
"""

from __future__ import annotations

import torch
from torch import nn

from ganforge import losses
from ganforge.families.base import Batch, DataSpec, Family, Stats
from ganforge.nets import build_networks
from ganforge.nets.stabilisers import pack
from ganforge.train.replay import ReplayBuffer

REPLAY_SEED_OFFSET = 3_000_017  # the replay buffer draws from its own stream


class GAN(Family):
    def __init__(self, cfg, spec: DataSpec):
        super().__init__()
        self.G, self.D = build_networks(cfg.model, spec.shape, spec.is_image)
        self.networks = {"G": self.G, "D": self.D}
        self.loss_cfg = cfg.loss
        d_objective, g_objective = losses.OBJECTIVES[cfg.loss.objective]
        self.d_objective = d_objective
        self.g_objective = losses.G_LOSSES[cfg.loss.g] if cfg.loss.objective == "gan" else g_objective
        self.probabilities = cfg.loss.objective == "gan"  # D's output is a logit of P(real)
        self.pack_size = cfg.model.pack
        self.d_max_norm = cfg.model.d_max_norm
        self.replay_size, self.replay_mix = cfg.train.replay, cfg.train.replay_mix
        self.replay_seed = cfg.train.seed + REPLAY_SEED_OFFSET
        self.replay: ReplayBuffer | None = None  # made on first use, on the data's device
        self.d_steps_done = 0  # for lazy R1
        self._last: tuple[torch.Tensor, torch.Tensor] | None = None  # (z, G(z)) of the latest D step

    def critic(self, x: torch.Tensor) -> torch.Tensor:
        """D on a batch of samples: packed in groups of model.pack first (PacGAN)."""
        return self.D(pack(x, self.pack_size) if self.pack_size > 1 else x)

    def d_loss(self, real: Batch, z: torch.Tensor) -> tuple[torch.Tensor, Stats]:
        c = self.loss_cfg
        fake = self.G(z)  # kept with its graph: the G step may reuse it for the same z
        self._last = (z, fake)
        seen_fake = fake.detach()
        if self.replay_size:
            if self.replay is None:
                self.replay = ReplayBuffer(self.replay_size, self.replay_mix, self.replay_seed, fake.device)
            seen_fake = self.replay.mix_in(seen_fake)
            self.replay.push(fake.detach())
        lazy_r1 = c.r1 > 0 and self.d_steps_done % c.r1_every == 0
        real_x = real.x.detach().requires_grad_(True) if lazy_r1 else real.x
        real_logits = self.critic(real_x)
        fake_logits = self.critic(seen_fake)
        if self.probabilities:
            loss = losses.d_loss_bce(real_logits, fake_logits, c.label_smoothing)
        else:
            loss = self.d_objective(real_logits, fake_logits)
        stats = {"loss_d": loss.detach()}
        if c.gp:
            penalty = losses.gradient_penalty(self.critic, real.x, fake.detach())
            loss = loss + c.gp * penalty
            stats["gp"] = penalty.detach()
        if lazy_r1:
            penalty = losses.r1_penalty(real_logits, real_x)
            loss = loss + c.r1 * c.r1_every * penalty  # lazy regularisation: scaled by the interval
            stats["r1"] = penalty.detach()
        if c.dragan:
            penalty = losses.dragan_penalty(self.critic, real.x)
            loss = loss + c.dragan * penalty
            stats["dragan"] = penalty.detach()
        self.d_steps_done += 1
        if self.probabilities:
            stats["d_real"] = torch.sigmoid(real_logits.detach()).mean()  # D(x)
            stats["d_fake"] = torch.sigmoid(fake_logits.detach()).mean()  # D(G(z))
        else:  # a critic's raw outputs; their gap estimates the distance between the distributions
            stats["critic_real"] = real_logits.detach().mean()
            stats["critic_fake"] = fake_logits.detach().mean()
        return loss, stats

    def g_loss(self, z: torch.Tensor) -> tuple[torch.Tensor, Stats]:
        fake = self._last[1] if self._last is not None and self._last[0] is z else self.G(z)
        self._last = None
        loss = self.g_objective(self.critic(fake))
        return loss, {"loss_g": loss.detach()}

    @torch.no_grad()
    def after_step(self, name: str) -> None:
        if name != "D":
            return
        # the paper's D kept each unit's incoming weight vector within a maximum norm, which lets plain SGD with
        # a large learning rate train without the weights blowing up
        if self.d_max_norm > 0:
            for m in self.D.modules():
                if isinstance(m, nn.Linear):
                    m.weight.copy_(torch.renorm(m.weight, 2, 0, self.d_max_norm))
        if self.loss_cfg.clip > 0:
            losses.clip_weights_(self.D, self.loss_cfg.clip)

    def state_tensors(self) -> dict[str, torch.Tensor]:
        state = {"d_steps_done": torch.tensor([self.d_steps_done], dtype=torch.int64)}
        if self.replay is not None:
            state.update({f"replay.{k}": v for k, v in self.replay.state_dict().items()})
        return state

    def load_state_tensors(self, state: dict[str, torch.Tensor]) -> None:
        self.d_steps_done = int(state["d_steps_done"].item()) if "d_steps_done" in state else 0
        saved = {k.removeprefix("replay."): v for k, v in state.items() if k.startswith("replay.")}
        if saved and self.replay_size:
            device = next(self.G.parameters()).device
            self.replay = ReplayBuffer(self.replay_size, self.replay_mix, self.replay_seed, device)
            self.replay.load_state_dict(saved)

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        return self.sampler()(z)

    def d_prob(self, x: torch.Tensor) -> torch.Tensor:
        out = self.critic(x.repeat_interleave(self.pack_size, 0))  # a pack of m copies of each point
        return torch.sigmoid(out) if self.probabilities else out
