"""Where and how computation runs: the device, the seeds, the autocast precision."""

from __future__ import annotations

import random

import numpy as np
import torch

from ganforge import hardware
from ganforge.errors import UserError


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"train.device is '{name}' but no CUDA device is available; use --device cpu")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def chosen_precision(precision: str, device: torch.device, data_kind: str) -> str:
    """What train.precision=auto means for a new run on `device`: bf16 autocast where the device computes in
    bf16 natively (a CUDA GPU that has it; a CPU with AMX or AVX512-BF16, read from its feature flags) and the
    data are images or clips, else fp32. Toy points stay in fp32: bf16 keeps 8 bits of mantissa, a blur of
    ~0.4% on the coordinates whose modes the toy metrics count, and their small MLPs gain nothing from it.
    Any other value is returned as it is. A new run records the answer in its config.yaml, so that a resume
    on another machine keeps the run's arithmetic."""
    if precision != "auto":
        return precision
    return "bf16" if hardware.native_bf16(device) and data_kind in ("image", "video") else "fp32"


def autocast_dtype(precision: str, device: torch.device, data_kind: str) -> torch.dtype | None:
    """The autocast dtype of train.precision on `device` (auto: chosen_precision's answer for `data_kind`)."""
    precision = chosen_precision(precision, device, data_kind)
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def auto_precision_before_recording(device: torch.device) -> str:
    """What `auto` meant in a run folder's config.yaml of before a run recorded its choice: bf16 on a CUDA
    device that has it, else fp32. A resume of such a run keeps that arithmetic, whatever this CPU has."""
    return "bf16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "fp32"


def precision_name(dtype: torch.dtype | None) -> str:
    return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]
