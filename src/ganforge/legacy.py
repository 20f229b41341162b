"""Bringing old PyTorch .pt weights into safetensors, the only weights format ganforge reads.

A .pt file is a pickle, and unpickling runs code chosen by whoever wrote the file, so ganforge refuses it
unless the user says `--trust-pickle`; even then it is read with torch.load(weights_only=True), which only
rebuilds tensors and plain containers, never arbitrary objects.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch
from safetensors.torch import save

from ganforge.errors import UserError
from ganforge.files import atomic_write


def flatten_tensors(obj: object, prefix: str = "") -> dict[str, torch.Tensor]:
    """Nested dicts / lists of tensors -> {"a.b.0": tensor}; anything that is not a tensor is left out."""
    if isinstance(obj, torch.Tensor):
        return {prefix.rstrip("."): obj}
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, (list, tuple)) else ()
    out: dict[str, torch.Tensor] = {}
    for key, value in items:
        out.update(flatten_tensors(value, f"{prefix}{key}."))
    return out


def convert_pt(src: Path, out: Path, trust_pickle: bool = False) -> dict[str, torch.Tensor]:
    """Read the tensors of an old .pt / .pth file and write them to `out` as safetensors."""
    src, out = Path(src), Path(out)
    if not trust_pickle:
        raise UserError(f"{src} is a pickle, which can run code when loaded; ganforge reads it only with "
                        "--trust-pickle (and then only tensors, through torch.load(weights_only=True))")
    if out.suffix != ".safetensors":
        raise UserError(f"--out {out}: the converted weights go in a .safetensors file")
    try:
        obj = torch.load(src, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise UserError(f"{src}: no such file") from None
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        raise UserError(f"{src}: not plain PyTorch weights ({first}); only tensors and containers are read") from None
    tensors = flatten_tensors(obj)
    if not tensors:
        raise UserError(f"{src}: holds no tensors")
    with atomic_write(out) as f:
        f.write(save({k: v.detach().contiguous() for k, v in tensors.items()}))
    return tensors
