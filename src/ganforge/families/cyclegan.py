"""CycleGAN (Zhu et al. 2017): unpaired image-to-image translation between two domains A and B.

Two generators, G_AB: A -> B and G_BA: B -> A (ResNet generators, nets/resnet.py), and two PatchGAN
discriminators, D_A on domain A and D_B on domain B. Each iteration, on a batch a of A and an unrelated batch b
of B (the paper's Eq. 3, least squares by default, as its Section 4 trains):
  G  fools both Ds, and each image comes back from the round trip:
     L_GAN(G_AB(a)) + L_GAN(G_BA(b)) + cycle * (|G_BA(G_AB(a)) - a|_1 + |G_AB(G_BA(b)) - b|_1)
     + identity * cycle * (|G_AB(b) - b|_1 + |G_BA(a) - a|_1)   (the paper: cycle 10, identity 0.5)
  D  D_A tells a from G_BA(b), D_B tells b from G_AB(a); half of each fake batch comes from a pool of the
     last `pool` fakes (Shrivastava et al.'s history, the replay buffer of replay.py), not the
     fresh ones alone.
Where the two domains have different channel counts (gray digits and colour ones), the identity term feeds
each generator the other domain's image converted to its input's channels (averaged, or repeated).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ganforge import seeds
from ganforge.data.spec import Batch, DataSpec
from ganforge.errors import UserError
from ganforge.families.base import Phase, Stats, Step
from ganforge.families.pix2pix import OBJECTIVES, check_translation, d_loss, discriminator_score, g_loss
from ganforge.families.translation import TranslationFamily, TranslationGenerator, as_picture, to_unit_range
from ganforge.generator import SHOWCASE, eval_mode
from ganforge.nets.patchgan import PatchDiscriminator
from ganforge.nets.resnet import ResnetGenerator
from ganforge.options import choice, setting
from ganforge.replay import ReplayBuffer


@dataclass
class CycleGANOptions:
    cycle: float = 10.0  # weight of each cycle-consistency L1 in G's loss (the paper's lambda)
    identity: float = 0.5  # weight of the identity L1, as a multiple of `cycle` (0: off)
    pool: int = 50  # past fakes each D may see again (0: the fresh batch only)
    blocks: int = 9  # residual blocks in each generator (the paper: 6 at 128 px, 9 at 256)
    patch_layers: int = 3  # D's strided layers: 0 PixelGAN, 1-5 patches of 16/34/70/142/286 px, -1 ImageGAN
    d_norm: str = choice("instance", "batch", "instance")  # D's normalisation layers
    # D's and G's objectives on each patch: BCE (gan) or least squares (lsgan, the paper's)
    objective: str = choice("gan", *OBJECTIVES, was="loss.objective")
    g_width: int = setting(64, was="model.g_width")  # channels of each G's first layer (doubled per halving)
    d_width: int = setting(64, was="model.d_width")  # channels of each D's first layer (doubled per halving)


def to_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    """Images with `channels` channels: colour averaged to gray, gray repeated to colour."""
    if images.shape[1] == channels:
        return images
    if channels == 1:
        return images.mean(1, keepdim=True)
    if images.shape[1] == 1:
        return images.expand(-1, channels, -1, -1)
    raise UserError(f"cannot convert {images.shape[1]}-channel images to {channels} channels")


class CycleGANGenerator(TranslationGenerator):
    """G_AB and G_BA; `ganforge export` writes one of them (A -> B unless --direction BA)."""

    def export_network(self, direction: str = "AB") -> nn.Module:
        return self.family.G_AB if direction == "AB" else self.family.G_BA


class CycleGAN(TranslationFamily):
    GENERATOR = CycleGANGenerator
    Options = CycleGANOptions
    GROUPS = ("G", "D")
    SAMPLER = "G_AB"
    DIRECTIONS = ("AB", "BA")

    @classmethod
    def check_settings(cls, options: CycleGANOptions, cfg) -> None:
        check_translation(options)

    def __init__(self, cfg, spec: DataSpec):
        super().__init__(cfg, spec)
        o: CycleGANOptions = self.options
        if o.cycle < 0 or o.identity < 0 or o.pool < 0 or o.blocks < 0:
            raise UserError("config keys 'family.cycle', 'family.identity', 'family.pool' and 'family.blocks' "
                            "must be >= 0")
        if not -1 <= o.patch_layers <= 5:
            raise UserError(f"config key 'family.patch_layers' must be -1 (ImageGAN), 0 (PixelGAN) or 1-5, "
                            f"got {o.patch_layers}")
        if spec.input_shape[1:] != spec.shape[1:]:
            raise UserError("cyclegan maps between images of one size; for super-resolution use model.family=srgan")
        if any(side % 4 for side in spec.shape[1:]):
            raise UserError(f"cyclegan's generators halve the image twice: its sides must divide by 4, got "
                            f"{'x'.join(map(str, spec.shape[1:]))}; set data.resolution")
        self.objective = o.objective
        c_a, c_b, size = spec.input_shape[0], spec.shape[0], spec.shape[1:]
        self.G_AB = ResnetGenerator(c_a, c_b, o.g_width, o.blocks)
        self.G_BA = ResnetGenerator(c_b, c_a, o.g_width, o.blocks)
        self.D_A = PatchDiscriminator(c_a, o.patch_layers, o.d_width, o.d_norm, image_size=size)
        self.D_B = PatchDiscriminator(c_b, o.patch_layers, o.d_width, o.d_norm, image_size=size)
        self.networks = {"G_AB": self.G_AB, "G_BA": self.G_BA, "D_A": self.D_A, "D_B": self.D_B}
        self.pools: dict[str, ReplayBuffer] | None = None  # made on first use, on the data's device
        self._pool_seeds = {"A": cfg.train.seed + seeds.POOL_A, "B": cfg.train.seed + seeds.POOL_B}
        self._fakes: dict[str, torch.Tensor] = {}  # G's phase -> D's phase: this iteration's fakes, detached

    def groups(self) -> dict[str, list[nn.Module]]:
        return {"G": [self.G_AB, self.G_BA], "D": [self.D_A, self.D_B]}

    def phases(self) -> list[Phase]:
        return [Phase("G", steps="G", freeze=("D",)), Phase("D", steps="D", data=False)]

    def _net(self, name: str) -> nn.Module:
        return self.wrapped.get(name, self.networks[name])

    def loss(self, phase: str, batch: Batch, step: Step) -> tuple[torch.Tensor, Stats]:
        a, b = batch.x_A, batch.x_B
        if phase == "G":
            return self._g_loss(a, b)
        fake_a, fake_b = self._pooled("A", self._fakes.pop("A")), self._pooled("B", self._fakes.pop("B"))
        real_a, real_b = self._net("D_A")(a), self._net("D_B")(b)
        seen_a, seen_b = self._net("D_A")(fake_a), self._net("D_B")(fake_b)
        loss_a, loss_b = d_loss(self.objective, real_a, seen_a), d_loss(self.objective, real_b, seen_b)
        return loss_a + loss_b, {"loss_d_a": loss_a.detach(), "loss_d_b": loss_b.detach(),
                                 "d_real": 0.5 * (discriminator_score(self.objective, real_a)
                                                  + discriminator_score(self.objective, real_b)),
                                 "d_fake": 0.5 * (discriminator_score(self.objective, seen_a)
                                                  + discriminator_score(self.objective, seen_b))}

    def _g_loss(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, Stats]:
        o: CycleGANOptions = self.options
        g_ab, g_ba = self._net("G_AB"), self._net("G_BA")
        fake_b, fake_a = g_ab(a), g_ba(b)
        self._fakes = {"A": fake_a.detach(), "B": fake_b.detach()}
        adversarial = (g_loss(self.objective, self._net("D_B")(fake_b))
                       + g_loss(self.objective, self._net("D_A")(fake_a)))
        cycle = (g_ba(fake_b) - a).abs().mean() + (g_ab(fake_a) - b).abs().mean()
        loss = adversarial + o.cycle * cycle
        stats = {"loss_g": adversarial.detach(), "loss_cycle": cycle.detach()}
        if o.identity > 0:
            identity = ((g_ab(to_channels(b, a.shape[1])) - b).abs().mean()
                        + (g_ba(to_channels(a, b.shape[1])) - a).abs().mean())
            loss = loss + o.identity * o.cycle * identity
            stats["loss_identity"] = identity.detach()
        return loss, stats

    def _pooled(self, domain: str, fake: torch.Tensor) -> torch.Tensor:
        """The fakes D sees: half from the pool of earlier ones once it holds enough; the fresh ones go in."""
        o: CycleGANOptions = self.options
        if not o.pool:
            return fake
        if self.pools is None:
            self.pools = {d: ReplayBuffer(o.pool, 0.5, s, fake.device) for d, s in self._pool_seeds.items()}
        seen = self.pools[domain].mix_in(fake)
        self.pools[domain].push(fake)
        return seen

    def state_tensors(self) -> dict[str, torch.Tensor]:
        if self.pools is None:
            return {}
        return {f"pool_{d}.{k}": v for d, pool in self.pools.items() for k, v in pool.state_dict().items()}

    def load_state_tensors(self, state: dict[str, torch.Tensor]) -> None:
        o: CycleGANOptions = self.options
        if not o.pool or not any(k.startswith("pool_") for k in state):
            return
        device = next(self.G_AB.parameters()).device
        self.pools = {d: ReplayBuffer(o.pool, 0.5, s, device) for d, s in self._pool_seeds.items()}
        for d, pool in self.pools.items():
            pool.load_state_dict({k.removeprefix(f"pool_{d}."): v for k, v in state.items()
                                  if k.startswith(f"pool_{d}.")})

    # -- sampling ---------------------------------------------------------------------------------------------

    def attach_showcase(self, examples) -> None:
        super().attach_showcase(examples)
        k = torch.arange(SHOWCASE) % len(examples.x)
        self.showcase_b.copy_(to_unit_range(examples.x[k]))  # B images, counterparts or not

    def translate(self, a: torch.Tensor, direction: str = "AB") -> torch.Tensor:
        return (self.G_AB if direction == "AB" else self.G_BA)(a)

    def size_multiple(self, direction: str = "AB") -> int:
        return 4

    def picture(self, inputs: dict[str, torch.Tensor], samples: torch.Tensor,
                columns: int | None) -> tuple[torch.Tensor, int | None]:
        """Per example, both round trips: a | G_AB(a) | G_BA(G_AB(a)) and b | G_BA(b) | G_AB(G_BA(b)), two
        examples to a row."""
        with eval_mode(self), torch.no_grad():
            a, b = inputs["a"], inputs["b"]
            fake_a = self.G_BA(b)
            parts = [a, samples, self.G_BA(samples), b, fake_a, self.G_AB(fake_a)]
        shown = torch.stack([as_picture(p, samples) for p in parts], 1).flatten(0, 1)
        return shown, 2 * len(parts)

    def forward_check(self, device: torch.device) -> None:
        size = self.spec.shape[1:]
        self.translate(torch.zeros(2, self.spec.input_shape[0], *size, device=device), "AB")
        self.translate(torch.zeros(2, self.spec.shape[0], *size, device=device), "BA")

    def training_notes(self) -> list[str]:
        o: CycleGANOptions = self.options
        return [(f"cyclegan: G's loss = GAN ({self.objective}) + {o.cycle:g} x cycle L1 + {o.identity * o.cycle:g} x "
                 f"identity L1; pools of {o.pool} past fakes; ResNet generators of {o.blocks} blocks")]
