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
from ganforge.generator import Encodes, Generator, Projects, SamplesCodes, require


@dataclass
class Explorer:
    """A run's Generator loaded for exploring: codes in, images out. `space` is the code space of projected codes
    being explored (StyleGAN's "w" or "w+"); the samples drawn beside them are given in it too."""

    g: Generator
    run_dir: Path
    space: str = "z"

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

    @property
    def key(self) -> str:
        """The name of the code that paths, arithmetic and attribute vectors move ("z", or StyleGAN's "w")."""
        return self.g.moved(self.space)[0] if self.space != "z" else "z"

    def in_space(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return inputs if self.space == "z" else self.g.codes_in(inputs, self.space)

    def codes(self, seed: int, n: int) -> dict[str, torch.Tensor]:
        """g.noise(n) from a generator seeded `seed`, on the generator's device (in the explored space)."""
        noise = self.g.noise(n, torch.Generator().manual_seed(seed))
        return self.in_space({k: v.to(self.device) for k, v in noise.items()})

    def seed_codes(self, seeds: list[int]) -> dict[str, torch.Tensor]:
        """One sample per seed: row 0 of the noise each seed draws."""
        return self.in_space(self.g.codes(seeds))

    def decode(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.g(inputs).cpu()

    def encode_files(self, paths: list[str]) -> dict[str, torch.Tensor]:
        """The codes of image files (of the run's channels): through the generator's encoder where it has one
        (files of the run's size), else projected (any size: ganforge.projection, its default settings)."""
        from ganforge.translating import read_image

        if not isinstance(self.g, Encodes):
            require(self.g, Projects, "--images needs an encoder or a generator that projects", "use --seeds")
            from ganforge.projecting import read_inputs
            from ganforge.projection import project

            x, _ = read_inputs([Path(p) for p in paths], tuple(self.g.spec.shape))
            result = project(self.g, x)
            self.space = result.space
            return {k: v.to(self.device) for k, v in result.codes.items()}
        shape = tuple(self.g.spec.shape)
        x = torch.stack([read_image(Path(p), shape[0]) for p in paths])
        if tuple(x.shape[1:]) != shape:
            raise UserError(f"--images must be {shape[1]}x{shape[2]} like the run's data, got "
                            f"{x.shape[2]}x{x.shape[3]}")
        return {"z": self.g.encode(x).to(self.device)}

    def load_codes(self, paths: list[str]) -> tuple[dict[str, torch.Tensor], list[str]]:
        """The codes of .npz files (`ganforge project`'s, or a folder of them), a row each, checked against the
        run; and a name per row (the file's, numbered where a file holds several)."""
        from ganforge.projecting import load_code

        files = [f for p in map(Path, paths) for f in (sorted(p.rglob("*.npz")) if p.is_dir() else [p])]
        if not files:
            raise UserError(f"--codes {' '.join(paths)}: no .npz files there")
        parts, names, spaces = [], [], set()
        for f in files:
            codes, about = load_code(f)
            rows = len(next(iter(codes.values())))
            spaces.add(about.get("space") or ("z" if "w" not in codes else "w+" if codes["w"].dim() == 3 else "w"))
            parts.append(codes)
            names += [f.stem] if rows == 1 else [f"{f.stem}[{i}]" for i in range(rows)]
            try:
                self.g({k: v[:1].to(self.device) for k, v in codes.items()})
            except (RuntimeError, KeyError, ValueError, IndexError) as e:
                raise UserError(f"{f}: its codes ({', '.join(codes)}) do not fit this {self.g.name} run's generator "
                                f"({str(e).splitlines()[0][:120]}); project with this run") from None
        if len(spaces) > 1 or len({tuple(sorted(c)) for c in parts}) > 1:
            raise UserError(f"--codes: the files hold codes of different kinds ({', '.join(sorted(spaces))}); "
                            "give codes projected the same way")
        self.space = spaces.pop()
        return {k: torch.cat([c[k] for c in parts]).to(self.device) for k in parts[0]}, names

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
