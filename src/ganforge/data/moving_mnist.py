"""Moving MNIST (Srivastava et al. 2015), generated: two 28x28 MNIST digits bounce in a 64x64 canvas.

Each sequence draws two digits, a start position for each in [0, 36]^2 and a direction of motion; the digits
move 0.1 of the free range (3.6 px) per frame and bounce off the edges (the velocity component that would leave
the range flips, the position is clamped). The two are combined by the pixel maximum, as in the usual
generator. The usual test file (mnist_test_seq.npy) cannot be downloaded here, so the test set is generated
the same way from MNIST's test digits with a fixed seed: `sequences(digits, "test", n=n)` gives its first n of
10,000.

Sequences are made in chunks of CHUNK, each from its own seeded torch.Generator and drawn whole, so the first n
of a set never depend on how many more are made. Frames are uint8, a clip N x FRAMES x 64 x 64 (frames as channels).
"""

from __future__ import annotations

import torch

FRAMES = 20  # 10 in, 10 out
INPUT_FRAMES = 10
SIZE = 64
DIGIT = 28
STEP = 0.1  # of the free range (SIZE - DIGIT) per frame
N_TRAIN = 10_000  # training sequences (a fixed pool, from MNIST's train digits and train.seed)
N_TEST = 10_000
TEST_SEED = 2015  # the test set's seed: the same 10,000 sequences whatever the run's seed
CHUNK = 1000


def bounce(n: int, frames: int, n_digits: int, generator: torch.Generator, step: float = STEP) -> torch.Tensor:
    """Positions in [0, 1]^2 of n x n_digits bouncing digits over `frames` frames: n x frames x n_digits x 2."""
    pos = torch.rand(n, n_digits, 2, generator=generator)
    theta = torch.rand(n, n_digits, generator=generator) * 2 * torch.pi
    return path(pos, torch.stack([theta.sin(), theta.cos()], -1) * step, frames)


def path(pos: torch.Tensor, velocity: torch.Tensor, frames: int) -> torch.Tensor:
    """`frames` positions (... x 2 each, in [0, 1]) from `pos` moving by `velocity` per frame, bouncing: a
    component that leaves [0, 1] is clamped to the edge and its velocity reversed. ... x 2 -> n x frames x ..."""
    out = torch.empty(pos.shape[0], frames, *pos.shape[1:])
    for t in range(frames):
        out[:, t] = pos
        pos = pos + velocity
        off = (pos < 0) | (pos > 1)  # the component leaving the range turns back
        velocity = torch.where(off, -velocity, velocity)
        pos = pos.clamp(0, 1)
    return out


def paste(digits: torch.Tensor, positions: torch.Tensor, size: int = SIZE) -> torch.Tensor:
    """uint8 canvases n x T x size x size with digits (uint8 n x D x h x w) at integer top-left corners
    positions (int64 n x T x D x 2, row then column), overlaps combined by the maximum."""
    n, frames, n_digits, _ = positions.shape
    h, w = digits.shape[-2:]
    offsets = (torch.arange(h)[:, None] * size + torch.arange(w)[None, :]).flatten()  # h*w
    corner = positions[..., 0] * size + positions[..., 1]  # n x T x D
    index = (corner[..., None] + offsets).flatten(2)  # n x T x (D*h*w)
    values = digits.flatten(2).to(torch.int16)[:, None].expand(n, frames, n_digits, h * w).flatten(2)
    canvas = torch.zeros(n, frames, size * size, dtype=torch.int16)
    canvas.scatter_reduce_(2, index, values, reduce="amax")
    return canvas.view(n, frames, size, size).to(torch.uint8)


def generate(digits: torch.Tensor, n: int, seed: int, frames: int = FRAMES, n_digits: int = 2,
             size: int = SIZE) -> torch.Tensor:
    """n sequences (uint8 n x frames x size x size) from `digits` (uint8 M x 28 x 28 or M x 1 x 28 x 28), the
    same for the same digits and seed; chunk i of CHUNK sequences comes from seed * 1,000,003 + i."""
    digits = digits.reshape(len(digits), DIGIT, DIGIT)
    parts = []
    for chunk, start in enumerate(range(0, n, CHUNK)):
        m = min(CHUNK, n - start)  # a whole chunk is drawn (the draws' layout depends on its size), m kept
        g = torch.Generator().manual_seed(seed * 1_000_003 + chunk)
        picks = torch.randint(len(digits), (CHUNK, n_digits), generator=g)[:m]
        corners = (bounce(CHUNK, frames, n_digits, g)[:m] * (size - DIGIT)).round().long()
        parts.append(paste(digits[picks], corners, size))
    return torch.cat(parts) if parts else torch.empty(0, frames, size, size, dtype=torch.uint8)


def sequences(digits: torch.Tensor, split: str, seed: int = 0, n: int | None = None) -> torch.Tensor:
    """The clips of `moving-mnist` from MNIST digits of the same split: N_TRAIN training clips seeded by `seed`,
    or the first n (default all N_TEST) of the fixed test set, whatever `seed`."""
    if split == "test":
        return generate(digits, min(n or N_TEST, N_TEST), TEST_SEED)
    return generate(digits, n or N_TRAIN, seed)
