"""`ganforge project`: the code whose sample reproduces each of a user's images (projection, GAN inversion), for
any run whose Generator Projects (ganforge.projection does the optimisation).

Each image is read in the run's channels (another size is cropped to the run's aspect at its centre and
resized), and written under its own name: NAME.npz, its code (the network's inputs, which `g(codes)` and
`ganforge explore --codes` take, and under "about" a JSON description), NAME.png, the image and its
reconstruction side by side, and with --gif NAME.gif, the reconstruction along the optimisation. Default
output: RUN/projected/ (a folder's images: RUN/projected/<folder name>/, relative names kept). Nothing is
replaced without --force, and nothing is written when an input fails.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from ganforge import runs, viz
from ganforge.data.folder import input_images
from ganforge.errors import UserError
from ganforge.files import atomic_folder
from ganforge.generator import Generator
from ganforge.projection import BATCH, STEPS, WEIGHTS, Projection, check_space, parse_weights, project
from ganforge.translating import read_image

HELP = "find the codes whose samples reproduce your images (projection), to explore and edit them"
DESCRIPTION = ("Project an image, or every image in a folder, into a run's latent space: the code whose sample "
               "comes nearest it, found by optimisation (Karras et al. 2020's projector; StyleGAN runs in W or W+, "
               "AAE and VAE-GAN runs from their encoder's code). Writes NAME.npz (the code, for `ganforge explore "
               "--codes`), NAME.png (the image beside its reconstruction) and with --gif NAME.gif; default "
               "RUN_DIR/projected/. Existing files are never replaced without --force.")
GIF_FRAMES = 24  # reconstructions kept along the optimisation for --gif


def add_arguments(p) -> None:
    """`ganforge project`'s own options (the command adds RUN_DIR, --out, --force, --checkpoint, --device)."""
    p.add_argument("--input", required=True, metavar="IMAGE|FOLDER", help="an image file or a folder of images")
    p.add_argument("--steps", type=int, default=STEPS, metavar="N", help=f"Adam steps (default {STEPS})")
    p.add_argument("--space", choices=("z", "w", "w+"), help="the code optimised: z, or a stylegan run's w (one "
                                                             "for every layer, its default) or w+ (one per layer)")
    p.add_argument("--class", dest="class_name", metavar="K", help="conditional runs: the images' class (an index "
                                                                     "or a name); default: found per image")
    p.add_argument("--attr", metavar="NAME=0|1,...", help="attribute-conditioned runs: attributes given (the others "
                                                           "found per image)")
    p.add_argument("--distance", metavar="NAME=W,...",
                   help="weights of the distance's parts: pixels (squared error), critic (the run's discriminator's "
                        "features), classifier (the domain classifier's, MNIST and Fashion-MNIST); default "
                        + ",".join(f"{k}={v:g}" for k, v in WEIGHTS.items()))
    p.add_argument("--batch", type=int, default=BATCH, metavar="N", help=f"images optimised together (default {BATCH})")
    p.add_argument("--seed", type=int, default=0, help="the pool's and the noise's seed (default 0)")
    p.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"),
                   help="the networks' arithmetic while optimising: auto (default) is bf16 where the device computes "
                        "it natively (a CPU with AVX512-BF16 or AMX, most GPUs), else fp32; codes stay fp32")
    p.add_argument("--gif", action="store_true", help="also NAME.gif: the reconstruction along the optimisation")


def main(args) -> int:
    """`ganforge project ARGS`: project, write, print what was written."""
    share_cpu(args.device)
    written = project_files(args.run_dir, args.input, args.out, args.steps, args.space, args.class_name,
                            args.distance, args.batch, args.seed, args.gif, args.checkpoint, args.device, args.force,
                            precision=args.precision, attrs=args.attr)
    if len(written) <= 3:
        print("\n".join(f"wrote {p}" for p in written))
    else:
        kinds = "codes (.npz), images beside their reconstructions (.png)" + (" and GIFs" if args.gif else "")
        print(f"wrote {len(written) // (3 if args.gif else 2):,} {kinds} under "
              f"{os.path.commonpath([str(p.parent) for p in written])}/")
    return 0


def share_cpu(device: str) -> None:
    """On a CPU that other work keeps busy, project on the cores it leaves free, as `ganforge train` does
    (cpu_share): threads that wait for one another on busy cores make each step several times slower."""
    from ganforge import cpu_share
    from ganforge.runtime import resolve_device

    if resolve_device(device).type != "cpu":
        return
    cores = torch.get_num_threads()
    busy = cpu_share.other_busy_cores()
    threads, _ = cpu_share.threads_for(0, cores, busy)
    if threads is not None and threads < cores:
        torch.set_num_threads(threads)
        print(f"note: the machine is busy (other work keeps {busy:.1f} of its {cores} cores busy): projecting on "
              f"{threads} of them")


def read_inputs(files: list[Path], shape: tuple[int, ...]) -> tuple[torch.Tensor, int]:
    """uint8 N x C x H x W in the run's shape, and how many were resized; a bad file is refused by name."""
    channels, height, width = shape
    images, resized = [], 0
    for path in files:
        x = read_image(path, channels)
        if tuple(x.shape[1:]) != (height, width):  # centre crop to the run's aspect, then resize
            picture = Image.fromarray(x.permute(1, 2, 0).numpy().squeeze(2) if channels == 1 else
                                      x.permute(1, 2, 0).numpy())
            picture = ImageOps.fit(picture, (width, height), Image.Resampling.LANCZOS)
            x = torch.from_numpy(np.array(picture, copy=True)).view(height, width, channels).permute(2, 0, 1)
            resized += 1
        images.append(x)
    return torch.stack(images), resized


def targets_for(run_dir: Path, source: Path, out: Path | str | None) -> tuple[list[Path], Path, list[Path]]:
    """(the input files, the output folder, each file's output stem in it)."""
    files = input_images(source)
    if source.is_dir():
        folder = Path(out) if out is not None else run_dir / "projected" / source.resolve().name
        stems = [p.relative_to(source).with_suffix("") for p in files]
    else:
        stems = [Path(source.stem)]
        folder = Path(out) if out is not None else run_dir / "projected"
    inputs = {(source if source.is_dir() else source.parent).resolve()}
    if folder.resolve() in inputs:
        raise UserError(f"--out {folder}: that is where the inputs are; give another folder")
    seen: dict[Path, Path] = {}
    for path, stem in zip(files, stems):
        if stem in seen:
            raise UserError(f"{seen[stem]} and {path} would both be written as {named(stem, '.npz')}; rename one")
        seen[stem] = path
    return files, folder, stems


def project_files(run_dir: Path | str, source: Path | str, out: Path | str | None = None, steps: int = STEPS,
                  space: str | None = None, class_name: str | None = None, distance: str | dict | None = None,
                  batch: int = BATCH, seed: int = 0, gif: bool = False, checkpoint: str | None = None,
                  device: str = "auto", force: bool = False, progress: bool = True,
                  precision: str = "auto", attrs: str | None = None) -> list[Path]:
    """Project an image file or every image in a folder (recursively, names kept) and write each one's code,
    picture and optionally GIF (see the module's docstring). Returns the files written."""
    run_dir = runs.require_run(run_dir)
    files, folder, stems = targets_for(run_dir, Path(source), out)
    suffixes = (".npz", ".png", ".gif") if gif else (".npz", ".png")
    targets = [folder / named(stem, s) for stem in stems for s in suffixes]
    taken = [t for t in targets if t.exists()]
    if taken and not force:
        raise UserError(f"{taken[0]} exists ({len(taken)} of the outputs do); pass --force to replace them")
    g = runs.load_generator(run_dir, checkpoint, device)
    space = check_space(g, space)
    weights = parse_weights(distance)
    images, resized = read_inputs(files, tuple(g.spec.shape))  # every input read before any work
    if resized and progress:
        print(f"note: {resized} of {len(files)} images resized to {g.spec.shape[2]}x{g.spec.shape[1]} (the run's "
              "size, centre crop)")
    options = {k: v for k, v in (("class", class_name), ("attr", attrs)) if v is not None}
    result = project(g, images, steps, space, options, weights, batch, seed, GIF_FRAMES if gif else 0, progress,
                     precision=precision)
    psnr = psnr_db(images, viz.to_uint8(result.images))
    with atomic_folder(folder, replace=False) as tmp:  # filled whole, then moved in: a failure leaves nothing
        for i, (path, stem) in enumerate(zip(files, stems)):
            about = describe(g, run_dir, result, i, path, steps, seed, float(psnr[i]))
            (tmp / stem).parent.mkdir(parents=True, exist_ok=True)
            save_code(tmp / named(stem, ".npz"), {k: v[i : i + 1] for k, v in result.codes.items()}, about)
            pair = torch.stack([images[i].float().div(127.5).sub(1.0), result.images[i]])
            viz.save_grid(pair, tmp / named(stem, ".png"), nrow=2, upscale=upscale(images.shape[-2:]))
            if gif:
                save_gif([images[i], *(f[i] for f in result.frames)], tmp / named(stem, ".gif"), images.shape[-2:])
    if progress:
        print(summary(g, result, psnr))
    return targets


def named(stem: Path, suffix: str) -> Path:
    """An input's output name: its name without its extension, then `suffix` (a.b.png -> a.b.npz)."""
    return stem.with_name(stem.name + suffix)


def psnr_db(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio of uint8 images, per image, in dB."""
    mse = (a.float() - b.float()).pow(2).flatten(1).mean(1).clamp_min(1e-10)
    return 10 * torch.log10(255.0**2 / mse)


def condition_names(g: Generator, c: torch.Tensor) -> list[str]:
    """Each row's class name (one-hot), or the attributes it turns on."""
    names = list(g.spec.attr_names or g.spec.class_names or [str(k) for k in range(c.shape[1])])
    if g.attributes:
        return [", ".join(n for n, on in zip(names, row.tolist()) if on > 0.5) or "none" for row in c]
    return [names[int(k)] for k in c.argmax(1)]


def describe(g: Generator, run_dir: Path, result: Projection, i: int, path: Path, steps: int, seed: int,
             psnr: float) -> dict:
    about = {"input": path.name, "run": str(run_dir), "step": g.step, "family": g.name, "space": result.space,
             "steps": steps, "seed": seed, "distance_weights": result.weights, "precision": result.precision,
             "distance": round(float(result.distance[i]), 6), "psnr_db": round(psnr, 3)}
    if "c" in result.codes:
        about["condition"] = condition_names(g, result.codes["c"][i : i + 1])[0]
    return about


def save_code(path: Path, codes: dict[str, torch.Tensor], about: dict) -> None:
    """An .npz of the network's inputs as float32 arrays and "about", the description as a JSON string."""
    arrays = {k: v.float().numpy() for k, v in codes.items()}
    with open(path, "wb") as f:
        np.savez(f, **arrays, about=np.array(json.dumps(about)))


def load_code(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """The codes of an .npz (`ganforge project`'s, or any of the network's inputs by name) and its description."""
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (OSError, ValueError, EOFError) as e:
        raise UserError(f"{path}: not a readable .npz of codes ({e})") from None
    text = arrays.pop("about", None)
    try:
        about = json.loads(str(text)) if text is not None else {}
    except json.JSONDecodeError:
        about = {}
    codes = {k: torch.from_numpy(a.astype(np.float32)) for k, a in arrays.items() if a.dtype.kind in "fiu" and a.ndim}
    if not codes or len({len(v) for v in codes.values()}) != 1:
        raise UserError(f"{path}: holds no codes (arrays of one row per code, by input name, such as z)")
    return codes, about


def upscale(size: torch.Size) -> int:
    """Small images drawn larger (nearest), so a 28x28 pair reads at a glance."""
    return max(1, min(4, 64 // max(size)))


def save_gif(images: list[torch.Tensor], path: Path, size: torch.Size) -> None:
    """The image beside each snapshot of its reconstruction, a frame each."""
    target = images[0].float().div(127.5).sub(1.0)
    with tempfile.TemporaryDirectory() as tmp:
        frames = []
        for k, shot in enumerate(images[1:]):
            frame = viz.grid_image(torch.stack([target, shot.float()]), nrow=2, upscale=upscale(size))
            frames.append(viz.save_picture(frame, Path(tmp) / f"{k:03d}.png"))
        viz.save_animation(frames, path, duration_ms=120, max_frames=len(frames))


def summary(g: Generator, result: Projection, psnr: torch.Tensor) -> str:
    """One line: how near the reconstructions came, and the conditions found."""
    line = (f"{len(psnr):,} images projected into {result.space} in {g.name} run at step {g.step:,}: PSNR "
            f"{psnr.mean():.2f} dB on average (min {psnr.min():.2f})")
    if "c" in result.codes:
        found = condition_names(g, result.codes["c"])
        counts = {n: found.count(n) for n in dict.fromkeys(found)}
        line += "; conditions: " + "; ".join(f"{n} x{k}" if k > 1 else n for n, k in counts.items())
    return line
