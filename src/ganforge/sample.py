"""Draw samples from a trained run: rebuild its networks from config.yaml and run.json, load weights."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ganforge import viz
from ganforge.errors import UserError
from ganforge.families import DataSpec, Family, build_family
from ganforge.train import checkpoint as ckpt
from ganforge.train.loop import load_data, read_run_config, resolve_device
from ganforge.train.samples import as_arrays, generate, snapshot_1d


def load_generator(run_dir: Path, checkpoint: Path | str | None = None, device: str = "auto") -> tuple[Family, dict, int]:
    """(family in eval mode with weights loaded, run.json's data description, checkpoint step)."""
    cfg = read_run_config(run_dir)
    info_path = Path(run_dir) / "run.json"
    if not info_path.is_file():
        raise UserError(f"{run_dir} has no run.json; it was not made by `ganforge train`")
    data = json.loads(info_path.read_text())["data"]
    spec = DataSpec(tuple(data["shape"]), data["kind"] == "image", data["n_classes"])
    family = build_family(cfg, spec)
    path = ckpt.resolve_checkpoint(run_dir, checkpoint)
    model, _, _ = ckpt.load_checkpoint(path, model_only=True)
    for name, net in family.networks.items():
        net.load_state_dict(ckpt.split_prefixed(model, f"{name}."))
    if any(k.startswith("G_ema.") for k in model):  # trained with train.ema: sample from the average
        family.networks["G"].load_state_dict(ckpt.split_prefixed(model, "G_ema."))
    step = ckpt.checkpoint_step(path)
    return family.to(resolve_device(device)).eval(), data, step


def sample_to_file(run_dir: Path, out: Path, n: int = 64, seed: int = 0, checkpoint: Path | str | None = None,
                   device: str = "auto") -> Path:
    if out.suffix.lower() not in (".png", ".npz"):
        raise UserError(f"--out {out}: use a .png (grid or scatter plot) or .npz (raw samples) file name")
    if n < 1:
        raise UserError(f"--n must be at least 1, got {n}")
    family, data, step = load_generator(run_dir, checkpoint, device)
    cfg = read_run_config(run_dir)
    z = torch.randn(n, cfg.model.z_dim, generator=torch.Generator().manual_seed(seed))
    fake = generate(family, z.to(next(family.parameters()).device)).cpu()
    out.parent.mkdir(parents=True, exist_ok=True)
    is_image = data["kind"] == "image"
    if out.suffix.lower() == ".npz":
        x = viz.to_uint8(fake).numpy() if is_image else fake.numpy()
        tmp = out.with_name(f".tmp-{out.name}")
        with open(tmp, "wb") as f:
            np.savez(f, x=x, step=step, seed=seed)
        tmp.replace(out)
        return out
    if is_image:
        return viz.save_grid(fake, out, upscale=2)
    title = f"{data['name']}, step {step}, {n} samples"
    if fake.shape[1] == 2:
        modes = np.asarray(data["modes"]) if data["modes"] is not None else None
        return viz.plot_samples_2d(fake.numpy(), out, modes=modes, sigma=data["sigma"], title=title)
    real = load_data(cfg).x[:, 0]  # toy data is generated, so p_data is redrawn cheaply
    snap = snapshot_1d(family, real, fake[:, 0], step)
    return viz.plot_samples_1d(out, real.numpy(), [as_arrays(snap)], title=title)
