"""Draw samples from a trained run: rebuild its family from the run folder, load weights, decode."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ganforge import runs, viz
from ganforge.errors import UserError
from ganforge.families import Family
from ganforge.train.samples import as_arrays, generate, snapshot_1d


def load_generator(run_dir: Path, checkpoint: Path | str | None = None, device: str = "auto") -> tuple[Family, dict, int]:
    """(family in eval mode with weights loaded, run.json's data description, checkpoint step)."""
    return runs.load_family(run_dir, checkpoint, device)


def parse_options(items: list[str] | tuple[str, ...]) -> dict[str, str]:
    """`--option NAME=VALUE` items -> {name: value}."""
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UserError(f"--option expects NAME=VALUE, got {item!r}")
        out[name.strip()] = value.strip()
    return out


def sample_to_file(run_dir: Path, out: Path, n: int | None = None, seed: int = 0,
                   checkpoint: Path | str | None = None, device: str = "auto", class_name: str | None = None,
                   attrs: str | None = None, options: dict[str, str] | None = None) -> Path:
    """Samples of a run into a PNG or .npz. `options` are the family's sampling options (SAMPLE_OPTIONS);
    `class_name` and `attrs` are the GAN's --class and --attr. A conditional run without them draws a PNG grid
    with one row per class (the same noise down each column), or an .npz with its labels cycling."""
    if out.suffix.lower() not in (".png", ".npz"):
        raise UserError(f"--out {out}: use a .png (grid or scatter plot) or .npz (raw samples) file name")
    if n is not None and n < 1:
        raise UserError(f"--n must be at least 1, got {n}")
    options = dict(options or {})
    options.update({k: v for k, v in (("class", class_name), ("attr", attrs)) if v is not None})
    family, data, step = load_generator(run_dir, checkpoint, device)
    is_image, npz = data["kind"] == "image", out.suffix.lower() == ".npz"
    dev = next(family.parameters()).device
    inputs, columns = family.sample_inputs(n, torch.Generator().manual_seed(seed), picture=is_image and not npz,
                                           **options)
    inputs = {k: v.to(dev) for k, v in inputs.items()}
    fake = generate(family, inputs).cpu()
    out.parent.mkdir(parents=True, exist_ok=True)
    if npz:
        x = viz.to_uint8(fake).numpy() if is_image else fake.numpy()
        extra = {"c": inputs["c"].cpu().numpy()} if "c" in inputs else {}  # the condition vector of each sample
        tmp = out.with_name(f".tmp-{out.name}")
        with open(tmp, "wb") as f:
            np.savez(f, x=x, step=step, seed=seed, **extra)
        tmp.replace(out)
        return out
    if is_image:
        return viz.save_grid(fake, out, nrow=columns, upscale=2)
    title = f"{data['name']}, step {step}, {len(fake)} samples"
    if fake.shape[1] == 2:
        modes = np.asarray(data["modes"]) if data["modes"] is not None else None
        return viz.plot_samples_2d(fake.numpy(), out, modes=modes, sigma=data["sigma"], title=title)
    real = runs.load_data(runs.read_config(run_dir)).x[:, 0]  # toy data is generated, so p_data is redrawn cheaply
    snap = snapshot_1d(family, real, fake[:, 0], step)
    return viz.plot_samples_1d(out, real.numpy(), [as_arrays(snap)], title=title)
