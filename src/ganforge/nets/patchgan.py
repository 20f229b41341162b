"""PatchGAN discriminators (Isola et al. 2017, Sec. 3.2.2): D scores each patch of the image as real or fake,
so it judges texture and leaves the large structure to the L1 or cycle loss. The patch it sees is its
receptive field, set by its number of strided layers:

- `patch_layers = 0`: the PixelGAN, 1 x 1 convolutions, each output sees one pixel (colour only);
- `patch_layers = n >= 1`: n strided 4 x 4 convolutions (C64-C128-C256-..., BatchNorm but on the first,
  LeakyReLU 0.2), then a stride-1 C(next) and a stride-1 1-channel convolution: receptive fields 16, 34, 70,
  142 and 286 pixels for n = 1..5 (the paper's 70 x 70 is n = 3);
- `patch_layers = -1`: the ImageGAN, one score for the whole image (the strided layers down to a few pixels,
  then a linear layer over all of them).

Every D takes `in_channels` (pix2pix: the input and the output or target side by side) and returns N x 1 x
h x w patch logits (ImageGAN: N x 1 x 1 x 1).
"""

from __future__ import annotations

import torch
from torch import nn

MAX_WIDTH_FACTOR = 8
IMAGE_GAN = -1


def receptive_field(patch_layers: int) -> int:
    """The side, in input pixels, of what one output of the PatchGAN sees (0: the PixelGAN's 1)."""
    if patch_layers == 0:
        return 1
    field = 1
    for stride in reversed([2] * patch_layers + [1, 1]):  # back from one output through each 4 x 4 layer
        field = (field - 1) * stride + 4
    return field


def _norm(kind: str, channels: int) -> nn.Module:
    return nn.BatchNorm2d(channels) if kind == "batch" else nn.InstanceNorm2d(channels, affine=True)


class PatchDiscriminator(nn.Module):
    def __init__(self, in_channels: int, patch_layers: int = 3, width: int = 64, norm: str = "batch",
                 image_size: tuple[int, int] | None = None):
        super().__init__()
        if patch_layers == 0:  # PixelGAN
            layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 1), nn.LeakyReLU(0.2, True),
                                       nn.Conv2d(width, 2 * width, 1, bias=False), _norm(norm, 2 * width),
                                       nn.LeakyReLU(0.2, True), nn.Conv2d(2 * width, 1, 1)]
            self.body, self.head = nn.Sequential(*layers), None
            return
        strided = patch_layers if patch_layers > 0 else _halvings(image_size)
        layers = [nn.Conv2d(in_channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        c = width
        for i in range(1, strided):
            c_next = width * min(2**i, MAX_WIDTH_FACTOR)
            layers += [nn.Conv2d(c, c_next, 4, 2, 1, bias=False), _norm(norm, c_next), nn.LeakyReLU(0.2, True)]
            c = c_next
        if patch_layers > 0:
            c_next = width * min(2**strided, MAX_WIDTH_FACTOR)
            layers += [nn.Conv2d(c, c_next, 4, 1, 1, bias=False), _norm(norm, c_next), nn.LeakyReLU(0.2, True),
                       nn.Conv2d(c_next, 1, 4, 1, 1)]
            self.body, self.head = nn.Sequential(*layers), None
        else:  # ImageGAN: a linear layer reads the whole last map
            h, w = image_size
            cells = (h >> strided) * (w >> strided)
            self.body, self.head = nn.Sequential(*layers), nn.Linear(c * cells, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        if self.head is not None:
            y = self.head(y.flatten(1))[:, :, None, None]
        return y


def _halvings(image_size: tuple[int, int] | None) -> int:
    """ImageGAN: halve until the smaller side is 4 pixels or less (at least once)."""
    if image_size is None:
        raise ValueError("the ImageGAN (patch_layers=-1) needs the image size")
    h, w = image_size
    n = 1
    while min(h, w) >> (n + 1) >= 4 and (h >> n) % 2 == 0 and (w >> n) % 2 == 0:
        n += 1
    return n
