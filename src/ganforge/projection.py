"""Projection (GAN inversion): the code whose sample reproduces each image, found by optimisation, as Karras et
al. 2020's projector finds it (stylegan2-ada's projector.py), for any Generator that Projects.

Every image of a batch is one row of a single Adam problem (the rows do not interact: the distance is a sum
over rows). The learning rate ramps up over the first 5% of the steps and down, on a cosine, over the last
25%; Gaussian noise added to the code starts at NOISE times the code's spread and fades out by three quarters
of the way. The start is the generator's own (StyleGAN's w_avg, an autoencoder's encoder code) or the nearest,
in pixels, of a pool of samples; a conditional run whose class is not given tries the TRIES classes of the
nearest samples and keeps the best projection.

The distance per image: the mean squared pixel error, plus the relative squared error of the run's
discriminator's features (Larsen et al. 2016's learned similarity) and of the shipped domain classifier's
features where the data has one. The classifier is the second seed's where one ships (SECOND_SEEDS), so the
first can judge the reconstructions' class on its own. No perceptual network (LPIPS, VGG) is downloaded.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field

import torch
from tqdm import tqdm

from ganforge.errors import UserError
from ganforge.generator import Generator, Projects, eval_mode, require
from ganforge.runtime import autocast_dtype, precision_name

STEPS = 100  # Adam steps per batch: 1,000 Fashion-MNIST images in under 3 minutes on 2 CPU cores
BATCH = 256  # images optimised together
LR = 0.1  # the paper's initial learning rate
LR_RAMPUP, LR_RAMPDOWN = 0.05, 0.25  # shares of the steps
NOISE, NOISE_RAMP = 0.05, 0.75  # the code's noise: its start in units of the code's spread, the share it lasts
POOL = 4096  # samples the start is picked from, fewer for large images (POOL_BYTES)
POOL_BYTES = 2**28
TRIES = 3  # conditional runs without a given class: the classes of the nearest samples tried per image
WEIGHTS = {"pixels": 1.0, "critic": 0.1, "classifier": 0.1}  # the distance's parts


@dataclass
class Projection:
    """Projected codes and what they give, on the CPU, one row per image in the order given."""

    codes: dict[str, torch.Tensor]  # the network's inputs: g(codes) draws `images`
    images: torch.Tensor  # reconstructions in [-1, 1]
    distance: torch.Tensor  # each image's final distance
    space: str
    weights: dict[str, float]  # the distance's parts as used (a part with nothing to measure is left out)
    precision: str  # the networks' arithmetic while optimising
    frames: list[torch.Tensor] = field(default_factory=list)  # reconstructions along the optimisation


def parse_weights(text: str | dict | None) -> dict[str, float]:
    """The distance's weights from "pixels=1,critic=0.1,classifier=0" (parts not named keep their default)."""
    if text is None:
        return dict(WEIGHTS)
    items = text if isinstance(text, dict) else dict(item.partition("=")[::2] for item in text.split(",") if item)
    weights = dict(WEIGHTS)
    for key, value in items.items():
        try:
            weights[key.strip()] = float(value)
        except ValueError:
            value = None
        if key.strip() not in WEIGHTS or value is None or weights[key.strip()] < 0:
            raise UserError(f"--distance {text}: give NAME=WEIGHT items (weights >= 0) separated by commas, "
                            f"NAME one of {', '.join(WEIGHTS)}")
    if not any(weights.values()):
        raise UserError(f"--distance {text}: at least one weight must be above 0")
    return weights


class Distance:
    """Per image: pixels' mean squared error plus each feature part's squared error relative to the target's."""

    def __init__(self, g: Generator, weights: dict[str, float]):
        self.g, self.weights = g, dict(weights)
        if g.sampler_only:  # a shipped generator comes without the run's discriminator
            self.weights["critic"] = 0.0
        self.classifier = classifier_for_distance(g) if weights["classifier"] else None
        if self.classifier is None:
            self.weights["classifier"] = 0.0

    def features(self, x: torch.Tensor, codes: dict[str, torch.Tensor]) -> list[tuple[float, torch.Tensor]]:
        """(weight, features) of each layer measured."""
        parts = []
        if self.weights["critic"]:
            critic = self.g.critic_features(x, codes)
            parts += [(self.weights["critic"] / len(critic), f) for f in critic]
        if self.classifier is not None:
            parts.append((self.weights["classifier"], self.classifier.feature_maps(x)))
        return parts

    @torch.no_grad()
    def target(self, x: torch.Tensor, codes: dict[str, torch.Tensor]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(features, their mean square per image) of the target images, computed once."""
        if self.weights["critic"] and not self.g.critic_features(x[:1], {k: v[:1] for k, v in codes.items()}):
            self.weights["critic"] = 0.0  # no discriminator sees images (the aae's judges codes)
        return [(f.float(), f.float().pow(2).flatten(1).mean(1) + 1e-8) for _, f in self.features(x, codes)]

    def __call__(self, y: torch.Tensor, x: torch.Tensor, codes: dict[str, torch.Tensor],
                 target: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
        total = self.weights["pixels"] * (y.float() - x).pow(2).flatten(1).mean(1)
        for (weight, f), (t, norm) in zip(self.features(y, codes), target, strict=True):
            total = total + weight * (f.float() - t).pow(2).flatten(1).mean(1) / norm
        return total


def classifier_for_distance(g: Generator):
    """The shipped domain classifier of the run's data (its second seed where one ships), or None."""
    from ganforge.metrics.classifier import SECOND_SEEDS, load_classifier
    from ganforge.metrics.features import classifier_for

    name = classifier_for(g.data.get("name", ""))
    if name is None:
        return None
    model, meta = load_classifier(f"{name}-seed1" if f"{name}-seed1" in SECOND_SEEDS else name)
    if tuple(g.spec.shape) != (meta.get("in_channels", 1), 28, 28):
        return None
    return model.to(g.device).requires_grad_(False)


def check_space(g: Generator, space: str | None) -> str:
    """The code space to project into (None: the generator's first), refused where `g` cannot project."""
    require(g, Projects, "projection finds the code of an image", "use a run with a latent space (gan, dcgan, "
            "progan, stylegan, aae, vaegan)")
    if not g.spec.is_image:
        raise UserError("projection finds the codes of images; this run's data are points")
    if space is None:
        return g.projection_spaces[0]
    if space not in g.projection_spaces:
        raise UserError(f"--space {space}: the {g.name} run projects into {' or '.join(g.projection_spaces)}")
    return space


def pool_start(g: Generator, images: torch.Tensor, space: str, options: dict, seed: int,
               tries: int) -> tuple[dict[str, torch.Tensor], int]:
    """The codes of the nearest pool samples to each image, `tries` per image with distinct conditions where the
    pool holds several (rows image-major); and the number per image."""
    n = max(64, min(POOL, POOL_BYTES // (4 * images[0].numel())))
    inputs, _ = g.inputs(n, torch.Generator().manual_seed(seed), **options)
    inputs = {k: v.to(g.device) for k, v in inputs.items()}
    samples = g(inputs).flatten(1)
    codes = g.codes_in(inputs, space)
    if "c" in codes:
        groups = torch.unique(codes["c"], dim=0, return_inverse=True)[1]
    else:
        groups = torch.zeros(n, dtype=torch.int64, device=samples.device)
    tries = min(tries, int(groups.max()) + 1)
    chosen = []
    for x in images.flatten(1).split(1024):  # the distances of 1,024 images at a time
        d = x.pow(2).sum(1, keepdim=True) - 2 * x @ samples.T + samples.pow(2).sum(1)  # squared, in pixels
        for _ in range(tries):
            best = d.argmin(1)
            chosen.append(best)
            d = d.masked_fill(groups[best][:, None] == groups[None, :], math.inf)  # that condition tried
    index = torch.cat([torch.stack(chosen[i : i + tries], 1) for i in range(0, len(chosen), tries)]).flatten()
    return {k: v[index].clone() for k, v in codes.items()}, tries


def learning_rate(t: float) -> float:
    """The learning rate at the share t of the steps: ramped up, then down on a cosine (stylegan2-ada's)."""
    ramp = min(1.0, (1.0 - t) / LR_RAMPDOWN)
    return LR * (0.5 - 0.5 * math.cos(ramp * math.pi)) * min(1.0, t / LR_RAMPUP)


def optimise(g: Generator, x: torch.Tensor, start: dict[str, torch.Tensor], space: str, distance: Distance,
             steps: int, generator: torch.Generator, frames: int, dtype: torch.dtype | None = None,
             tick=lambda: None) -> tuple[dict[str, torch.Tensor], torch.Tensor, list[torch.Tensor]]:
    """One batch: the codes after `steps` Adam steps from `start` (the networks under autocast to `dtype`, the
    codes and Adam in fp32), each row's final distance in fp32, and `frames` snapshots of the reconstructions."""
    def autocast():
        return torch.autocast(x.device.type, dtype=dtype or torch.float32, enabled=dtype is not None)

    codes = {k: v.detach().clone() for k, v in start.items()}
    moved = g.moved(space)
    for key in moved:
        codes[key].requires_grad_(True)
    key, spread = moved[0], g.code_spread(space)
    with autocast():
        target = distance.target(x, codes)
    adam = torch.optim.Adam([codes[k] for k in moved], lr=LR, betas=(0.9, 0.999))
    shots = {round(i * (steps - 1) / max(1, frames - 1)) for i in range(frames)} if steps else set()
    snapshots = []
    for i in range(steps):
        t = i / steps
        for group in adam.param_groups:
            group["lr"] = learning_rate(t)
        scale = spread * NOISE * max(0.0, 1.0 - t / NOISE_RAMP) ** 2
        noise = torch.randn(codes[key].shape, generator=generator, device=generator.device)
        noisy = {**codes, key: codes[key] + scale * noise}
        with autocast():
            y = g.render(noisy)
            loss = distance(y, x, noisy, target) + g.code_penalty(noisy)
        adam.zero_grad(set_to_none=True)
        loss.sum().backward()
        adam.step()
        g.tidy_codes(codes)
        if i in shots:
            snapshots.append(y.detach().float().cpu())
        tick()
    codes = {k: v.detach() for k, v in codes.items()}
    with torch.no_grad():
        final = distance(g.render(codes), x, codes, distance.target(x, codes) if dtype else target)
    return codes, final, snapshots


def project(g: Generator, images: torch.Tensor, steps: int = STEPS, space: str | None = None,
            options: dict | None = None, weights: dict[str, float] | str | None = None, batch: int = BATCH,
            seed: int = 0, frames: int = 0, progress: bool = False, tries: int = TRIES,
            precision: str = "auto") -> Projection:
    """The codes of `images` (N x C x H x W, uint8 or in [-1, 1], the run's shape) under the run's Generator.
    `options`: sampling options the pool is drawn with ({"class": "Sneaker"}: a conditional run's class given,
    else the best of `tries` found); `weights`: the distance's parts (WEIGHTS); `frames`: snapshots kept for an
    animation; `precision`: the networks' arithmetic while optimising, auto: bf16 where the device has it natively
    (about 2.5x faster on a CPU with AVX512-BF16), as training chooses (fp32, bf16 or fp16 as named)."""
    space = check_space(g, space)
    if steps < 0 or batch < 1 or tries < 1:
        raise UserError(f"--steps must be >= 0, --batch and tries >= 1, got {steps}, {batch} and {tries}")
    if not len(images):
        raise UserError("no images to project")
    if precision not in ("auto", "fp32", "bf16", "fp16"):
        raise UserError(f"--precision {precision}: give auto, fp32, bf16 or fp16")
    if tuple(images.shape[1:]) != tuple(g.spec.shape):
        raise UserError(f"the images are {' x '.join(map(str, images.shape[1:]))}, the run's samples "
                        f"{' x '.join(map(str, g.spec.shape))}: give images of the run's shape")
    x = images.float().div(127.5).sub(1.0) if images.dtype == torch.uint8 else images.float()
    x = x.to(g.device)
    distance = Distance(g, parse_weights(weights))
    dtype = autocast_dtype(precision, g.device, "image")
    with frozen(g.family):
        start = g.projection_start(x, space)
        if start is None:
            start, tries = pool_start(g, x, space, dict(options or {}), seed, tries)
        elif options:
            raise UserError(f"the {g.name} run's projection starts from its own code, not a pool of samples: "
                            f"drop --{next(iter(options))}")
        else:
            tries = 1
        rows = torch.arange(len(x), device=x.device).repeat_interleave(tries)
        generator = torch.Generator(device=x.device).manual_seed(seed)
        parts = [list(range(i, min(i + batch, len(rows)))) for i in range(0, len(rows), batch)]
        bar = tqdm(total=len(parts) * steps, desc="project", unit="step", disable=not progress, leave=False)
        results = [optimise(g, x[rows[p]], {k: v[p] for k, v in start.items()}, space, distance, steps, generator,
                            frames, dtype, bar.update) for p in parts]
        bar.close()
    codes = {k: torch.cat([r[0][k] for r in results]) for k in start}
    final = torch.cat([r[1] for r in results]).view(len(x), tries)
    best = final.argmin(1) + torch.arange(len(x), device=final.device) * tries  # each image's best try
    codes = {k: v[best].cpu() for k, v in codes.items()}
    snapshots = [torch.cat([r[2][i] for r in results])[best.cpu()] for i in range(len(results[0][2]))]
    with torch.no_grad():
        out = g({k: v.to(g.device) for k, v in codes.items()}).cpu()
    return Projection(codes, out, final.flatten()[best].cpu(), space, distance.weights, precision_name(dtype),
                      snapshots)


@contextlib.contextmanager
def frozen(module: torch.nn.Module):
    """`module` in eval mode with no gradient for its weights inside the block: projection moves codes alone, and
    the weights' gradients would cost a third of each step."""
    kept = [(p, p.requires_grad) for p in module.parameters()]
    for p, _ in kept:
        p.requires_grad_(False)
    try:
        with eval_mode(module):
            yield module
    finally:
        for p, was in kept:
            p.requires_grad_(was)
