"""Draw samples from a trained run: rebuild its networks from config.yaml and run.json, load weights."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ganforge import viz
from ganforge.errors import UserError
from ganforge.families import DataSpec, Family, build_family
from ganforge.families.gan import default_condition
from ganforge.train import checkpoint as ckpt
from ganforge.train.loop import load_data, read_run_config, resolve_device
from ganforge.train.samples import GRID_COLUMNS, as_arrays, generate, grid_rows, label_grid, snapshot_1d


def load_generator(run_dir: Path, checkpoint: Path | str | None = None, device: str = "auto") -> tuple[Family, dict, int]:
    """(family in eval mode with weights loaded, run.json's data description, checkpoint step)."""
    cfg = read_run_config(run_dir)
    info_path = Path(run_dir) / "run.json"
    if not info_path.is_file():
        raise UserError(f"{run_dir} has no run.json; it was not made by `ganforge train`")
    data = json.loads(info_path.read_text())["data"]
    spec = DataSpec(tuple(data["shape"]), data["kind"] == "image", data["n_classes"], tuple(data.get("attr_names", ())))
    family = build_family(cfg, spec)
    path = ckpt.resolve_checkpoint(run_dir, checkpoint)
    model, _, _ = ckpt.load_checkpoint(path, model_only=True)
    for name, net in family.networks.items():
        net.load_state_dict(ckpt.split_prefixed(model, f"{name}."))
    if any(k.startswith("G_ema.") for k in model):  # trained with train.ema: sample from the average
        family.networks["G"].load_state_dict(ckpt.split_prefixed(model, "G_ema."))
    step = ckpt.checkpoint_step(path)
    return family.to(resolve_device(device)).eval(), data, step


def requested_condition(family: Family, data: dict, n: int, class_name: str | None = None,
                        attrs: str | None = None, seed: int = 0) -> torch.Tensor | None:
    """The condition vectors of `ganforge sample --class K` (an index or a class name) or
    `--attr name=1,name=0`; attributes not named are drawn with their frequency in the training data."""
    if class_name is None and attrs is None:
        return None
    flag = "--class" if class_name is not None else "--attr"
    if not family.conditional:
        raise UserError(f"{flag} needs a conditional run (model.condition cgan, acgan or projection); "
                        f"this run was trained with model.condition=none")
    if class_name is not None and attrs is not None:
        raise UserError("give --class or --attr, not both")
    names = data.get("attr_names") or []
    if class_name is not None:
        if names:
            raise UserError(f"this run is conditioned on attributes ({', '.join(names[:8])}); use --attr name=1,...")
        classes = data.get("class_names") or [str(i) for i in range(family.n_cond)]
        if class_name in classes:
            k = classes.index(class_name)
        elif class_name.isdigit() and int(class_name) < family.n_cond:
            k = int(class_name)
        else:
            raise UserError(f"--class {class_name}: not a class of this run; classes: "
                            f"{', '.join(f'{i} ({c})' for i, c in enumerate(classes))}")
        c = torch.zeros(n, family.n_cond)
        c[:, k] = 1
        return c
    if not names:
        raise UserError("this run is conditioned on classes, not attributes; use --class K")
    means = torch.tensor(data.get("attr_means") or [0.5] * len(names))
    c = (torch.rand(n, len(names), generator=torch.Generator().manual_seed(seed + 1)) < means).float()
    for item in attrs.split(","):
        key, sep, value = (t.strip() for t in item.partition("="))
        if not sep or value not in ("0", "1"):
            raise UserError(f"--attr {attrs}: write name=0 or name=1, separated by commas (got '{item.strip()}')")
        if key not in names:
            shown = ", ".join(names[:40]) + (" ..." if len(names) > 40 else "")
            raise UserError(f"--attr: unknown attribute '{key}'; this run's attributes: {shown}")
        c[:, names.index(key)] = float(value)
    return c


def sample_to_file(run_dir: Path, out: Path, n: int | None = None, seed: int = 0,
                   checkpoint: Path | str | None = None, device: str = "auto", class_name: str | None = None,
                   attrs: str | None = None) -> Path:
    """Samples of a run into a PNG or .npz. A conditional run without --class/--attr draws a PNG grid with one
    row per class (the same noise down each column), or an .npz with its labels cycling through the classes."""
    if out.suffix.lower() not in (".png", ".npz"):
        raise UserError(f"--out {out}: use a .png (grid or scatter plot) or .npz (raw samples) file name")
    if n is not None and n < 1:
        raise UserError(f"--n must be at least 1, got {n}")
    family, data, step = load_generator(run_dir, checkpoint, device)
    cfg = read_run_config(run_dir)
    is_image, npz = data["kind"] == "image", out.suffix.lower() == ".npz"
    dev = next(family.parameters()).device
    c = requested_condition(family, data, n or 64, class_name, attrs, seed)
    columns = None
    if family.conditional and c is None and is_image and not npz:
        columns = -(-n // grid_rows(family)) if n else GRID_COLUMNS  # n samples in all, one row per label
        z = torch.randn(columns, cfg.model.z_dim, generator=torch.Generator().manual_seed(seed))
        z, c, columns = label_grid(family, z.to(dev), columns=columns)
    else:
        z = torch.randn(n or 64, cfg.model.z_dim, generator=torch.Generator().manual_seed(seed)).to(dev)
        if family.conditional and c is None:
            c = default_condition(len(z), family.n_cond, family.attributes)
    fake = generate(family, z, None if c is None else c.to(dev)).cpu()
    out.parent.mkdir(parents=True, exist_ok=True)
    if npz:
        x = viz.to_uint8(fake).numpy() if is_image else fake.numpy()
        extra = {} if c is None else {"c": c.cpu().numpy()}  # the condition vector of each sample
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
    real = load_data(cfg).x[:, 0]  # toy data is generated, so p_data is redrawn cheaply
    snap = snapshot_1d(family, real, fake[:, 0], step)
    return viz.plot_samples_1d(out, real.numpy(), [as_arrays(snap)], title=title)
