"""Networks of the video family: a next-frame predictor and a clip discriminator, small enough for one CPU core.

FramePredictor is a U-Net: k past frames as channels in, the next frame out, as the last frame plus a change
(2 tanh): it starts as copy-the-last-frame. A frame predicted outright through tanh, or a change clamped to
[-1, 1], tends to settle on a black frame with no gradient left (a blank frame has a lower L2 than copy-last);
so training sees the unclamped sum, and `rollout(..., clamp=True)` clamps what is fed back and returned. Its first layer
halves the size at once (64 -> 32), since full-resolution convolutions cost most of a step on a CPU; three
halvings reach 8x8 cells, which a digit (3.6 px per frame) crosses in about two frames.

ClipDiscriminator scores a clip (the past frames followed by real or predicted next frames, as channels) per
8x8 patch: it judges the motion and the sharpness of the predicted frames given their past.
"""

from __future__ import annotations

import torch
from torch import nn


def _down(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 4, 2, 1), nn.LeakyReLU(0.2))


def _up(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(c_in, c_out, 4, 2, 1), nn.ReLU())


class FramePredictor(nn.Module):
    """k frames (B x k x H x W, [-1, 1]) -> the next frame (B x 1 x H x W, in [-3, 3]: clamp it to [-1, 1]): the
    last frame plus a learned change; H and W divide by 8."""

    def __init__(self, context: int, width: int = 16):
        super().__init__()
        w = width
        self.context = context
        self.down1 = _down(context, w)  # 32
        self.down2 = _down(w, 2 * w)  # 16
        self.down3 = _down(2 * w, 4 * w)  # 8
        self.middle = nn.Sequential(nn.Conv2d(4 * w, 4 * w, 3, 1, 1), nn.ReLU(),
                                    nn.Conv2d(4 * w, 4 * w, 3, 1, 1), nn.ReLU())
        self.up3 = _up(4 * w, 2 * w)  # 16
        self.mix3 = nn.Sequential(nn.Conv2d(4 * w, 2 * w, 3, 1, 1), nn.ReLU())
        self.up2 = _up(2 * w, w)  # 32
        self.mix2 = nn.Sequential(nn.Conv2d(2 * w, w, 3, 1, 1), nn.ReLU())
        self.up1 = _up(w, w)  # 64
        # the full-size past frames join at the end, so edges can be copied at full resolution
        self.out = nn.Sequential(nn.Conv2d(w + context, w, 3, 1, 1), nn.ReLU(), nn.Conv2d(w, 1, 3, 1, 1))

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        h1 = self.down1(frames)
        h2 = self.down2(h1)
        h = self.middle(self.down3(h2))
        h = self.mix3(torch.cat([self.up3(h), h2], 1))
        h = self.mix2(torch.cat([self.up2(h), h1], 1))
        return frames[:, -1:] + 2 * torch.tanh(self.out(torch.cat([self.up1(h), frames], 1)))


def rollout(g: nn.Module, past: torch.Tensor, n: int, clamp: bool = True) -> torch.Tensor:
    """n frames predicted one at a time from `past` (B x T x H x W, T >= g.context), each fed back as the
    newest past frame: B x n x H x W, clamped to [-1, 1] (clamp=False: as G gives them, for training losses)."""
    window = past[:, -g.context:]
    out = []
    for _ in range(n):
        frame = g(window)
        frame = frame.clamp(-1, 1) if clamp else frame
        out.append(frame)
        window = torch.cat([window[:, 1:], frame], 1)
    return torch.cat(out, 1)


class ClipDiscriminator(nn.Module):
    """A clip of `frames` frames as channels (B x frames x H x W) -> logits per patch (B x 1 x H/8 x W/8)."""

    def __init__(self, frames: int, width: int = 16):
        super().__init__()
        w = width
        self.net = nn.Sequential(_down(frames, w), _down(w, 2 * w), _down(2 * w, 4 * w), nn.Conv2d(4 * w, 1, 3, 1, 1))

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        return self.net(clip)
