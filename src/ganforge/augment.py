"""Augmenting what the discriminator sees, so it cannot memorise a small dataset.

DiffAugment (Zhao et al. 2020): every image D sees, real or generated, in D's step and in G's step, goes
through the same random, differentiable transformations (colour, translation, cutout); G's gradient flows back
through them, so G learns the data, not the augmented data. Adaptive discriminator augmentation (Karras et
al. 2020): each transformation is applied to an image with probability p, and p is steered by how sure D is
on real images: r = E[sign(D(x_real))] above the target (0.6) means D is overfitting, so p rises; below, p
falls. Any p < 1 keeps the augmentation from leaking into G's samples.

Images are float N x C x H x W in [-1, 1]. The random draws come from the augmenter's own generator (saved in
checkpoints with p), so a resumed run draws the same augmentations.
"""

from __future__ import annotations

import torch

from ganforge import seeds
from ganforge.errors import UserError

DIFFAUGMENT_OPS = ("color", "translation", "cutout")
ADA_OPS = ("xflip", "rot90", "translation", "brightness", "contrast", "saturation")


def _uniform(n: int, like: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(n, 1, 1, 1, device=like.device, generator=generator, dtype=like.dtype)


def brightness(x: torch.Tensor, g: torch.Generator, strength: float = 1.0) -> torch.Tensor:
    """Add one offset per image, uniform in [-0.5, 0.5) (DiffAugment's range, on [-1, 1] images)."""
    return x + (_uniform(len(x), x, g) - 0.5) * strength


def saturation(x: torch.Tensor, g: torch.Generator, strength: float = 1.0) -> torch.Tensor:
    """Scale each image's distance from its gray level by a factor in [0, 2) (a no-op on gray images)."""
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (1 + (_uniform(len(x), x, g) * 2 - 1) * strength) + mean


def contrast(x: torch.Tensor, g: torch.Generator, strength: float = 1.0) -> torch.Tensor:
    """Scale each image's distance from its mean by a factor in [0.5, 1.5)."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (1 + (_uniform(len(x), x, g) - 0.5) * strength) + mean


def translation(x: torch.Tensor, g: torch.Generator, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by whole pixels, up to `ratio` of its size each way, filling with zeros (gray)."""
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sh, sh + 1, (n, 1, 1), device=x.device, generator=g)
    dx = torch.randint(-sw, sw + 1, (n, 1, 1), device=x.device, generator=g)
    rows = torch.arange(h, device=x.device).view(1, h, 1) - dy  # the source row of each output row
    cols = torch.arange(w, device=x.device).view(1, 1, w) - dx
    inside = ((rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)).unsqueeze(1)
    index = (rows.clamp(0, h - 1) * w + cols.clamp(0, w - 1)).view(n, 1, h * w).expand(-1, x.shape[1], -1)
    shifted = x.flatten(2).gather(2, index).view_as(x)  # a gather: its gradient goes back to the source pixels
    return shifted * inside


def cutout(x: torch.Tensor, g: torch.Generator, ratio: float = 0.5) -> torch.Tensor:
    """Zero one square of `ratio` of the image's size per image, centred anywhere (it may leave the image)."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), device=x.device, generator=g)
    cx = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), device=x.device, generator=g)
    top, left = cy - ch // 2, cx - cw // 2
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    hole = (rows >= top) & (rows < top + ch) & (cols >= left) & (cols < left + cw)
    return x * (~hole).unsqueeze(1).to(x.dtype)


def xflip(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    return x.flip(3)


def rot90(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Rotate each image by 90, 180 or 270 degrees (square images)."""
    k = torch.randint(1, 4, (len(x),), device=x.device, generator=g)
    out = x
    for turns in (1, 2, 3):
        out = torch.where((k == turns).view(-1, 1, 1, 1), x.rot90(turns, (2, 3)), out)
    return out


OPS = {"color": None, "brightness": brightness, "saturation": saturation, "contrast": contrast,
       "translation": translation, "cutout": cutout, "xflip": xflip, "rot90": rot90}


def diff_augment(x: torch.Tensor, policy: tuple[str, ...], g: torch.Generator) -> torch.Tensor:
    """DiffAugment: every op of `policy` on every image ("color" is brightness, saturation and contrast)."""
    for op in policy:
        if op == "color":
            x = contrast(saturation(brightness(x, g), g), g)
        else:
            x = OPS[op](x, g)
    return x


def ada_augment(x: torch.Tensor, p: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """ADA: each op of ADA_OPS applied to each image with probability p (a 0-d tensor: no host sync)."""
    for op in ADA_OPS:
        chosen = (torch.rand(len(x), 1, 1, 1, device=x.device, generator=g) < p).to(x.dtype)
        x = chosen * OPS[op](x, g) + (1 - chosen) * x
    return x


class Augmenter:
    """train.augment: DiffAugment or ADA on every image D sees. Call it on D's input; with ADA, `observe` D's
    logits on real images in each D step, and p moves every `interval` D steps."""

    def __init__(self, kind: str, policy: str = "color,translation,cutout", target: float = 0.6,
                 kimg: float = 100.0, interval: int = 4, batch_size: int = 64, seed: int = 0):
        if kind not in ("diffaugment", "ada"):
            raise UserError(f"config key 'train.augment' is '{kind}'; use none, diffaugment or ada")
        self.kind = kind
        self.policy = tuple(op.strip() for op in policy.split(",") if op.strip())
        bad = [op for op in self.policy if op not in DIFFAUGMENT_OPS]
        if kind == "diffaugment" and (bad or not self.policy):
            raise UserError(f"config key 'train.augment_policy': '{bad[0] if bad else policy}' is not one of "
                            f"{', '.join(DIFFAUGMENT_OPS)} (comma-separated)")
        if not 0 < target < 1 or kimg <= 0 or interval < 1:
            raise UserError("train.ada_target must be in (0, 1), train.ada_kimg > 0 and train.ada_interval >= 1")
        self.target, self.interval, self.seed = target, interval, seed
        self.adjust = batch_size * interval / (kimg * 1000)  # p moves by at most this per update
        self.generator: torch.Generator | None = None  # made on the data's device at first use
        self.p = torch.zeros(())
        self.signs = torch.zeros(())  # the sum of sign(D(x_real)) since the last update
        self.count = 0
        self.saved_generator: torch.Tensor | None = None

    def _ready(self, x: torch.Tensor) -> torch.Generator:
        if self.generator is None:
            self.generator = torch.Generator(device=x.device).manual_seed(self.seed + seeds.AUGMENT)
            if self.saved_generator is not None:
                self.generator.set_state(self.saved_generator)
            self.p, self.signs = self.p.to(x.device), self.signs.to(x.device)
        return self.generator

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        g = self._ready(x)
        if self.kind == "diffaugment":
            return diff_augment(x, self.policy, g)
        return ada_augment(x, self.p, g)

    @torch.no_grad()
    def observe(self, real_logits: torch.Tensor) -> None:
        """ADA's overfitting heuristic r = E[sign(D(x_real))], and p's update every `interval` D steps."""
        if self.kind != "ada":
            return
        self.signs = self.signs.to(real_logits.device) + torch.sign(real_logits.float()).mean()
        self.count += 1
        if self.count % self.interval == 0:
            r = self.signs / self.interval
            self.p = (self.p.to(r.device) + torch.sign(r - self.target) * self.adjust).clamp(0.0, 1.0)
            self.signs = torch.zeros_like(self.signs)

    def stats(self) -> dict[str, torch.Tensor]:
        return {"ada_p": self.p} if self.kind == "ada" else {}

    def state_dict(self) -> dict[str, torch.Tensor]:
        state = {"p": self.p.detach().cpu().reshape(1), "signs": self.signs.detach().cpu().reshape(1),
                 "count": torch.tensor([self.count], dtype=torch.int64)}
        if self.generator is not None:
            state["generator"] = self.generator.get_state()
        return state

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.p, self.signs = state["p"].reshape(()), state["signs"].reshape(())
        self.count = int(state["count"].item())
        self.saved_generator, self.generator = state.get("generator"), None
