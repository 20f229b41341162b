"""Nearest training neighbours of generated samples, and a memorisation score calibrated on the data.

Goodfellow et al. (2014, Fig. 2) show each generated sample beside its nearest training image to argue that
the generator has not simply memorised the training set. `nearest_neighbours` finds those images (Euclidean
distance, in pixel space or in any feature space) and `save_nearest_panel` draws the figure.

A raw nearest-neighbour distance means little on its own: how close is "too close" depends on the data. So
`memorisation_score` calibrates it. A fresh sample from the data distribution lands, on average, as close
to the training set as a training point lands to the other training points, so the training set's own
leave-one-out distances (`leave_one_out_distances`) are the reference distribution for the generated
samples' distances to the training set. Samples much closer than that are copies, not new images.

Distances: rows are compared with the expanded form |q|^2 + |r|^2 - 2 q.r in float64 (a matrix product,
several times faster than a direct difference, and float64 so the cancellation error stays far below any
real gap even for raw 0..255 pixels), `chunk` queries at a time so memory stays O(chunk * M). The distance
to the chosen neighbour is then recomputed directly from the difference, so an exact copy is at exactly 0.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from ganforge.files import atomic_write
from ganforge.viz import make_grid
from ganforge.viz.labels import LABEL_SIZE, MARGIN, label_font


def _as_rows(x: torch.Tensor, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty N x D tensor, got shape {tuple(getattr(x, 'shape', ()))}")
    # float32 first (as specified for any input dtype), then float64 for the distance arithmetic
    return x.to(torch.float32).to(torch.float64)


def _nearest(
    queries: torch.Tensor, reference: torch.Tensor, chunk: int, exclude: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Nearest row of `reference` for each row of `queries` (float64); `exclude[i]` is an index row i may
    not pick (itself, for leave-one-out)."""
    if chunk < 1:
        raise ValueError(f"chunk must be at least 1, got {chunk}")
    if queries.shape[1] != reference.shape[1]:
        raise ValueError(f"dimensions differ: queries have {queries.shape[1]}, reference {reference.shape[1]}")
    ref_sq = reference.pow(2).sum(dim=1)
    dists, indices = [], []
    for start in range(0, queries.shape[0], chunk):
        q = queries[start : start + chunk]
        d2 = (q.pow(2).sum(dim=1, keepdim=True) + ref_sq - 2 * q @ reference.T).clamp_min_(0)
        if exclude is not None:
            d2[torch.arange(q.shape[0], device=d2.device), exclude[start : start + chunk]] = math.inf
        idx = d2.argmin(dim=1)  # argmin returns the first minimum: ties go to the lowest index
        # recompute from the difference: exact 0 for copies, no cancellation error in what is reported
        dists.append((q - reference[idx]).norm(dim=1))
        indices.append(idx)
    return torch.cat(dists).to(torch.float32), torch.cat(indices).to(torch.int64)


def nearest_neighbours(
    queries: torch.Tensor, reference: torch.Tensor, chunk: int = 1024
) -> tuple[torch.Tensor, torch.Tensor]:
    """Euclidean nearest neighbour in `reference` (M x D) of each row of `queries` (N x D).

    Any float or integer dtype (e.g. uint8 pixels, flattened). Returns (distances float32 [N], indices int64
    [N]); on ties the lowest index wins. Memory is O(chunk * M).
    """
    return _nearest(_as_rows(queries, "queries"), _as_rows(reference, "reference"), chunk)


def leave_one_out_distances(
    reference: torch.Tensor, n: int | None = None, seed: int = 0, chunk: int = 1024
) -> torch.Tensor:
    """Distance from each of `n` reference points to the nearest other reference point (float32 [n]).

    The points are drawn without replacement with a torch.Generator seeded with `seed` (all M, in order, if
    `n` is None or >= M). A point is excluded by index, not by distance 0, so exact duplicates in the data
    correctly give 0.
    """
    ref = _as_rows(reference, "reference")
    m = ref.shape[0]
    if m < 2:
        raise ValueError(f"leave-one-out needs at least 2 reference points, got {m}")
    if n is None or n >= m:
        idx = torch.arange(m, device=ref.device)
    elif n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    else:
        idx = torch.randperm(m, generator=torch.Generator().manual_seed(seed))[:n].to(ref.device)
    return _nearest(ref[idx], ref, chunk, exclude=idx)[0]


def memorisation_score(
    fake_to_train: torch.Tensor, train_loo: torch.Tensor, quantile: float = 0.05
) -> dict[str, float]:
    """Compare generated samples' nearest-training distances with the training set's leave-one-out ones.

    `fake_to_train`: `nearest_neighbours(fake, train)[0]`; `train_loo`: `leave_one_out_distances(train)`,
    both in the same space. Returns
      nn_ratio           median(fake_to_train) / median(train_loo), about 1 for samples as novel as new data;
      copy_rate          fraction of fake_to_train strictly below copy_threshold;
      copy_threshold     the `quantile` quantile of train_loo (torch.quantile, linear interpolation);
      copy_rate_expected `quantile`, what copy_rate is for fresh samples from the data distribution.

    Reading it: nn_ratio well below 1 and copy_rate well above `quantile` mean the samples sit closer to
    training images than new real images would, i.e. memorisation. nn_ratio well above 1 means the samples
    are far from all training images: poor quality (off the data manifold) or genuinely novel; look at the
    panel from `save_nearest_panel` to tell which.
    """
    if not 0 < quantile < 1:
        raise ValueError(f"quantile must be strictly between 0 and 1, got {quantile}")
    fake = torch.as_tensor(fake_to_train).to(torch.float64).flatten()
    loo = torch.as_tensor(train_loo).to(torch.float64).flatten()
    for x, name in ((fake, "fake_to_train"), (loo, "train_loo")):
        if x.numel() == 0:
            raise ValueError(f"{name} is empty")
        if not torch.isfinite(x).all() or (x < 0).any():
            raise ValueError(f"{name} must hold finite, non-negative distances")
    loo_median = torch.quantile(loo, 0.5).item()
    if loo_median == 0:
        raise ValueError("the median leave-one-out distance is 0 (most training points have an exact "
                         "duplicate), so there is no scale to compare against; deduplicate the training set")
    threshold = torch.quantile(loo, quantile).item()
    return {
        "nn_ratio": torch.quantile(fake, 0.5).item() / loo_median,
        "copy_rate": (fake < threshold).double().mean().item(),
        "copy_threshold": threshold,
        "copy_rate_expected": float(quantile),
    }


_ROWS_PER_BLOCK = 8
_GAP = 2  # black, between cells and around each block (make_grid's padding)
_SAMPLE_GAP = 6  # white, after the sample column
_BLOCK_GAP = 10  # white, between blocks
# each column's caption, drawn in a white band above the blocks (after enlarging, so the text stays crisp)
COLUMN_CAPTIONS = ("sample", "nearest\nin pixels", "nearest\nin features")
CAPTION_BAND = 2 * (LABEL_SIZE + 3) + 2 * MARGIN  # two lines of text


def save_nearest_panel(
    samples: torch.Tensor,
    train: torch.Tensor,
    pixel_idx: torch.Tensor,
    feature_idx: torch.Tensor | None,
    path: str | os.PathLike,
    n_show: int = 16,
    upscale: int = 1,
) -> Path:
    """Write the Fig. 2 picture as a PNG: per row a sample, its nearest training image in pixel space and,
    if `feature_idx` is given, its nearest in feature space.

    `samples` (N x C x H x W) and `train` (M x C x H x W) are uint8 images (float in [-1, 1] is quantised
    with ganforge.viz.to_uint8), C in {1, 3}; nothing is rescaled. Rows are the first min(n_show, N)
    samples, in blocks of up to 8 rows placed side by side. With k = 2 or 3 columns, n rows, B = ceil(n / 8)
    blocks: width = B * (k * (W + 2) + 6) + (B - 1) * 10, height = min(n, 8) * (H + 2) + 2, both times
    `upscale` (nearest-neighbour enlargement, so small images can be seen).
    """
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"the panel is a PNG: use a file name ending in .png, got '{path}'")
    if samples.dim() != 4 or samples.shape[1] not in (1, 3) or train.shape[1:] != samples.shape[1:]:
        raise ValueError(f"samples and train must be N x C x H x W with the same C (1 or 3), H and W, "
                         f"got {tuple(samples.shape)} and {tuple(train.shape)}")
    n = min(n_show, samples.shape[0])
    if n < 1:
        raise ValueError("no samples to show")
    for idx, name in ((pixel_idx, "pixel_idx"), (feature_idx, "feature_idx")):
        if idx is not None and len(idx) < n:
            raise ValueError(f"{name} has {len(idx)} entries for {n} samples shown")
    columns = [samples[:n], train[torch.as_tensor(pixel_idx)[:n].long()]]
    if feature_idx is not None:
        columns.append(train[torch.as_tensor(feature_idx)[:n].long()])
    k = len(columns)
    cells = torch.stack(columns, dim=1).flatten(0, 1)  # row-major: sample, pixel NN, feature NN, ...

    w = samples.shape[3]
    blocks = []
    for start in range(0, n, _ROWS_PER_BLOCK):
        grid = make_grid(cells[start * k : (start + _ROWS_PER_BLOCK) * k], nrow=k, padding=_GAP)
        # replace the black gap after the sample column by a wider white one, so the sample stands apart
        white = np.full((grid.shape[0], _SAMPLE_GAP, *grid.shape[2:]), 255, dtype=np.uint8)
        blocks.append(np.concatenate([grid[:, : _GAP + w], white, grid[:, 2 * _GAP + w :]], axis=1))

    block_w = blocks[0].shape[1]
    canvas = np.full(
        (blocks[0].shape[0], len(blocks) * (block_w + _BLOCK_GAP) - _BLOCK_GAP, *blocks[0].shape[2:]),
        255,
        dtype=np.uint8,
    )
    for b, block in enumerate(blocks):
        left = b * (block_w + _BLOCK_GAP)
        canvas[: block.shape[0], left : left + block_w] = block

    image = Image.fromarray(canvas)
    if upscale > 1:
        image = image.resize((image.width * upscale, image.height * upscale), Image.NEAREST)
    with atomic_write(path) as f:
        captioned(image, len(blocks), block_w + _BLOCK_GAP, w, k, upscale).save(f, format="PNG")
    return path


def captioned(panel: Image.Image, blocks: int, block_step: int, w: int, k: int, upscale: int) -> Image.Image:
    """`panel` below a white band naming each column of each block, centred over it."""
    out = Image.new(panel.mode, (panel.width, panel.height + CAPTION_BAND), 255 if panel.mode == "L" else
                    (255, 255, 255))
    out.paste(panel, (0, CAPTION_BAND))
    draw, font = ImageDraw.Draw(out), label_font()
    ink = 0 if panel.mode == "L" else (0, 0, 0)
    for b in range(blocks):
        for c in range(k):
            # the column's left edge: the block's start, the grid padding, the cells before it (and the white
            # gap after the sample column)
            left = b * block_step + _GAP + c * (w + _GAP) + (_SAMPLE_GAP - _GAP if c else 0)
            centre = (left + w / 2) * upscale
            draw.multiline_text((centre, CAPTION_BAND - MARGIN), COLUMN_CAPTIONS[c], fill=ink, font=font,
                                anchor="md", align="center", spacing=2)
    return out
