"""Sliced Wasserstein distance (SWD) between Laplacian-pyramid patches, the metric of Karras et al. 2018,
"Progressive growing of GANs" (Sec. 5, App. D), following the protocol of its reference code
(progressive_growing_of_gans, metrics/sliced_wasserstein.py):

1. Images are quantised to uint8 (float input in [-1, 1] through `ganforge.viz.to_uint8`; the reference
   scores uint8 images too) and converted to float32 on the raw 0..255 scale, as the reference does. The scale
   does not change the result: step 3 standardises every channel of every level, which removes any affine
   rescaling.
2. A Laplacian pyramid per image, from its resolution down to the last level whose sides are still >= 16
   (`min_resolution`): 32 x 32 images give levels 32 and 16, 28 x 28 images the single level 28. Down- and
   up-sampling use the 5 x 5 binomial kernel [1, 4, 6, 4, 1]^2 / 256 with mirrored edges ("mirror" in scipy,
   "reflect" in torch), as cv2.pyrDown / pyrUp: down = blur then keep every second pixel; up = insert zeros,
   then blur with 4x the kernel. Every level but the last holds the detail, image - up(down(image)); the last
   is the low-pass image itself.
3. From each level, `patches_per_image` (128) random 7 x 7 patches per image, whose centres are drawn
   uniformly among the positions where the patch fits. Each set of patches (real, fake) is standardised per
   channel by its own mean and (population) standard deviation over all its patches and pixels, at each
   level, exactly as the reference does; a channel with zero spread is only centred.
4. Per level, the SWD between the real and fake patch sets, each patch a vector of C * 7 * 7 numbers:
   project both sets on `n_directions` random unit directions, sort each projection, and average the absolute
   differences of the sorted values (the 1-D Wasserstein-1 distance between equal-size sets, averaged over the
   directions); repeat with fresh directions `n_repeats` times and average. The reference uses 4 repeats of
   128 directions, the paper's 512 projections; these are the defaults.
5. Reported x 1e3, like the paper's tables: ``{"swd_<res>": ..., "swd_avg": ...}``, finest level first,
   `swd_avg` the mean over levels.

Randomness is seeded (`seed`) and independent of the global RNG: patch positions come from a generator that is
reset for each image set, so two sets of the same shape use the same positions (position is independent of
content, so this is a valid sample for each set; it also makes a set's distance to itself exactly 0), and the
directions come from a second generator, drawn level by level. Results match numbers from the reference code
statistically, not bit for bit (it uses NumPy's global RNG, and rounds half up where `to_uint8` rounds half to
even).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ganforge.viz import to_uint8

_BINOMIAL = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0
# Elements in one chunk of projections (n_patches x directions), to bound memory on large sets (~256 MB).
_PROJECTION_CHUNK = 1 << 26


# --------------------------------------------------------------------------- Laplacian pyramid


def _blur(x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
    """Separable 5 x 5 binomial blur of N x C x H x W (times `gain`) with mirrored edges (d c b | a b c d)."""
    n, c, h, w = x.shape
    k = (_BINOMIAL * gain**0.5).to(x)
    y = F.pad(x.reshape(n * c, 1, h, w), (2, 2, 2, 2), mode="reflect")
    y = F.conv2d(F.conv2d(y, k.view(1, 1, 1, 5)), k.view(1, 1, 5, 1))
    return y.reshape(n, c, h, w)


def pyr_down(x: torch.Tensor) -> torch.Tensor:
    """Blur, then keep every second row and column (cv2.pyrDown): H x W -> ceil(H/2) x ceil(W/2)."""
    return _blur(x)[:, :, ::2, ::2]


def pyr_up(x: torch.Tensor, size: tuple[int, int] | None = None) -> torch.Tensor:
    """Insert zeros between pixels, blur with 4x the kernel (cv2.pyrUp), crop to `size` (default 2H x 2W)."""
    n, c, h, w = x.shape
    up = x.new_zeros(n, c, 2 * h, 2 * w)
    up[:, :, ::2, ::2] = x
    up = _blur(up, gain=4.0)
    if size is not None:
        up = up[:, :, : size[0], : size[1]]
    return up


def pyramid_resolutions(height: int, width: int, min_resolution: int = 16) -> list[tuple[int, int]]:
    """The (H, W) of each pyramid level: halve (rounding up) while both sides stay >= min_resolution."""
    sizes = []
    while min(height, width) >= min_resolution:
        sizes.append((height, width))
        height, width = (height + 1) // 2, (width + 1) // 2
    return sizes


def laplacian_pyramid(images: torch.Tensor, min_resolution: int = 16) -> list[torch.Tensor]:
    """The Laplacian pyramid of float N x C x H x W images, finest level first (see the module docstring).

    All levels but the last are detail (level - up(down(level))); the last is low-pass. Images smaller than
    `min_resolution` give an empty list. `reconstruct_laplacian_pyramid` inverts it.
    """
    if not images.is_floating_point():
        raise TypeError(f"laplacian_pyramid expects float images, got {images.dtype}")
    levels = len(pyramid_resolutions(images.shape[-2], images.shape[-1], min_resolution))
    if levels == 0:
        return []
    pyramid = [images]
    for _ in range(levels - 1):
        low = pyr_down(pyramid[-1])
        pyramid[-1] = pyramid[-1] - pyr_up(low, pyramid[-1].shape[-2:])
        pyramid.append(low)
    return pyramid


def reconstruct_laplacian_pyramid(pyramid: list[torch.Tensor]) -> torch.Tensor:
    """Invert `laplacian_pyramid`: upsample the low-pass level and add the details back, coarsest first."""
    image = pyramid[-1]
    for detail in reversed(pyramid[:-1]):
        image = pyr_up(image, detail.shape[-2:]) + detail
    return image


# --------------------------------------------------------------------------- patches


def _patch_positions(n_images: int, sizes: list[tuple[int, int]], patches_per_image: int, patch_size: int,
                     seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Top-left corners (rows, cols), each n_images x patches_per_image, of the patches at every level."""
    g = torch.Generator().manual_seed(seed)
    return [
        (torch.randint(0, h - patch_size + 1, (n_images, patches_per_image), generator=g),
         torch.randint(0, w - patch_size + 1, (n_images, patches_per_image), generator=g))
        for h, w in sizes
    ]


def _gather_patches(
    level: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, patch_size: int
) -> torch.Tensor:
    """Patches of N x C x H x W at the given top-left corners (N x P each): (N * P) x C x p x p."""
    n, c = level.shape[:2]
    offsets = torch.arange(patch_size, device=level.device)
    r = (rows.to(level.device)[:, :, None] + offsets).view(n, -1, 1, patch_size, 1)  # N x P x 1 x p x 1
    q = (cols.to(level.device)[:, :, None] + offsets).view(n, -1, 1, 1, patch_size)  # N x P x 1 x 1 x p
    image = torch.arange(n, device=level.device).view(n, 1, 1, 1, 1)
    channel = torch.arange(c, device=level.device).view(1, 1, c, 1, 1)
    return level[image, channel, r, q].flatten(0, 1)


def _standardise(patches: torch.Tensor) -> torch.Tensor:
    """Per channel: subtract the mean, divide by the population std over all patches and pixels; flatten."""
    mean = patches.mean(dim=(0, 2, 3), keepdim=True)
    std = patches.std(dim=(0, 2, 3), keepdim=True, correction=0)
    std = torch.where(std > 0, std, torch.ones_like(std))
    return ((patches - mean) / std).flatten(1)


def _as_float_bytes(images: torch.Tensor | np.ndarray) -> torch.Tensor:
    """uint8, or float in [-1, 1] quantised by `to_uint8`, as float32 on the 0..255 scale."""
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(images)
    return to_uint8(images).float()


def patch_descriptors(images: torch.Tensor | np.ndarray, patches_per_image: int = 128, patch_size: int = 7,
                      min_resolution: int = 16, seed: int = 0, batch_size: int = 256) -> list[torch.Tensor]:
    """Standardised Laplacian-pyramid patches of N x C x H x W images (uint8 or float in [-1, 1]).

    Returns one (N * patches_per_image) x (C * patch_size^2) float32 tensor per pyramid level, finest first.
    Images are processed `batch_size` at a time; the result does not depend on it. Descriptors of the real
    images can be computed once and compared with many fake sets (`sliced_wasserstein_descriptors`).
    """
    if patch_size > min_resolution:
        raise ValueError(
            f"patch_size {patch_size} does not fit in the {min_resolution} x {min_resolution} level"
        )
    if len(images.shape) != 4 or len(images) == 0:
        raise ValueError(f"expected N x C x H x W images with N >= 1, got shape {tuple(images.shape)}")
    n, _, h, w = images.shape
    sizes = pyramid_resolutions(h, w, min_resolution)
    if not sizes:
        raise ValueError(
            f"{h} x {w} images are smaller than the pyramid's minimum resolution {min_resolution}"
        )
    positions = _patch_positions(n, sizes, patches_per_image, patch_size, seed)
    per_level: list[list[torch.Tensor]] = [[] for _ in sizes]
    for start in range(0, n, batch_size):
        batch = _as_float_bytes(images[start : start + batch_size])
        for k, level in enumerate(laplacian_pyramid(batch, min_resolution)):
            rows, cols = (p[start : start + len(batch)] for p in positions[k])
            per_level[k].append(_gather_patches(level, rows, cols, patch_size))
    return [_standardise(torch.cat(patches)) for patches in per_level]


# --------------------------------------------------------------------------- sliced Wasserstein distance


def random_directions(dim: int, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """`n` directions uniform on the unit sphere in R^dim, as the columns of a dim x n float32 matrix."""
    d = torch.randn(dim, n, generator=generator, dtype=torch.float64)
    return (d / d.norm(dim=0, keepdim=True)).float()


def sliced_wasserstein_distance(a: torch.Tensor, b: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """Wasserstein-1 distance between the projections of `a` and `b` (M x D each) on each direction (D x K).

    For equal-size sets the 1-D distance is the mean absolute difference of the sorted projections. Returns
    the K distances; their mean is the sliced Wasserstein distance. Directions are processed in chunks to
    bound memory on large sets.
    """
    if a.dim() != 2 or a.shape != b.shape:
        raise ValueError(f"need two M x D sets of the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    directions = directions.to(a)
    chunk = max(1, _PROJECTION_CHUNK // max(1, len(a)))
    out = []
    for d in directions.split(chunk, dim=1):
        pa = torch.sort(a @ d, dim=0).values
        pb = torch.sort(b @ d, dim=0).values
        out.append((pa - pb).abs().mean(dim=0))
    return torch.cat(out)


def sliced_wasserstein_descriptors(
    real: list[torch.Tensor], fake: list[torch.Tensor], names: list[str],
    n_directions: int = 128, n_repeats: int = 4, seed: int = 0,
) -> dict[str, float]:
    """Steps 4-5 on `patch_descriptors` output: {"swd_<name>": SWD x 1e3 per level, "swd_avg": the mean}."""
    if len(real) != len(fake) or len(real) != len(names):
        raise ValueError(f"{len(real)} real and {len(fake)} fake pyramid levels for {len(names)} names")
    g = torch.Generator().manual_seed(seed)
    result = {}
    for name, a, b in zip(names, real, fake, strict=True):
        if a.shape != b.shape:
            raise ValueError(
                f"real and fake patch sets differ in shape at level {name}: {tuple(a.shape)} vs "
                f"{tuple(b.shape)}; use the same number of real and fake images of the same size"
            )
        dist = [sliced_wasserstein_distance(a, b, random_directions(a.shape[1], n_directions, g)).mean()
                for _ in range(n_repeats)]
        result[f"swd_{name}"] = float(torch.stack(dist).mean()) * 1e3
    result["swd_avg"] = float(np.mean(list(result.values())))
    return result


def level_names(height: int, width: int, min_resolution: int = 16) -> list[str]:
    """Names of the pyramid levels: the side for square images ("64"), else "HxW"."""
    return [str(h) if h == w else f"{h}x{w}" for h, w in pyramid_resolutions(height, width, min_resolution)]


def sliced_wasserstein(real_images: torch.Tensor | np.ndarray, fake_images: torch.Tensor | np.ndarray,
                       patches_per_image: int = 128, patch_size: int = 7, n_directions: int = 128,
                       n_repeats: int = 4, seed: int = 0, min_resolution: int = 16) -> dict[str, float]:
    """SWD x 1e3 between two equal-size sets of N x C x H x W images (uint8, or float in [-1, 1]).

    Returns {"swd_<res>": ... per pyramid level, finest first, "swd_avg": mean over levels}; see the module
    docstring for the protocol. The defaults are the paper's: 128 patches of 7 x 7 per image, 4 repeats of 128
    random directions, levels down to 16 x 16. Both sets must have the same shape (the reference's condition
    for comparing sorted projections directly).
    """
    if tuple(real_images.shape) != tuple(fake_images.shape):
        raise ValueError(
            f"real and fake images differ in shape: {tuple(real_images.shape)} vs "
            f"{tuple(fake_images.shape)}; use the same number of images of the same size"
        )
    real, fake = (
        patch_descriptors(images, patches_per_image, patch_size, min_resolution, seed)
        for images in (real_images, fake_images)
    )
    names = level_names(real_images.shape[-2], real_images.shape[-1], min_resolution)
    return sliced_wasserstein_descriptors(real, fake, names, n_directions, n_repeats, seed)
