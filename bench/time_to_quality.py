"""Time to quality: ganforge's default recipe beside the textbook DCGAN loop, on the same cores and data.

Each path trains until the last wall-clock mark (default 1, 2, 4, 8, 15, 30 minutes of training), and at
each mark draws 2,000 samples from fixed noise with the clock stopped; afterwards every mark is scored with
the classifier FD (fd_classifier: ganforge's Fashion-MNIST classifier features) of those samples against
2,000 test images. Paths:

- textbook: the loop of pytorch/examples dcgan/main.py (ganforge.throughput.textbook_step: a DataLoader
  with 2 workers, D on real then on fake, `.item()` every step) with the example's recipe (Adam 2e-4,
  betas 0.5/0.999, batch 64) on the same 28x28 DCGAN networks;
- ganforge: the `ganforge train` default preset (or --config), its own loop, the sampling network it keeps
  (the EMA of G's weights when the preset has one).

Both sample in eval mode (BatchNorm running statistics). Samples are cached per path and mark under --out,
so a finished path is not trained again; the table and docs/images/time-to-quality.png are written from
the cache. A cached mark records what made it (the path, ganforge's --config, --n, the noise seed) and is
used only for the same: the ganforge path of another --config has its own folder (ganforge-progan-fashion).

    python bench/time_to_quality.py [--marks 1,2,4,8,15,30] [--paths textbook,ganforge] [--config default]
                                    [--out runs/time-to-quality] [--n 2000] [--plot docs/images/time-to-quality.png]
                                    [--score-only] [--save-run DIR] [--strip PNG]

Two paths side by side on one thread each: run one process per path (OMP_NUM_THREADS=1, --paths textbook,
then --paths ganforge), then --score-only with both.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from ganforge import runs, viz
from ganforge.config import load_config
from ganforge.metrics.features import build_extractor
from ganforge.metrics.scoring import score_images
from ganforge.textbook import epochs, textbook_loader, textbook_networks, textbook_step
from ganforge.training.log import RunningStats
from ganforge.training.loop import build_trainer

NOISE_SEED = 12345


def path_folder(path: str, config: str | None) -> str:
    """A path's cache folder under --out: the textbook's recipe is fixed; ganforge's is --config's."""
    return path if path == "textbook" or config in (None, "default") else f"{path}-{Path(config).stem}"


def mark_key(path: str, config: str | None, n: int) -> str:
    """What a cached mark's samples depend on besides the minutes, as stored in its .npz."""
    recipe = None if path == "textbook" else config or "default"
    return json.dumps({"path": path, "config": recipe, "n": n, "noise_seed": NOISE_SEED}, sort_keys=True)


def cached_mark(folder: Path, minutes: float, key: str) -> dict | None:
    """The samples, seconds, steps (and threads, where recorded) cached for this mark when they were made as
    `key` says, else None."""
    f = folder / f"mark_{minutes:g}.npz"
    if not f.is_file():
        return None
    with np.load(f) as data:
        if "key" not in data or str(data["key"]) != key:
            return None
        return {name: data[name] for name in ("x", "seconds", "steps", "threads") if name in data}


def fixed_noise(n: int, z_dim: int) -> torch.Tensor:
    return torch.randn(n, z_dim, generator=torch.Generator().manual_seed(NOISE_SEED))


def train_with_marks(path: str, cfg, marks_s: list[float], n: int, folder: Path, key: str,
                     save_run: Path | None = None) -> None:
    """Train one path, writing folder/mark_<minutes>.npz (uint8 samples, and `key`) at each wall-clock mark;
    the ganforge path, with save_run, also leaves a run folder there (config and the last mark's checkpoint)
    for `ganforge eval`, `sample` and `explore`."""
    folder.mkdir(parents=True, exist_ok=True)
    dataset = runs.load_data(cfg)
    z = fixed_noise(n, cfg.family["z_dim"])
    if path == "ganforge":
        cfg = runs.resolved(cfg)
        trainer = build_trainer(cfg, dataset)
        stats = RunningStats()
        step = lambda: trainer.train_step(stats)

        def draw() -> torch.Tensor:
            return trainer.family.generator()(trainer.family.noise(n, torch.Generator()) | {"z": z})
    else:
        torch.manual_seed(cfg.train.seed)
        device = torch.device("cpu")
        netG, netD, optG, optD = textbook_networks(cfg, tuple(dataset.x.shape[1:]), device)
        batches = epochs(loader := textbook_loader(dataset, cfg.train.batch_size, 2, device), iter(loader))

        def step() -> None:
            real, _ = next(batches)
            textbook_step(netG, netD, optG, optD, real, cfg.family["z_dim"], device)

        @torch.no_grad()
        def draw() -> torch.Tensor:
            netG.eval()
            try:
                return torch.cat([netG(part) for part in z.split(500)])
            finally:
                netG.train()
    trained, steps = 0.0, 0
    for mark in marks_s:
        while trained < mark:
            started = time.perf_counter()
            step()
            trained += time.perf_counter() - started
            steps += 1
        images = viz.to_uint8(draw().cpu()).numpy()  # the clock is stopped while sampling
        np.savez(folder / f"mark_{mark / 60:g}.npz", x=images, seconds=trained, steps=steps, key=key,
                 threads=torch.get_num_threads())
        print(f"{path}: {mark / 60:g} min of training, step {steps}", flush=True)
    if save_run is not None and path == "ganforge":
        runs.write_run_files(save_run, cfg, dataset)
        print(f"wrote {trainer.save(save_run)}")


def score(out: Path, folders: dict[str, str], keys: dict[str, str], marks_min: list[float], n: int) -> dict:
    """{folder: {minutes: fd_classifier and steps}} of every mark cached for each path's key."""
    real = runs.load_data(runs.with_split(load_config(None), "test")).x[:n]
    extractor = build_extractor("classifier", "fashion-mnist")
    table: dict = {}
    for path, folder in folders.items():
        for m in marks_min:
            data = cached_mark(out / folder, m, keys[path])
            if data is None:
                continue
            fake = torch.from_numpy(data["x"])
            values, _ = score_images(real, fake, ("fid",), extractor)
            table.setdefault(folder, {})[m] = {"fd_classifier": values["fd_classifier"], "steps": int(data["steps"]),
                                               "threads": int(data["threads"]) if "threads" in data else None}
    return table


def save_strip(folder: Path, key: str, marks_min: list[float], path_png: Path, per_mark: int = 10) -> None:
    """One row per mark of the path's first samples (the same noise in every row): how the samples change
    over training; for progan, the resolution growing."""
    rows = [data["x"][:per_mark] for m in marks_min if (data := cached_mark(folder, m, key)) is not None]
    viz.save_grid(torch.from_numpy(np.concatenate(rows)), path_png, nrow=per_mark, upscale=2)
    print(f"wrote {path_png} (rows: {', '.join(f'{m:g}' for m in marks_min)} min)")


def threads_said(table: dict) -> str:
    """The threads each path trained on, as its marks recorded them (not the scoring process's)."""
    found = {row.get("threads") for rows in table.values() for row in rows.values()}
    if len(found) != 1 or None in found:
        return "threads not recorded"
    n = found.pop()
    return f"{n} thread" + ("s" if n > 1 else "") + " per path"


def first_time_at_or_below(rows: dict, target: float) -> float | None:
    """The first mark (minutes) whose FD is at or below target, linearly interpolated between marks."""
    marks = sorted(rows)
    for i, m in enumerate(marks):
        fd = rows[m]["fd_classifier"]
        if fd <= target:
            if i == 0:
                return m
            m0, fd0 = marks[i - 1], rows[marks[i - 1]]["fd_classifier"]
            return m0 + (m - m0) * (fd0 - target) / (fd0 - fd)
    return None


def plot(table: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, rows in table.items():
        marks = sorted(rows)
        ax.plot(marks, [rows[m]["fd_classifier"] for m in marks], marker="o", label=name)
    ax.set(xscale="log", yscale="log", xlabel=f"minutes of training ({threads_said(table)})",
           ylabel="fd_classifier (2,000 samples)",
           title="time to quality, Fashion-MNIST 10k")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--marks", default="1,2,4,8,15,30", help="wall-clock marks in minutes of training")
    p.add_argument("--paths", default="textbook,ganforge")
    p.add_argument("--config", default=None, help="ganforge's recipe (default: the default preset)")
    p.add_argument("--out", default="runs/time-to-quality")
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--plot", default="docs/images/time-to-quality.png")
    p.add_argument("--score-only", action="store_true", help="train nothing: score the marks already cached")
    p.add_argument("--save-run", metavar="DIR", help="the ganforge path's run folder, saved at the last mark")
    p.add_argument("--strip", metavar="PNG", help="a picture of the last path's first samples, a row per mark")
    return p


def main() -> None:
    args = build_parser().parse_args()
    marks = [float(m) for m in args.marks.split(",")]
    paths = args.paths.split(",")
    out = Path(args.out)
    folders = {path: path_folder(path, args.config) for path in paths}
    keys = {path: mark_key(path, args.config, args.n) for path in paths}
    for path in paths:
        if args.score_only or all(cached_mark(out / folders[path], m, keys[path]) is not None for m in marks):
            continue
        if path == "textbook":  # the example's recipe on the default preset's networks and data
            cfg = load_config(None, ["train.batch_size=64", "optim.g.lr=2e-4", "optim.d.lr=2e-4",
                                     "train.ema=0", "eval.every=0"])
        else:
            cfg = load_config(args.config, ["eval.every=0"])
        train_with_marks(path, cfg, [m * 60 for m in marks], args.n, out / folders[path], keys[path],
                         Path(args.save_run) if args.save_run else None)
    table = score(out, folders, keys, marks, args.n)
    (out / "table.json").write_text(json.dumps(table, indent=1))
    print(f"\nfd_classifier of {args.n:,} samples vs {args.n:,} Fashion-MNIST test images, at minutes of training "
          f"on this machine ({threads_said(table)})")
    print(f"{'minutes':>8s}" + "".join(f"{folders[p_]:>22s}" for p_ in paths))
    for m in marks:
        cells = [table.get(folders[p_], {}).get(m) for p_ in paths]
        print(f"{m:8g}" + "".join(f"{c['fd_classifier']:12.2f} ({c['steps']:>6,} st)" if c else f"{'-':>22s}"
                                  for c in cells))
    if "textbook" in folders and "ganforge" in folders and {folders["textbook"], folders["ganforge"]} <= set(table):
        last = max(table["textbook"])
        target = table["textbook"][last]["fd_classifier"]
        reach = first_time_at_or_below(table[folders["ganforge"]], target)
        said = f"after {reach:.1f} min ({reach / last:.2f} of the time)" if reach is not None else "not within the marks"
        print(f"ganforge reaches the textbook's {last:g}-minute fd_classifier {target:.2f}: {said}")
    if args.plot:
        plot(table, Path(args.plot))
        print(f"wrote {args.plot}")
    if args.strip:
        save_strip(out / folders[paths[-1]], keys[paths[-1]], marks, Path(args.strip))


if __name__ == "__main__":
    main()
