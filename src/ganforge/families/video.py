"""Next-frame video prediction (Mathieu, Couprie and LeCun 2016, "Deep multi-scale video prediction beyond mean
square error") on clips such as Moving MNIST.

G (nets/video.FramePredictor) reads the last `context` frames and predicts the next one; rolled out, each
prediction is fed back as the newest past frame. Training rolls G out for `rollout` frames (default 1, the next
frame, as in the paper) from a random start in each clip and puts the loss on all of them. Each iteration:
  D  tells (past, true next frames) from (past, G's rollout)                  BCE per 8x8 patch
  G  lambda_lp * L2 (or L1) + lambda_gdl * gradient difference + lambda_adv * non-saturating GAN loss
The gradient-difference loss (the paper's Eq. 5, alpha = 1) compares the absolute differences of neighbouring
pixels of the prediction and the truth; it penalises blur directly. family.lambda_adv=0 drops D and its
phase: the L2-only (lambda_gdl=0) and L2 + GDL models of the same network. The paper's multi-scale pyramid is
left out: one scale of 64x64 already costs most of a CPU step.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from PIL import Image
from torch import nn

from ganforge import losses
from ganforge.data.spec import Batch, DataSpec
from ganforge.errors import UserError
from ganforge.families.base import Family, Phase, Stats, Step, check_options
from ganforge.files import atomic_write
from ganforge.generator import SHOWCASE, ExportModule, Generator, PredictsFrames, eval_mode
from ganforge.nets.video import ClipDiscriminator, FramePredictor, rollout
from ganforge.options import choice

SHOWN = 4  # clips in a picture
INPUT_FRAMES = 10  # a clip's first 10 frames are the input, the next ones what is predicted (10 in, 10 out)


@dataclass
class VideoOptions:
    context: int = 4  # past frames G reads (at most 10)
    rollout: int = 1  # frames G predicts with feedback per training clip (1: next frame, as the paper trains)
    lambda_lp: float = 1.0  # weight of the L2 (or L1) distance to the true frames
    lp: str = choice("l2", "l2", "l1")  # the distance to the true frames: l2 (squared) or l1
    lambda_gdl: float = 1.0  # weight of the gradient-difference loss
    lambda_adv: float = 0.01  # weight of the adversarial loss (0: no D)
    width: int = 16  # G's channels at 32x32 (16x16: twice, 8x8: four times)
    d_width: int = 16  # D's channels after its first halving (doubled at each of the next two)


def gradient_difference_loss(pred: torch.Tensor, true: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """Mathieu et al. Eq. 5: mean over pixels of ||true_x| - |pred_x||^alpha + ||true_y| - |pred_y||^alpha, with
    _x, _y the differences of horizontal and vertical neighbours (last two dimensions)."""
    def grads(y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return (y[..., :, 1:] - y[..., :, :-1]).abs(), (y[..., 1:, :] - y[..., :-1, :]).abs()

    (px, py), (tx, ty) = grads(pred), grads(true)
    return (tx - px).abs().pow(alpha).mean() + (ty - py).abs().pow(alpha).mean()


class VideoGenerator(Generator, PredictsFrames):
    """The frame predictor, rolled out with its own frames fed back."""

    @property
    def context(self) -> int:
        return self.family.options.context

    @torch.no_grad()
    def predict(self, frames: torch.Tensor, n: int) -> torch.Tensor:
        with eval_mode(self.family):
            return self.family.predict(frames, n)

    # -- export: the last `context` frames in, `frames` predicted frames out (the run's own count unless given) --

    def export_module(self, frames: int | None = None) -> nn.Module:
        n = self._frames(frames)
        return ExportModule({"generator": self.network()}, lambda inputs: self.family.predict(inputs["frames"], n),
                            ("frames",))

    def export_inputs(self, n: int = 2, seed: int = 0, frames: int | None = None) -> dict[str, torch.Tensor]:
        """The last `context` input frames of showcase clips (n from the seed-th on)."""
        k = (torch.arange(n) + seed) % SHOWCASE
        return {"frames": self.family.showcase[k, INPUT_FRAMES - self.context : INPUT_FRAMES]}

    def export_description(self, frames: int | None = None) -> dict:
        n, (h, w) = self._frames(frames), self.spec.shape[1:]
        return {
            "inputs": [{"name": "frames", "shape": ["N", self.context, h, w], "kind": "past frames",
                        "about": f"the last {self.context} frames of each clip, oldest first, gray, in [-1, 1] "
                                 "(pixel / 127.5 - 1)"}],
            "output": {"name": "predicted", "shape": ["N", n, h, w], "range": [-1.0, 1.0],
                       "about": f"the next {n} frames of each clip, in order, in [-1, 1]: pixel value = "
                                "(x + 1) * 127.5; each predicted from the frames before it, its own included"},
            "frames": {"context": self.context, "predicted": n,
                       "about": f"{self.context} frames in, {n} out (fixed in this file: ganforge export RUN "
                                "--frames N for another count)"},
        }

    def _frames(self, frames: int | None) -> int:
        if frames is not None and frames < 1:
            raise UserError(f"--frames must be at least 1, got {frames}")
        return self.family.predicted if frames is None else frames


class Video(Family):
    GENERATOR = VideoGenerator
    Options = VideoOptions
    GROUPS = ("G", "D")
    SAMPLER = "G"
    SAMPLE_OPTIONS: ClassVar[dict[str, str]] = {}

    def __init__(self, cfg, spec: DataSpec):
        super().__init__(cfg, spec)
        o: VideoOptions = self.options
        if spec.is_image or len(spec.shape) != 3:
            raise UserError(f"the video family predicts frames of clips and needs video data (data.name "
                            f"moving-mnist), not {'images' if spec.is_image else 'points'}")
        frames, h, w = spec.shape
        self.frames = frames
        self.predicted = frames - INPUT_FRAMES
        if h % 8 or w % 8:
            raise UserError(f"the video family's networks halve frames three times, and these are {h}x{w}; use "
                            "frames whose sides divide by 8")
        if not 1 <= o.context <= INPUT_FRAMES:
            raise UserError(f"config key 'family.context' must be 1 to {INPUT_FRAMES}, got {o.context}")
        if not 1 <= o.rollout <= frames - o.context:
            raise UserError(f"config key 'family.rollout' must be 1 to {frames - o.context} (the clip's "
                            f"{frames} frames less family.context), got {o.rollout}")
        if min(o.lambda_lp, o.lambda_gdl, o.lambda_adv) < 0 or o.lambda_lp + o.lambda_gdl == 0:
            raise UserError("config keys 'family.lambda_lp', 'family.lambda_gdl' and 'family.lambda_adv' must be "
                            ">= 0, and lambda_lp and lambda_gdl not both 0")
        if cfg.train.ema:
            raise UserError("config key 'train.ema': the video family predicts with the live G; set train.ema=0")
        if cfg.train.augment != "none":
            raise UserError("config key 'train.augment': the video family's D sees clips; set train.augment=none")
        if cfg.eval.every:
            raise UserError("config key 'eval.every': video runs are measured by `ganforge eval RUN` after "
                            "training; set eval.every=0")
        self.G = FramePredictor(o.context, o.width)
        self.D = ClipDiscriminator(o.context + o.rollout, o.d_width)
        self.networks = {"G": self.G, "D": self.D}
        self.register_buffer("showcase", torch.zeros(SHOWCASE, frames, h, w))
        self._fake: torch.Tensor | None = None  # the rollout of D's phase, with its graph, for G's phase
        self._clip: tuple[torch.Tensor, torch.Tensor] | None = None

    # -- training ------------------------------------------------------------------------------------------

    @property
    def adversarial(self) -> bool:
        return self.options.lambda_adv > 0

    def groups(self) -> dict[str, list]:
        return {"G": [self.G], "D": [self.D]}

    def phases(self) -> list[Phase]:
        if not self.adversarial:
            return [Phase("G", steps="G")]
        return [Phase("D", steps="D"), Phase("G", steps="G", freeze=("D",), data=False)]

    def split_clip(self, x: torch.Tensor, step: Step) -> tuple[torch.Tensor, torch.Tensor]:
        """(past frames, the frames to predict) from a random start in the batch's clips."""
        o: VideoOptions = self.options
        last = self.frames - o.context - o.rollout
        if not last:
            return x[:, : o.context], x[:, o.context :]
        # the start stays on the device: indexing by a tensor needs no host sync per step on a GPU
        start = torch.randint(last + 1, (1,), generator=step.noise, device=step.device).to(x.device)
        clip = x.index_select(1, start + torch.arange(o.context + o.rollout, device=x.device))
        return clip[:, : o.context], clip[:, o.context :]

    def critic(self, past: torch.Tensor, frames: torch.Tensor, sync: bool = False) -> torch.Tensor:
        d = self.wrapped.get("D", self.D) if sync else self.D
        return d(torch.cat([past, frames], 1))

    def loss(self, phase: str, batch: Batch, step: Step) -> tuple[torch.Tensor, Stats]:
        o: VideoOptions = self.options
        g = self.wrapped.get("G", self.G)
        if phase == "D":
            past, true = self._clip = self.split_clip(batch.x, step)
            self._fake = rollout(g, past, o.rollout, clamp=False)
            real = self.critic(past, true, sync=True)
            fake = self.critic(past, self._fake.detach())
            loss = losses.d_loss_bce(real, fake)
            return loss, {"loss_d": loss.detach(), "d_real": torch.sigmoid(real.detach()).mean(),
                          "d_fake": torch.sigmoid(fake.detach()).mean()}
        if self.adversarial:  # G's phase sees D's batch and rollout (Phase.data=False)
            (past, true), fake = self._clip, self._fake
            self._clip, self._fake = None, None
        else:
            past, true = self.split_clip(batch.x, step)
            fake = rollout(g, past, o.rollout, clamp=False)
        lp = (fake - true).pow(2).mean() if o.lp == "l2" else (fake - true).abs().mean()
        gdl = gradient_difference_loss(fake, true)
        total = o.lambda_lp * lp + o.lambda_gdl * gdl
        stats = {"loss_lp": lp.detach(), "loss_gdl": gdl.detach()}
        if self.adversarial:
            adversarial = losses.g_loss_nonsaturating(self.critic(past, fake, sync=True))
            total = total + o.lambda_adv * adversarial
            stats["loss_g"] = adversarial.detach()
        return total, stats

    def training_notes(self) -> list[str]:
        o: VideoOptions = self.options
        terms = [f"{o.lambda_lp:g} x {o.lp.upper()}", f"{o.lambda_gdl:g} x GDL"] if o.lambda_gdl else \
            [f"{o.lambda_lp:g} x {o.lp.upper()}"]
        if self.adversarial:
            terms.append(f"{o.lambda_adv:g} x GAN")
        return [f"video: G reads {o.context} frames and is trained on rollouts of {o.rollout}; G's loss = "
                f"{' + '.join(terms)}" + ("" if self.adversarial else " (no D)")]

    def forward_check(self, device: torch.device) -> None:
        past = torch.zeros(2, self.options.context, *self.spec.shape[1:], device=device)
        self.critic(past, rollout(self.G, past, self.options.rollout))

    # -- showcase and sampling -----------------------------------------------------------------------------

    def attach_showcase(self, examples) -> None:
        k = torch.arange(SHOWCASE) % len(examples.x)
        self.showcase.copy_(examples.x[k].float().div(127.5).sub(1.0))

    def sampling_tensors(self) -> dict[str, torch.Tensor]:
        return {"showcase": self.showcase}

    def load_sampling_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        self.showcase.copy_(tensors["showcase"])

    @torch.no_grad()
    def predict(self, past: torch.Tensor, n: int) -> torch.Tensor:
        """n frames after `past` (B x T x H x W in [-1, 1], T >= context), in [-1, 1]. Callers set eval mode."""
        return rollout(self.G, past, n)

    def noise(self, n: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """The showcase clips in turn; no randomness."""
        k = torch.arange(n, device=self.showcase.device) % SHOWCASE
        return {"clip": self.showcase[k]}

    def decode(self, inputs: dict[str, torch.Tensor], **options: Any) -> torch.Tensor:
        """The predicted frames of each clip (B x predicted x H x W), from its first INPUT_FRAMES."""
        check_options(self, options, allowed=())
        return self.predict(inputs["clip"][:, :INPUT_FRAMES], self.predicted)

    def sample_inputs(self, n: int | None, generator: torch.Generator, picture: bool = False,
                      truncation: float | None = None, **options: Any) -> tuple[dict[str, torch.Tensor], int | None]:
        check_options(self, options)
        if truncation is not None:
            self.check_truncation(truncation)  # refused: predictions come from frames
        return self.noise(n or SHOWN, generator), None

    def grid(self, inputs: dict[str, torch.Tensor], n: int | None = None) -> tuple[dict[str, torch.Tensor], int | None]:
        return {k: v[: n or SHOWN] for k, v in inputs.items()}, None

    def picture(self, inputs: dict[str, torch.Tensor], samples: torch.Tensor,
                columns: int | None) -> tuple[torch.Tensor, int | None]:
        """Three rows per clip, one frame per cell: the last input frames, the true next frames, the prediction."""
        clip = inputs["clip"]
        k = samples.shape[1]
        rows = torch.stack([clip[:, INPUT_FRAMES - k : INPUT_FRAMES], clip[:, INPUT_FRAMES : INPUT_FRAMES + k],
                            samples.to(clip)], 1)  # B x 3 x k x H x W
        return rows.flatten(0, 2)[:, None], k

    def pictures(self, dataset, folder: Path, step: int) -> None:
        """samples/clips_<step>.gif and its latest copy clips.gif in the run folder: SHOWN clips played as
        input, then truth | prediction side by side."""
        clip = self.showcase[:SHOWN]
        was_training = self.training
        self.eval()
        try:
            predicted = self.predict(clip[:, :INPUT_FRAMES], self.predicted).cpu()
        finally:
            self.train(was_training)
        clip = clip.cpu()
        frames = clip_panels(clip[:, :INPUT_FRAMES], [clip[:, INPUT_FRAMES:], predicted])
        folder.mkdir(parents=True, exist_ok=True)
        path = save_clip_gif(frames, folder / f"clips_{step:06d}.gif")
        with atomic_write(folder.parent / "clips.gif") as f:
            f.write(path.read_bytes())


# -- clip GIFs (the run folder's, `ganforge predict`'s and the benchmark's) -----------------------------------

FRAME_MS = 150
GAP = 2  # pixels of gray between the panels of a clip GIF
GAP_VALUE = 128


def to_frames_uint8(frames: torch.Tensor) -> torch.Tensor:
    """Frames in [-1, 1] -> uint8, rounded as viz.to_uint8 does."""
    return ((frames.float() + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)


def clip_panels(past: torch.Tensor, futures: list[torch.Tensor]) -> list[np.ndarray]:
    """The frames of a comparison GIF: one row per clip, one panel per column: the input, then each of `futures`
    (B x T x H x W, in [-1, 1]: the truth, a model's prediction). The input plays first in every panel, then the
    input panel holds its last frame while the others play their frames."""
    past = to_frames_uint8(past.cpu())
    futures = [to_frames_uint8(f.cpu()) for f in futures]
    n, _, h, w = past.shape
    columns = 1 + len(futures)
    out = []
    timeline = [[p] * columns for p in past.unbind(1)]
    timeline += [[past[:, -1]] + [f[:, t] for f in futures] for t in range(futures[0].shape[1])]
    for panels in timeline:
        canvas = np.full((n * (h + GAP) - GAP, columns * (w + GAP) - GAP), GAP_VALUE, dtype=np.uint8)
        for c, frame in enumerate(panels):
            for r in range(n):
                canvas[r * (h + GAP) : r * (h + GAP) + h, c * (w + GAP) : c * (w + GAP) + w] = frame[r].numpy()
        out.append(canvas)
    return out


def save_clip_gif(frames: list[np.ndarray], path: Path, upscale: int = 2, duration_ms: int = FRAME_MS) -> Path:
    """A looping gray GIF of uint8 H x W frames, each pixel upscale x upscale; the last frame held 1 s."""
    path = Path(path)
    images = [Image.fromarray(f).resize((f.shape[1] * upscale, f.shape[0] * upscale), Image.Resampling.NEAREST)
              for f in frames]
    durations = [duration_ms] * (len(images) - 1) + [1000]
    with atomic_write(path) as f:
        images[0].save(f, format="GIF", save_all=True, append_images=images[1:], duration=durations, loop=0)
    return path
