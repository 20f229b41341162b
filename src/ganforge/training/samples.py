"""Pictures of what the generator makes, drawn from fixed noise so frames are comparable over training."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ganforge import viz
from ganforge.data import Dataset
from ganforge.families import Family
from ganforge.files import atomic_write, write_text_atomic
from ganforge.sampling import as_arrays, snapshot_1d

GRID_UPSCALE = 2  # 28x28 images are tiny in a README or a file browser
# evaluation values drawn in curves.png (when eval.every is on), one panel each
CURVE_EVAL_KEYS = ("eval_fid", "eval_fd_classifier", "eval_kid_mean", "eval_kd_classifier_mean", "eval_precision",
                   "eval_recall", "eval_classifier_score_mean", "eval_modes_captured", "eval_high_quality",
                   "eval_reverse_kl")
REALS_SHOWN = 64  # real training images in reals.png, beside the samples


class SampleWriter:
    """Writes samples/step_NNNNNN.png at each sample step and the final pictures at the end of a run."""

    def __init__(self, run_dir: Path, dataset: Dataset, fixed: dict[str, torch.Tensor]):
        self.dir = Path(run_dir) / "samples"
        self.dataset = dataset
        self.fixed = fixed  # the sampling network's inputs, the same at every step
        self.snapshot_path = self.dir / "snapshots_1d.json"  # toy-1d: D(x) and p_g over time

    def write_reals(self, run_dir: Path, seed: int = 0) -> Path | None:
        """reals.png: a grid of training images drawn at random, what the model is asked to make, titled with what
        was done to the files to make them the training size (reals_caption)."""
        ds = self.dataset
        if ds.kind != "image":
            return None
        pick = torch.randperm(len(ds.x), generator=torch.Generator().manual_seed(seed))[:REALS_SHOWN]
        path = Path(run_dir) / "reals.png"
        caption = reals_caption(ds, len(pick))
        if caption is None:
            return viz.save_grid(ds.x[pick.sort().values], path, upscale=GRID_UPSCALE)
        return viz.save_labelled_grid(ds.x[pick.sort().values], path, title=caption, upscale=GRID_UPSCALE)

    def frame_path(self, step: int) -> Path:
        return self.dir / f"step_{step:06d}.png"

    def write(self, family: Family, step: int) -> Path:
        path = self.frame_path(step)
        ds = self.dataset
        family.pictures(ds, self.dir, step)
        g = family.generator()
        inputs, columns = g.grid(self.fixed)
        fake = g(inputs)
        if ds.kind in ("image", "video"):  # video: the family lays frames out as images
            images, columns = g.picture(inputs, fake, columns)
            rows = g.row_labels(inputs, columns)  # text-to-image: each row's caption beside it
            if rows:
                viz.save_labelled_grid(images, path, nrow=columns, rows=rows, upscale=GRID_UPSCALE)
            else:
                viz.save_grid(images, path, nrow=columns, upscale=GRID_UPSCALE)
        elif fake.shape[1] == 2:
            viz.plot_samples_2d(fake.cpu().numpy(), path, modes=_np(ds.modes), sigma=ds.sigma,
                                real=ds.x[:2000].numpy(), title=f"{ds.name}, step {step}")
        else:
            snapshots = self.snapshots()
            snapshots.append(snapshot_1d(g, self.dataset.x[:, 0], fake[:, 0], step))
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
        # not hidden names: a write killed midway leaves its .tmp-* file (ganforge.files)
        for name in sorted({p.stem.rsplit("_", 1)[0] for p in self.dir.glob("[!.]*_*.png")} - {"step"}):
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


def reals_caption(dataset: Dataset, shown: int) -> str | None:
    """reals.png's title: how many training images it shows and what was done to them (data/fitting.py), or None
    where loading does not say (image-to-image data)."""
    if dataset.fitting is None:
        return None
    return f"{shown:,} of {len(dataset.x):,} training images, as trained on: {dataset.fitting}"


def _np(t: torch.Tensor | None):
    return None if t is None else t.cpu().numpy()
