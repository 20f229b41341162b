"""Pictures of what the generator makes, drawn from fixed noise so frames are comparable over training."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ganforge import viz
from ganforge.data import Dataset
from ganforge.families import Family
from ganforge.files import atomic_write, write_text_atomic

GRID_UPSCALE = 2  # 28x28 images are tiny in a README or a file browser
# evaluation values drawn in curves.png (when eval.every is on), one panel each
CURVE_EVAL_KEYS = ("eval_fid", "eval_fd_classifier", "eval_kid_mean", "eval_kd_classifier_mean", "eval_precision",
                   "eval_recall", "eval_classifier_score_mean", "eval_modes_captured", "eval_high_quality",
                   "eval_reverse_kl")
REALS_SHOWN = 64  # real training images in reals.png, beside the samples


@torch.no_grad()
def generate(family: Family, inputs: dict[str, torch.Tensor], batch: int = 512, **options) -> torch.Tensor:
    """Samples from the family's sampling network for `inputs` (as Family.noise draws them), in eval mode
    (BatchNorm running statistics) and batches of `batch`; the family's mode is restored."""
    was_training = family.training
    family.eval()
    try:
        n = len(next(iter(inputs.values())))
        parts = [{k: v[i : i + batch] for k, v in inputs.items()} for i in range(0, n, batch)]
        return torch.cat([family.decode(part, **options) for part in parts])
    finally:
        family.train(was_training)


@torch.no_grad()
def d_curve(family: Family, x: torch.Tensor) -> torch.Tensor:
    was_training = family.training
    family.eval()
    try:
        return family.d_prob(x)
    finally:
        family.train(was_training)


def snapshot_1d(family: Family, real: torch.Tensor, fake: torch.Tensor, step: int) -> dict:
    """1D data: D(x) on a grid spanning the data, and the generated points, for the Fig. 1 picture."""
    grid = torch.linspace(float(real.min()) - 1.0, float(real.max()) + 1.0, 200, device=fake.device)
    d = d_curve(family, grid[:, None])
    return {"step": step, "x": grid.tolist(), "d": d.flatten().tolist(), "fake": fake.tolist()}


class SampleWriter:
    """Writes samples/step_NNNNNN.png at each sample step and the final pictures at the end of a run."""

    def __init__(self, run_dir: Path, dataset: Dataset, fixed: dict[str, torch.Tensor]):
        self.dir = Path(run_dir) / "samples"
        self.dataset = dataset
        self.fixed = fixed  # the sampling network's inputs, the same at every step
        self.snapshot_path = self.dir / "snapshots_1d.json"  # toy-1d: D(x) and p_g over time

    def write_reals(self, run_dir: Path, seed: int = 0) -> Path | None:
        """reals.png: a grid of training images drawn at random, what the model is asked to make."""
        ds = self.dataset
        if ds.kind != "image":
            return None
        pick = torch.randperm(len(ds.x), generator=torch.Generator().manual_seed(seed))[:REALS_SHOWN]
        return viz.save_grid(ds.x[pick.sort().values], Path(run_dir) / "reals.png", upscale=GRID_UPSCALE)

    def frame_path(self, step: int) -> Path:
        return self.dir / f"step_{step:06d}.png"

    def write(self, family: Family, step: int) -> Path:
        path = self.frame_path(step)
        ds = self.dataset
        family.pictures(ds, self.dir, step)
        inputs, columns = family.grid(self.fixed)
        fake = generate(family, inputs)
        if ds.kind in ("image", "video"):  # video: the family lays frames out as images
            images, columns = family.picture(inputs, fake, columns)
            viz.save_grid(images, path, nrow=columns, upscale=GRID_UPSCALE)
        elif fake.shape[1] == 2:
            viz.plot_samples_2d(fake.cpu().numpy(), path, modes=_np(ds.modes), sigma=ds.sigma,
                                real=ds.x[:2000].numpy(), title=f"{ds.name}, step {step}")
        else:
            snapshots = self.snapshots()
            snapshots.append(snapshot_1d(family, self.dataset.x[:, 0], fake[:, 0], step))
            self.dir.mkdir(parents=True, exist_ok=True)
            write_text_atomic(self.snapshot_path, json.dumps(snapshots))
            viz.plot_samples_1d(path, ds.x[:, 0].numpy(), [as_arrays(s) for s in snapshots[-1:]],
                                title=f"{ds.name}, step {step}")
        return path

    def snapshots(self) -> list[dict]:
        if self.snapshot_path.exists():
            return json.loads(self.snapshot_path.read_text())
        return []

    def truncate(self, step: int) -> None:
        """On resume, forget what was drawn after the checkpoint being resumed."""
        if self.snapshot_path.exists():
            kept = [s for s in self.snapshots() if s["step"] <= step]
            write_text_atomic(self.snapshot_path, json.dumps(kept))
        for path in self.dir.glob("*_*.png"):
            if path.stem.rsplit("_", 1)[1].isdigit() and int(path.stem.rsplit("_", 1)[1]) > step:
                path.unlink()

    def finish(self, run_dir: Path, family: Family, step: int, records: list[dict]) -> dict[str, Path]:
        """Final grid, a progress animation and strip, and the training curves."""
        run_dir = Path(run_dir)
        out = {"final": run_dir / "samples.png"}
        frames = sorted(self.dir.glob("step_*.png"))
        if self.dataset.kind == "toy" and self.dataset.x.shape[1] == 1:
            snapshots = [as_arrays(s) for s in self.snapshots()]
            viz.plot_samples_1d(out["final"], self.dataset.x[:, 0].numpy(), snapshots, title=self.dataset.name)
        else:
            final = frames[-1] if frames and frames[-1] == self.frame_path(step) else self.write(family, step)
            with atomic_write(out["final"]) as f:
                f.write(final.read_bytes())
            frames = sorted(self.dir.glob("step_*.png"))
        if len(frames) > 1:
            out["animation"] = viz.save_animation(frames, run_dir / "progress.gif")
            # save_strip picks 8 evenly spaced frames itself; labels go with every frame. Toy frames are plots
            # titled with their step, so they get no label over them
            out["strip"] = viz.save_strip(frames, run_dir / "progress.png", n=8,
                                          labels=[f"step {int(p.stem.split('_')[1])}" for p in frames],
                                          label=self.dataset.kind == "image")
        for name in sorted({p.stem.rsplit("_", 1)[0] for p in self.dir.glob("*_*.png")} - {"step"}):
            series = sorted(self.dir.glob(f"{name}_[0-9]*.png"))  # a family's own pictures (Family.pictures)
            with atomic_write(run_dir / f"{name}.png") as f:
                f.write(series[-1].read_bytes())
            out[name] = run_dir / f"{name}.png"
            if len(series) > 1:
                out[f"{name}_animation"] = viz.save_animation(series, run_dir / f"{name}.gif")
        if records:
            keys = sorted({k for r in records for k in r if k.startswith(("loss", "d_", "critic_"))})
            keys += sorted({k for r in records for k in r if k in ("gp", "r1", "dragan")})
            keys += sorted({k for r in records for k in r if k in CURVE_EVAL_KEYS})
            out["curves"] = viz.plot_curves(records, run_dir / "curves.png", keys, title="training curves")
        return out


def _np(t: torch.Tensor | None):
    return None if t is None else t.cpu().numpy()


def as_arrays(snapshot: dict) -> dict:
    return {k: (np.asarray(v) if isinstance(v, list) else v) for k, v in snapshot.items()}
