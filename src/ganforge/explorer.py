"""A trained run loaded for `ganforge explore` (its Generator, asked for abilities, never for its family), and
the files exploring writes: the PNG and the GIF beside it, never replaced without --force, each picture
labelled (viz.labels) and described in one printed line."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from ganforge import runs, viz
from ganforge.errors import UserError
from ganforge.generator import Encodes, Generator, SamplesCodes, require


@dataclass
class Explorer:
    """A run's Generator loaded for exploring: codes in, images out."""

    g: Generator
    run_dir: Path

    @classmethod
    def load(cls, run_dir: Path | str, checkpoint: str | None = None, device: str = "auto") -> Explorer:
        run_dir = runs.require_run(run_dir)
        g = runs.load_generator(run_dir, checkpoint, device)
        require(g, SamplesCodes, f"{run_dir} has no latent space to explore",
                "translate or predict with it (`ganforge translate`, `ganforge predict`)")
        if g.data["kind"] != "image":
            raise UserError("ganforge explore draws pictures of image runs; this run's data are points")
        return cls(g, run_dir)

    @property
    def step(self) -> int:
        return self.g.step

    @property
    def data(self) -> dict:
        return self.g.data

    @property
    def device(self) -> torch.device:
        return self.g.device

    def codes(self, seed: int, n: int) -> dict[str, torch.Tensor]:
        """g.noise(n) from a generator seeded `seed`, on the generator's device."""
        return {k: v.to(self.device) for k, v in self.g.noise(n, torch.Generator().manual_seed(seed)).items()}

    def seed_codes(self, seeds: list[int]) -> dict[str, torch.Tensor]:
        """One sample per seed: row 0 of the noise each seed draws."""
        return self.g.codes(seeds)

    def decode(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.g(inputs).cpu()

    def encode_files(self, paths: list[str]) -> torch.Tensor:
        """The codes of image files (of the run's size and channels) through the generator's encoder."""
        require(self.g, Encodes, "--images needs an encoder", "use --seeds")
        from ganforge.translating import read_image

        shape = tuple(self.g.spec.shape)
        x = torch.stack([read_image(Path(p), shape[0]) for p in paths])
        if tuple(x.shape[1:]) != shape:
            raise UserError(f"--images must be {shape[1]}x{shape[2]} like the run's data, got "
                            f"{x.shape[2]}x{x.shape[3]}")
        return self.g.encode(x).to(self.device)

    def classifier(self):
        from ganforge.metrics.classifier import SHIPPED
        from ganforge.metrics.features import build_extractor, classifier_for

        if classifier_for(self.data["name"]) is None:
            raise UserError(f"this picks samples by what a domain classifier reads in them, and there is none for "
                            f"{self.data['name']} (have: {', '.join(SHIPPED)}); give a run trained on one of those")
        return build_extractor("classifier", self.data["name"], device=str(self.device))


# -- output files ------------------------------------------------------------------------------------------


def output_paths(ex: Explorer, out: Path | str | None, default_stem: str, gif: bool, force: bool) -> tuple[Path, Path | None]:
    """(PNG, GIF or None): `out` names the PNG (the GIF sits beside it); default RUN/explore/<stem>.png.
    Refuses to replace either without `force`, before anything is computed."""
    png = Path(out) if out is not None else ex.run_dir / "explore" / f"{default_stem}.png"
    if png.suffix.lower() != ".png":
        raise UserError(f"--out {png}: give a .png path" + (" (a .gif of the same name is written beside it)"
                                                            if gif else ""))
    animation = png.with_suffix(".gif") if gif else None
    for path in (png, animation):
        if path is not None and path.exists() and not force:
            raise UserError(f"{path} exists; add --force to overwrite it, or give another --out")
    png.parent.mkdir(parents=True, exist_ok=True)
    return png, animation


def save_frames_gif(frames: list[torch.Tensor], path: Path, titles: list[str], names: list[str] | None = None,
                    duration_ms: int = 120, nrow: int | None = None) -> Path:
    """An animated GIF, played forward and back, of a grid per frame (default up to 8 images to a row): frame
    i titled titles[i], its images named by `names` above them where they fit one row."""
    nrow = nrow or min(len(frames[0]), 8)
    names = names if names is not None and len(names) <= nrow else None
    with tempfile.TemporaryDirectory() as tmp:
        paths = [viz.save_picture(viz.labelled(viz.Grid.of(f, nrow=nrow), columns=names, title=title),
                                  Path(tmp) / f"{i:04d}.png") for i, (f, title) in enumerate(zip(frames, titles))]
        paths = paths + paths[-2:0:-1]
        return viz.save_animation(paths, path, duration_ms=duration_ms, max_frames=len(paths))


def tell(png: Path, what: str) -> None:
    """The one line saying what a picture shows, printed beside the files `ganforge explore` lists."""
    print(f"{png}: {what}")


def fractions(t: list[float]) -> list[str]:
    """Column captions of a path's fractions: t=0 and t=1 at the ends, the fraction between."""
    return [f"t={x:.2g}" if i in (0, len(t) - 1) else f"{x:.2g}" for i, x in enumerate(t)]
